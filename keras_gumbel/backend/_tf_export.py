"""Tracing for ONNX Runtime and LiteRT, beside the TensorFlow seam.

ONNX Runtime and LiteRT have no stateless random kernels. While a model is
traced for those formats (inside Keras' ONNX or LiteRT exporter, or inside
`exporting_to`), noise comes instead from TF's stateful `RandomUniform`
op, which tf2onnx turns into ONNX `RandomUniformLike` and the LiteRT
converter into the built-in `RANDOM_UNIFORM`: the exported model draws fresh
noise on every call. Seeds are then Python ints that become the ONNX ops'
seeds (LiteRT seeds its ops itself, see `runtime_uniform`). Training,
`tf.function`, XLA and SavedModel keep the stateless kernels.
"""

import contextlib
import random
import sys
import threading
import weakref

import keras
import numpy as np
import tensorflow as tf

from keras_gumbel._messages import invalid
from keras_gumbel.backend._common import (MASK64, check_int_seed, is_int,
                                          splitmix64)

SEED_EXPECTED = ("None, a Python int, a shape-[2] integer tensor, a "
                 "keras.random.SeedGenerator or a tf.random.Generator")

_EXPORTERS = {"keras.src.export.onnx": "onnx",
              "keras.src.export.litert": "litert"}
_LOCAL = threading.local()  # `.format`: set by `exporting_to`.
_DRAWS = weakref.WeakKeyDictionary()  # Runtime draws per traced graph.
_OP_SEEDS = 2**24 - 1  # ONNX keeps a seed as a float32: exact below 2**24.


@contextlib.contextmanager
def exporting_to(format):
    """Traces models for the runtime of `format` ("onnx" or "litert").

    Inside, and while Keras' own ONNX or LiteRT exporter traces a model,
    every noise draw is a stateful `RandomUniform` op (a built-in op of ONNX
    Runtime and LiteRT, which have no stateless Philox kernels) and
    `one_hot_argmax` a plain float one-hot.
    """
    if format == "onnx":
        _register_tf2onnx_handlers()
    outer = getattr(_LOCAL, "format", None)
    _LOCAL.format = format
    try:
        yield
    finally:
        _LOCAL.format = outer


def export_format():
    """"onnx" or "litert" while tracing for that format, else None."""
    format = getattr(_LOCAL, "format", None)
    if format is not None:
        return format
    if tf.executing_eagerly():
        return None  # Exporters trace; an eager call is not an export.
    frame = sys._getframe(1)
    while frame is not None:  # Only while tracing: a few dozen frames.
        format = _EXPORTERS.get(frame.f_globals.get("__name__"))
        if format is not None:
            if format == "onnx":
                _register_tf2onnx_handlers()
            return format
        frame = frame.f_back
    return None


def mix(seed, data):
    """A 63-bit int hashed from the ints `seed` and `data` (SplitMix64)."""
    return splitmix64((seed * 0x9E3779B97F4A7C15 + data) & MASK64) >> 1


def runtime_seed(seed):
    """The Python int seed of the runtime ops for the `seed` argument.

    An int or a constant seed tensor keeps its value; a
    `keras.random.SeedGenerator` gives the int it was created with; `None`
    (and a generator created without one) draws a fresh int at export.
    """
    if isinstance(seed, keras.random.SeedGenerator):
        seed = seed.get_config()["seed"]
    if seed is None or isinstance(seed, tf.random.Generator):
        return random.getrandbits(62)
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(invalid("seed", SEED_EXPECTED, seed))
    if is_int(seed):
        return int(check_int_seed(seed)) & (2**63 - 1)
    if isinstance(seed, (tf.Tensor, tf.Variable, np.ndarray, list, tuple)):
        value = None if isinstance(seed, tf.Variable) else tf.get_static_value(
            seed)
        if value is None:
            raise ValueError(invalid(
                "seed", "None, a Python int, a keras.random.SeedGenerator or "
                "a constant seed tensor when exporting to ONNX or LiteRT "
                "(their random ops take a fixed seed)",
                "<a seed tensor computed in the model>"))
        value = np.asarray(value)
        if value.dtype.kind not in "iu" or value.shape != (2,):
            raise ValueError(invalid(
                "seed", "a shape-[2] integer tensor",
                f"<{value.dtype} tensor of shape {value.shape}>"))
        return mix(int(value[0]), int(value[1]))
    raise TypeError(invalid("seed", SEED_EXPECTED, seed))


