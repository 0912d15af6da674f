"""Serving the categorical VAE: serving models, SavedModel export, a check.

`serving_models` turns a trained VAE into two Keras models (images to
one-hot codes, codes to pixel probabilities); `export_and_check` writes them
as SavedModels whose signatures name their tensors, reloads them with
`tf.saved_model.load` and serves a batch (`check_serving`). TensorFlow is
imported only here and only when exporting; without it the export is
skipped with a printed note.
"""

import os

import keras
import numpy as np

from examples.cli import one_line, optional_tensorflow
from keras_gumbel.layers import GumbelSoftmax


def serving_models(vae):
    """Keras models for serving: the encoder to codes, the decoder to pixels.

    The encoder ends in a copy of the sampler with `inference_mode="argmax"`:
    `images [B, D] -> one-hot codes [B, N, K]` (deterministic). The decoder
    maps `codes [B, N, K]` to Bernoulli `probabilities [B, D]`. Both share
    the trained weights.
    """
    config = vae.sampler.get_config()
    config.update(inference_mode="argmax", name="codes")
    to_codes = GumbelSoftmax.from_config(config)
    x = keras.Input(vae.encoder.input_shape[1:], name="images")
    encoder = keras.Model(x, to_codes(vae.encoder(x)), name="encoder_serving")
    z = keras.Input(vae.decoder.input_shape[1:], name="codes")
    probs = keras.layers.Activation("sigmoid", name="probabilities")(
        vae.decoder(z))
    decoder = keras.Model(z, probs, name="decoder_serving")
    return encoder, decoder


def export_saved_model(model, path, tf, input_name, output_name):
    """Exports `model` as a SavedModel whose signature names its tensors.

    The `serve` endpoint (also `serving_default`) takes `input_name` and
    returns `{output_name: ...}`, so `saved_model_cli show --all` explains
    itself. The batch dimension is dynamic. On JAX (through `jax2tf`) the
    endpoint is exported without gradients: serving needs none, and a
    SavedModel with `jax2tf`'s gradient functions warns at every load
    ("Importing a function ... with ops with unsaved custom gradients").
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32,
                         name=input_name)
    options = ({"jax2tf_kwargs": {"with_gradient": False}}
               if keras.backend.backend() == "jax" else {})
    archive.add_endpoint("serve",
                         lambda x: {output_name: model(x, training=False)},
                         input_signature=[spec], **options)
    archive.write_out(path, verbose=False)
    return path


def export_and_check(vae, encoder, decoder, out_dir, valid):
    """Exports `encoder/` and `decoder/` and serves `valid` from them.

    Returns:
      `(paths, serving)`: `{"encoder": path, "decoder": path}` and the
      serving check (see `check_serving`), or `(None, None)` with a printed
      note where TensorFlow is not installed or, off the TensorFlow backend,
      the export fails.
    """
    tf = optional_tensorflow("the SavedModel export")
    if tf is None:
        return None, None
    paths = {"encoder": os.path.join(out_dir, "encoder"),
             "decoder": os.path.join(out_dir, "decoder")}
    try:
        export_saved_model(encoder, paths["encoder"], tf, "images", "codes")
        export_saved_model(decoder, paths["decoder"], tf, "codes",
                           "probabilities")
    except Exception as err:
        if keras.backend.backend() == "tensorflow":
            raise
        print(f"note: SavedModel export failed on the "
              f"{keras.backend.backend()} backend, skipped: {one_line(err)}")
        return None, None
    return paths, check_serving(vae, paths["encoder"], paths["decoder"],
                                valid, tf)


def check_serving(vae, encoder_path, decoder_path, x, tf):
    """Reloads both SavedModels with `tf.saved_model.load` and serves `x`.

    Checks: codes have shape `[B, N, K]`, are exactly one-hot and equal the
    argmax of the in-process encoder; probabilities have shape `[B, D]`,
    lie in [0, 1] and match the in-process decoder (atol 1e-5).

    Returns:
      A dict describing the check (shapes, batch size).

    Raises:
      RuntimeError: a check fails.
    """
    encoder = tf.saved_model.load(str(encoder_path))
    decoder = tf.saved_model.load(str(decoder_path))
    x = np.asarray(x, np.float32)
    codes = encoder.serve(tf.constant(x))["codes"].numpy()
    logits = keras.ops.convert_to_numpy(vae.encoder(x, training=False))
    expected_codes = np.eye(logits.shape[-1], dtype=np.float32)[
        logits.argmax(-1)]
    _raise_if(_code_problem(codes, expected_codes))
    probs = decoder.serve(tf.constant(codes))["probabilities"].numpy()
    expected_probs = keras.ops.convert_to_numpy(
        keras.ops.sigmoid(vae.decoder(expected_codes)))
    _raise_if(_probability_problem(probs, expected_probs))
    return {"batch": int(len(x)), "codes_shape": list(codes.shape),
            "probabilities_shape": list(probs.shape), "ok": True}


def _code_problem(codes, expected):
    """What is wrong with the served codes, or None."""
    if codes.shape != expected.shape:
        return f"codes shape {codes.shape} != {expected.shape}"
    if not (np.isin(codes, (0, 1)).all() and (codes.sum(-1) == 1).all()):
        return "codes are not one-hot"
    if not np.array_equal(codes, expected):
        return "served codes differ from the encoder's argmax"
    return None


def _probability_problem(probs, expected):
    """What is wrong with the served probabilities, or None."""
    if probs.shape != expected.shape:
        return f"probabilities shape {probs.shape} != {expected.shape}"
    if not (np.isfinite(probs).all() and (probs >= 0).all()
            and (probs <= 1).all()):
        return "probabilities outside [0, 1]"
    if not np.allclose(probs, expected, atol=1e-5):
        return "served probabilities differ from the decoder's"
    return None


def _raise_if(problem):
    if problem:
        raise RuntimeError(f"serving check failed: {problem}")
