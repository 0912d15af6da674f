"""Export of models with the package's layers: SavedModel, ONNX, LiteRT.

`model.export(path, format=...)` (Keras 3) writes a SavedModel
(`"tf_saved_model"`), an ONNX file (`"onnx"`) or a LiteRT flatbuffer
(`"litert"`). From the TensorFlow backend every `inference_mode` exports to
each of them; "sample" needs a random op that the target runtime runs:

- SavedModel keeps TF's stateless Philox kernels and the layers' seed state.
- ONNX and LiteRT have no stateless random kernels. While Keras' ONNX or
  LiteRT exporter traces the model, the layers draw their noise with TF's
  stateful `RandomUniform` op instead, which tf2onnx writes as ONNX
  `RandomUniformLike` and the LiteRT converter as the built-in
  `RANDOM_UNIFORM`: the artifact samples with fresh noise on every call.
  Training and SavedModel serving are unchanged.
- From the JAX and PyTorch backends no exporter writes such an op (torch.onnx
  fails on the layer's seeded generator), so `export` refuses "sample" mode
  for ONNX and LiteRT there: a `ValueError` at export, never an artifact
  that fails when it is loaded.
- From JAX, a SavedModel of a model with `GumbelTopK` would be written and
  fail when called (TF cannot read JAX's `top_k`): `export` refuses it.
- `GumbelSinkhorn`'s "matching" mode runs the assignment's loops in the
  graph: SavedModel, ONNX (`Loop`) and LiteRT (`WHILE`) from TensorFlow and
  SavedModel from JAX carry them; from PyTorch the ONNX exporter would
  trace them for one input (or fail), so `export` refuses it there.

`export(model, path, format)` is `model.export` with that check, and it
selects the runtime noise explicitly instead of relying on recognising
Keras' exporters (which `model.export` on TensorFlow does). `exporting_to`
selects it for conversions written by hand. See docs/export.md.
"""

import contextlib

import keras

from keras_gumbel import backend
from keras_gumbel._messages import invalid
from keras_gumbel.layers._base import find_layers

__all__ = ["export", "exporting_to", "RUNTIME_FORMATS"]

#: The formats whose runtimes have no stateless random kernels.
RUNTIME_FORMATS = ("onnx", "litert")
"""The formats served by their own runtimes (ONNX Runtime, LiteRT), where
"sample" mode needs the runtime's random op."""


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

    Args:
      model: a Keras model that has been called (built).
      filepath: where to write: a directory for `"tf_saved_model"`, a file
        for `"onnx"` and for `"litert"` (ending in `.tflite`).
      format: `"tf_saved_model"`, `"onnx"` or `"litert"`; other formats of
        `model.export` are passed on unchecked.
      verbose: as in `model.export`.
      **kwargs: passed to `model.export` (e.g. `input_signature`,
        `opset_version`).

    Raises:
      ValueError: with `format="onnx"` or `"litert"` on the JAX or PyTorch
        backend when a layer has `inference_mode="sample"`: its exporter
        cannot write a random op the runtime draws from. With
        `format="tf_saved_model"` on JAX when the model has a `GumbelTopK`
        layer: its SavedModel would fail when called. With `"onnx"` or
        `"litert"` on PyTorch when a `GumbelSinkhorn` layer has
        `inference_mode="matching"` (a data-dependent loop its exporter
        cannot write). The message names the layer, its mode, and the modes
        that format serves.
    """
    if format not in RUNTIME_FORMATS:
        if backend.NAME == "jax" and format == "tf_saved_model":
            _check_no_top_k(model)
        return model.export(filepath, format=format, verbose=verbose,
                            **kwargs)
    if backend.NAME != "tensorflow":
        if not (backend.NAME == "jax" and format == "litert"):
            # (Keras itself refuses LiteRT from JAX.)
            _check_deterministic(model, format)
        if backend.NAME == "torch":
            _check_no_matching(model, format)
        return model.export(filepath, format=format, verbose=verbose,
                            **kwargs)
    with exporting_to(format):
        return model.export(filepath, format=format, verbose=verbose,
                            **kwargs)


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
            f"modes {list(GumbelTopK.INFERENCE_MODES)}. Export from the "
            f"TensorFlow backend (KERAS_BACKEND=tensorflow), which serves "
            f"them all.")


def _check_no_matching(model, format):
    """Raises if a `GumbelSinkhorn` layer serves "matching" (from torch).

    The exact matching is a data-dependent loop: PyTorch's exporters trace
    Python loops for the example input (or fail), so an artifact would
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
                f"inference_mode='sinkhorn'. Export from the TensorFlow "
                f"backend (KERAS_BACKEND=tensorflow), whose SavedModel, "
                f"ONNX and LiteRT exports carry the matching.")


def _check_deterministic(model, format):
    """Raises unless every layer of the package in `model` is deterministic.

    Used off TensorFlow, where the ONNX and LiteRT exporters cannot sample.
    """
    for layer in find_layers(model):
        if getattr(layer, "inference_mode", None) != "sample":
            continue
        modes = [m for m in type(layer).INFERENCE_MODES if m != "sample"]
        raise ValueError(
            f"Cannot export layer '{layer.name}' ({type(layer).__name__}) "
            f"with inference_mode='sample' to format='{format}' from the "
            f"{keras.backend.backend()} backend: its exporter writes no "
            f"random op that the {format} runtime draws from, so the "
            f"artifact could not sample. From this backend, "
            f"format='{format}' serves the deterministic inference modes "
            f"{modes}. Set one of them, or export from the TensorFlow "
            f"backend (KERAS_BACKEND=tensorflow), whose ONNX and LiteRT "
            f"exports sample.")
