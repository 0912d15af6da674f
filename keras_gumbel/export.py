"""Export of models with the package's layers: SavedModel, ONNX, LiteRT.

`export(model, path, format)` is `model.export` (Keras 3) restricted to what
the package supports and tests: a SavedModel (`"tf_saved_model"`), an ONNX
file (`"onnx"`) or a LiteRT flatbuffer (`"litert"`), from the backends that
write each. From the TensorFlow backend every `inference_mode` exports to
each of them; "sample" needs a random op that the target runtime runs:

- SavedModel keeps TF's stateless Philox kernels and the layers' seed state.
- ONNX and LiteRT have no stateless random kernels. While Keras' ONNX or
  LiteRT exporter traces the model, the layers draw their noise with TF's
  stateful `RandomUniform` op instead, which tf2onnx writes as ONNX
  `RandomUniformLike` and the LiteRT converter as the built-in
  `RANDOM_UNIFORM`: the artifact samples with fresh noise on every call.
  Training and SavedModel serving are unchanged.

Off TensorFlow, `export` serves what was measured to work and refuses the
rest at the start, with a `ValueError` that names the layer or the format
and gives the route that works: save the model as a `.keras` file, reload
it under TensorFlow and export there. It never writes an artifact that
fails when it is loaded or called. `exporting_to` selects the runtime noise
for conversions written by hand. See docs/export.md.

`GumbelSinkhorn`'s "matching" mode runs the assignment's loops in the
graph: SavedModel, ONNX (`Loop`) and LiteRT (`WHILE`) from TensorFlow and
the SavedModel from JAX carry them; from PyTorch the ONNX exporter would
trace them for one input (or fail), so `export` refuses that mode there.
"""

import contextlib

from keras_gumbel import backend
from keras_gumbel._messages import invalid
from keras_gumbel.layers._base import find_layers

__all__ = ["export", "exporting_to", "FORMATS", "RUNTIME_FORMATS"]

FORMATS = ("tf_saved_model", "onnx", "litert")
"""The formats `export` writes, the ones keras_gumbel supports and tests.
Keras' other `model.export` formats (`"openvino"`, `"torch"`) are not
tested with the package's layers: `export` refuses them."""

RUNTIME_FORMATS = ("onnx", "litert")
"""The formats served by their own runtimes (ONNX Runtime, LiteRT), where
"sample" mode needs the runtime's random op."""

# (backend, format) pairs that no model with the package's layers exports
# to, and why (measured with Keras 3.15.1, JAX 0.10, torch 2.13; see
# docs/export.md). Every other pair off TensorFlow serves the deterministic
# inference modes.
_UNSERVED = {
    ("jax", "onnx"): (
        "Keras converts JAX to ONNX with the jax2onnx package, which "
        "keras_gumbel neither installs nor supports: jax2onnx 0.17 writes "
        "the package's layers as ONNX files that ONNX Runtime refuses to "
        "load"),
    ("jax", "litert"): (
        "Keras writes LiteRT from the TensorFlow and PyTorch backends only"),
    ("torch", "tf_saved_model"): (
        "Keras' SavedModel export from PyTorch fails in torch.export for "
        "any model, a plain Dense too (Keras 3.15, torch 2.13)"),
    ("torch", "litert"): (
        "Keras converts PyTorch to LiteRT with the litert-torch package, "
        "which keras_gumbel neither installs nor tests"),
}

# Why "sample" mode does not export from a backend that serves the
# deterministic modes.
_NO_SAMPLE = {
    ("jax", "tf_saved_model"): (
        "Keras fails at export, tracing the sample's custom gradient under "
        "jax2tf"),
    ("torch", "onnx"): (
        "torch.onnx writes no random op that ONNX Runtime draws from"),
}

# The route that works for every format and mode, from any backend.
_ROUTE = (
    "Export from the TensorFlow backend, which serves every format and "
    "inference mode: save the model (model.save('model.keras')), load it "
    "with KERAS_BACKEND=tensorflow (keras.saving.load_model), call it once "
    "and export it there.")


def export(model, filepath, format="tf_saved_model", verbose=None,
           **kwargs):
    """Exports `model` for inference, as `model.export` does.

    Each layer of the package serves its `inference_mode`. With
    `inference_mode="sample"`, ONNX and LiteRT artifacts exported from the
    TensorFlow backend draw fresh noise on every call from their runtime's
    own random op. ONNX nodes are seeded from the layer's `seed` (or a seed
    drawn at export when it is `None`), so every new ONNX Runtime session
    replays the same stream, as a loaded SavedModel starts from its saved
    generator state; LiteRT seeds its op from the system whenever it
    allocates tensors, so every interpreter draws new noise.

    From JAX, only `"tf_saved_model"` is written, and from PyTorch only
    `"onnx"`, both in the deterministic inference modes (and from JAX
    without `GumbelTopK`); everything else is refused before anything is
    traced or written (see docs/export.md). A model trained on JAX or
    PyTorch exports everywhere from TensorFlow through its `.keras` file.

    Args:
      model: a Keras model that has been called (built).
      filepath: where to write: a directory for `"tf_saved_model"`, a file
        for `"onnx"` and for `"litert"` (ending in `.tflite`).
      format: one of `FORMATS`: `"tf_saved_model"`, `"onnx"` or
        `"litert"`.
      verbose: as in `model.export`.
      **kwargs: passed to `model.export` (e.g. `input_signature`,
        `opset_version`, or on JAX `jax2tf_kwargs`).

    Raises:
      ValueError: `format` is not one of `FORMATS`; or the backend cannot
        write `format` (from JAX: `"onnx"`, `"litert"`; from PyTorch:
        `"tf_saved_model"`, `"litert"`); or a layer has
        `inference_mode="sample"` off TensorFlow; or, in a SavedModel from
        JAX, the model has a `GumbelTopK` layer (its SavedModel would fail
        when called); or, in ONNX from PyTorch, a `GumbelSinkhorn` layer has
        `inference_mode="matching"` (a loop its exporter cannot write). The message names the format or the layer and its
        mode, and gives the route that works.
    """
    if format not in FORMATS:
        raise ValueError(invalid(
            "format", f"one of {FORMATS} (the formats keras_gumbel supports "
            f"and tests; Keras' other formats are model.export's, untested "
            f"with these layers)", format))
    if backend.NAME != "tensorflow":
        _check_served(model, format)
    elif format in RUNTIME_FORMATS:
        with exporting_to(format):
            return model.export(filepath, format=format, verbose=verbose,
                                **kwargs)
    return model.export(filepath, format=format, verbose=verbose, **kwargs)