def runtime_uniform(shape, seed, dtype):
    """Stateful uniform noise in [tiny, 1 - eps/2] for ONNX and LiteRT.

    ONNX Runtime seeds each random node once per session from its `seed`
    attribute: each draw in a traced graph gets its own op seed (from `seed`
    and the number of draws before it), so no two layers share a stream,
    and a new session replays the artifact's streams. LiteRT re-seeds
    `RANDOM_UNIFORM` whenever its tensors are allocated (every batch-size
    change): with fixed seeds the noise would repeat, so its seeds are 0,
    which makes LiteRT draw fresh seeds from the system each time. The upper
    clamp guards against runtimes whose float generator can round up to 1
    (`log(-log(1))` is infinite); TF's own op never returns 1.
    """
    if export_format() == "litert":
        v = tf.raw_ops.RandomUniform(shape=shape, dtype=dtype, seed=0,
                                     seed2=0)
    else:
        graph = tf.compat.v1.get_default_graph()
        index = _DRAWS.get(graph, 0)
        _DRAWS[graph] = index + 1
        v = tf.random.uniform(shape, dtype=dtype,
                              seed=1 + mix(seed, index) % _OP_SEEDS)
    info = np.finfo(dtype.as_numpy_dtype)
    return tf.clip_by_value(v, info.tiny, 1 - info.epsneg)


def _register_tf2onnx_handlers():
    _register_tf2onnx_log1p()
    _register_tf2onnx_where()


def _register_tf2onnx_where():
    """Makes tf2onnx write every TF `Select` (`where`) as ONNX `Where`.

    tf2onnx 1.17 writes a float `where(c, a, b)` as `c * a + (1 - c) * b`
    unless `a` or `b` is a constant holding inf or NaN: an infinite value
    computed in the graph (`full_like(x, -inf)` in the relaxed top-k loop)
    in the branch not taken then gives `0 * inf = NaN`. `Where` selects
    exactly, as TF does.
    """
    try:
        from tf2onnx import constants, handler
        # Registers tf2onnx's own handlers first, which would replace ours.
        from tf2onnx.onnx_opset import controlflow  # noqa: F401
    except ImportError:  # Keras' exporter will say that it needs tf2onnx.
        return
    opsets = handler.tf_op.get_opsets().get(constants.ONNX_DOMAIN, [])
    if len(opsets) > 9 and "SelectV2" in opsets[9] and getattr(
            opsets[9]["SelectV2"][0], "__self__", None) is _SelectAsWhere:
        return
    handler.tf_op(["Select", "SelectV2"])(_SelectAsWhere)


class _SelectAsWhere:
    """tf2onnx's `Select` handler, told that every input may be infinite."""

    @classmethod
    def version_9(cls, ctx, node, **kwargs):
        from tf2onnx.onnx_opset import controlflow

        node.set_attr("handles_nan", True)  # Dropped from the ONNX node.
        controlflow.Select.version_9(ctx, node, **kwargs)


def _register_tf2onnx_log1p():
    """Teaches tf2onnx `Log1p` (as `Log(1 + x)`), which the logistic noise
    of `relaxed_bernoulli` uses; tf2onnx 1.17 has no handler for it."""
    try:
        from tf2onnx import constants, handler
    except ImportError:  # Keras' exporter will say that it needs tf2onnx.
        return
    if any("Log1p" in ops for ops in handler.tf_op.get_opsets().get(
            constants.ONNX_DOMAIN, [])):
        return

    @handler.tf_op("Log1p")
    class Log1p:  # pylint: disable=unused-variable
        @classmethod
        def version_1(cls, ctx, node, **kwargs):
            del kwargs
            one = ctx.make_const(
                f"{node.name}/one",
                np.array(1, dtype=_onnx_numpy_dtype(ctx, node.input[0])))
            add = ctx.make_node("Add", [node.input[0], one.output[0]])
            node.type = "Log"
            ctx.replace_inputs(node, [add.output[0]])


def _onnx_numpy_dtype(ctx, name):
    from tf2onnx import utils

    return utils.map_onnx_to_numpy_type(ctx.get_dtype(name))