def _check_served(model, format):
    """Raises unless the current (non-TF) backend exports `model` to
    `format`."""
    reason = _UNSERVED.get((backend.NAME, format))
    if reason is not None:
        raise ValueError(
            f"Cannot export to format='{format}' from the {backend.NAME} "
            f"backend: {reason}. {_ROUTE}")
    if backend.NAME == "jax" and format == "tf_saved_model":
        _check_no_top_k(model)
    if backend.NAME == "torch":
        _check_no_matching(model, format)
    _check_deterministic(model, format)


@contextlib.contextmanager
def exporting_to(format):
    """Traces models for ONNX Runtime or LiteRT (TensorFlow backend).

    `model.export` and `export` need no help. Use this context where you
    convert yourself, e.g. with `tf2onnx.convert.from_function` or
    `tf.lite.TFLiteConverter.from_concrete_functions`: functions traced
    inside it draw noise with the runtime's own random op instead of TF's
    stateless kernels (which neither runtime has).

    Args:
      format: `"onnx"` or `"litert"`.

    Example:
    >>> import tensorflow as tf
    >>> import keras_gumbel as kg
    >>> layer = kg.layers.GumbelSoftmax(seed=1)
    >>> fn = tf.function(lambda x: layer(x, training=False))
    >>> with kg.export.exporting_to("litert"):
    ...     graph = fn.get_concrete_function(
    ...         tf.TensorSpec([None, 4], tf.float32)).graph
    >>> "RandomUniform" in {op.type for op in graph.get_operations()}
    True
    """
    if format not in RUNTIME_FORMATS:
        raise ValueError(invalid("format", f"one of {RUNTIME_FORMATS}",
                                 format))
    if backend.NAME != "tensorflow":
        raise ValueError(
            f"exporting_to() traces TensorFlow functions; the Keras backend "
            f"is {backend.NAME!r}. Set KERAS_BACKEND=tensorflow.")
    from keras_gumbel.backend import _tf_export

    with _tf_export.exporting_to(format):
        yield


def _check_no_top_k(model):
    """Raises if `model` has a `GumbelTopK` layer (SavedModel from JAX).

    JAX (0.10) writes `lax.top_k` into the SavedModel as a StableHLO
    composite op that TensorFlow's `XlaCallModule` (TF 2.21) cannot read:
    the SavedModel would be written and then fail when called, in every
    mode of the layer.
    """
    from keras_gumbel.layers.gumbel_top_k import GumbelTopK

    for layer in find_layers(model):
        if not isinstance(layer, GumbelTopK):
            continue
        raise ValueError(
            f"Cannot export layer '{layer.name}' (GumbelTopK) with "
            f"inference_mode='{layer.inference_mode}' to "
            f"format='tf_saved_model' from the jax backend: JAX writes its "
            f"top_k as a StableHLO composite op that TensorFlow's "
            f"XlaCallModule cannot read (JAX 0.10, TF 2.21), so the "
            f"SavedModel would fail when called. From this backend, "
            f"format='tf_saved_model' serves none of GumbelTopK's inference "
            f"modes {list(GumbelTopK.INFERENCE_MODES)}. {_ROUTE}")


def _check_no_matching(model, format):
    """Raises if a `GumbelSinkhorn` layer serves "matching" (from torch).

    The exact matching is a data-dependent loop: PyTorch's exporter traces
    Python loops for the example input (or fails), so an artifact would
    hold a fixed number of steps and be wrong for other inputs.
    """
    from keras_gumbel.layers.gumbel_sinkhorn import GumbelSinkhorn

    for layer in find_layers(model):
        if (isinstance(layer, GumbelSinkhorn)
                and layer.inference_mode == "matching"):
            raise ValueError(
                f"Cannot export layer '{layer.name}' (GumbelSinkhorn) with "
                f"inference_mode='matching' to format='{format}' from the "
                f"torch backend: the exact matching is a data-dependent "
                f"loop, which PyTorch's exporter cannot write into the "
                f"graph. From this backend, format='{format}' serves "
                f"inference_mode='sinkhorn'. {_ROUTE}")


def _check_deterministic(model, format):
    """Raises unless every layer of the package in `model` is deterministic.

    Used off TensorFlow, where no exporter writes a model that samples.
    """
    for layer in find_layers(model):
        if getattr(layer, "inference_mode", None) != "sample":
            continue
        modes = [m for m in type(layer).INFERENCE_MODES if m != "sample"]
        raise ValueError(
            f"Cannot export layer '{layer.name}' ({type(layer).__name__}) "
            f"with inference_mode='sample' to format='{format}' from the "
            f"{backend.NAME} backend: "
            f"{_NO_SAMPLE[(backend.NAME, format)]}, so no artifact could "
            f"sample. From this backend, format='{format}' serves the "
            f"deterministic inference modes {modes}: set one of them, or "
            f"keep 'sample' and export from TensorFlow. {_ROUTE}")
