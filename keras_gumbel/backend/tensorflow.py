"""TensorFlow side of the seam: Philox noise, `tf.custom_gradient`, XLA care.

All noise comes from `tf.random.stateless_uniform` with the Philox algorithm
named explicitly. Philox is what TF picks on CPU and GPU without XLA; under
XLA the automatic choice on CPU is many times slower. Naming it keeps the
same algorithm in every mode, but XLA's Philox code produces other numbers
than TF's kernel: a seed gives the same sample on every call within one
execution mode, not across eager/graph and XLA.

ONNX Runtime and LiteRT have no stateless random kernels. While a model is
traced for those formats (inside Keras' ONNX or LiteRT exporter, or inside
`exporting_to`), noise comes instead from TF's stateful `RandomUniform`
op, which tf2onnx turns into ONNX `RandomUniformLike` and the LiteRT
converter into the built-in `RANDOM_UNIFORM`: the exported model draws fresh
noise on every call. Seeds are then Python ints that become the ONNX ops'
seeds (LiteRT seeds its ops itself, see `_runtime_uniform`). Training,
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

RNG_ALG = "philox"

_EXPECTED = ("None, a Python int, a shape-[2] integer tensor, a "
             "keras.random.SeedGenerator or a tf.random.Generator")


def draw_seed(seed):
    """Returns a shape-[2] int64 tensor for the stateless random ops.

    `None` draws from TF's global `tf.random.Generator`, so it is fresh on
    every call, also of a `tf.function` or XLA-compiled function. A
    `keras.random.SeedGenerator` or `tf.random.Generator` advances.

    While tracing for ONNX or LiteRT: a Python int (see `exporting_to`).
    """
    if export_format() is not None:
        return _runtime_seed(seed)
    if seed is None:
        return tf.random.get_global_generator().make_seeds(1)[:, 0]
    if isinstance(seed, keras.random.SeedGenerator):
        return tf.cast(seed.next(), tf.int64)
    if isinstance(seed, tf.random.Generator):
        return seed.make_seeds(1)[:, 0]
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(invalid("seed", _EXPECTED, seed))
    if is_int(seed):
        return tf.constant([check_int_seed(seed), 0], dtype=tf.int64)
    if isinstance(seed, (tf.Tensor, tf.Variable, np.ndarray, list, tuple)):
        tensor = tf.convert_to_tensor(seed)
        if not tensor.dtype.is_integer or tensor.shape.as_list() != [2]:
            raise ValueError(
                invalid("seed", "a shape-[2] integer tensor",
                        f"<{tensor.dtype.name} tensor of shape {tensor.shape}>")
            )
        return tf.cast(tensor, tf.int64)
    raise TypeError(invalid("seed", _EXPECTED, seed))


def fold_in(seed, data):
    """A seed derived deterministically from `seed` and the int `data`."""
    if isinstance(seed, int):  # A runtime seed (see `exporting_to`).
        return _mix(seed, data)
    return tf.random.experimental.stateless_fold_in(
        seed, tf.constant(data, tf.int64), alg=RNG_ALG)


def _replica_context():
    """`tf.distribute.get_replica_context()` (a seam for tests)."""
    return tf.distribute.get_replica_context()


def replica_fold_in(seed):
    """Folds the replica id into `seed` under a multi-replica strategy.

    Every replica advances the same generator state in lockstep, so without
    this all replicas would draw identical noise.
    """
    ctx = _replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
        replica = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
        seed = tf.random.experimental.stateless_fold_in(seed, replica)
    return seed


def uniform(shape, seed, dtype):
    """Uniform noise in [tiny, 1): never 0, so `log(u)` is always finite.

    The generator's values `v` are multiples of 2**-23 in float32 (2**-52 in
    float64) in [0, 1): never 1, so `log(u)` is never 0 and `log(-log(u))`
    is finite too. `u = max(v, tiny)` is bit for bit what
    `stateless_uniform(minval=tiny, maxval=1)` returns (that computes
    `v * (1 - tiny) + tiny`; `1 - tiny` rounds to 1 and `v + tiny` to `v` for
    every `v > 0`), in one element-wise pass instead of two.
    """
    dtype = tf.as_dtype(dtype)
    if isinstance(seed, int):  # A runtime seed (see `exporting_to`).
        return _runtime_uniform(shape, seed, dtype)
    v = tf.random.stateless_uniform(shape, seed=seed, dtype=dtype,
                                    alg=RNG_ALG)
    return tf.maximum(v, np.finfo(dtype.as_numpy_dtype).tiny)


def gumbel_noise(shape, seed, dtype):
    """Standard Gumbel noise `-log(-log(u))`, finite, in `dtype` (float32/64).

    `u` lies in [tiny, 1) so both logarithms are finite: the values lie in
    about [-4.5, 15.9] in float32 and [-6.6, 36.0] in float64.
    """
    u = uniform(shape, seed, dtype)
    if isinstance(seed, int):  # ONNX and LiteRT have no `Xlogy`.
        return -tf.math.log(-tf.math.log(u))
    # `xlogy(-1, u)` is `-log(u)` bit for bit, in one kernel instead of two
    # (`log`, then `neg`) when not compiled with XLA. The outer negation
    # costs nothing in `x + g`: grappler rewrites `x + (-a)` as `x - a`.
    return -tf.math.log(tf.math.xlogy(tf.constant(-1.0, u.dtype), u))


def one_hot_argmax(z, axis, dtype):
    """`one_hot(argmax(z, axis))` along `axis` (non-negative), in `dtype`.

    Exactly one entry is 1 even when values tie (the first maximum wins).
    """
    if z.dtype in (tf.float16, tf.bfloat16):
        z = tf.cast(z, tf.float32)
    index = tf.argmax(z, axis=axis, output_type=tf.int32)
    if export_format() is not None:
        # tf2onnx converts a boolean `OneHot` of rank > 1 into an invalid
        # ONNX node; a float one is valid (and XLA plays no part there).
        return tf.one_hot(index, tf.shape(z)[axis], axis=axis, dtype=dtype)
    hit = tf.one_hot(index, tf.shape(z)[axis], on_value=True, off_value=False,
                     axis=axis)
    # `z > inf` is always False, so `hit` is unchanged. It is there for XLA:
    # with the arg-max as the only reader of `z`, XLA fuses the computation
    # of `z` (noise generation, logarithms) into the row-wise arg-max loop,
    # which it runs unvectorized on one thread, 3x slower than computing `z`
    # in its own loop; a second, element-wise reader makes XLA compute `z`
    # once in its own loop. (Measured: docs/results.md "Speed"; it costs
    # about 5% on a hard forward pass without XLA.)
    return tf.cast(hit | (z > np.inf), dtype)


def check_positive_at_run_time(tau, name):
    """Adds a graph-time check that `tau` is positive and finite.

    For tensors whose value is unknown when the op is traced (computed inside
    a `tf.function`): the check runs with the graph and raises
    `InvalidArgumentError` naming the argument. XLA drops assertions, so
    under `jit_compile=True` it is not checked (as on JAX).
    """
    if tf.executing_eagerly() or static_value(tau) is not None:
        return tau
    ok = tf.reduce_all((tau > 0) & (tau < np.inf))
    message = (f"Invalid value received for argument `{name}`. Expected "
               f"positive finite values. Received:")
    with tf.control_dependencies([tf.debugging.Assert(ok, [message, tau])]):
        return tf.identity(tau)


def lgamma(x):
    """`log |Gamma(x)|` (keras.ops has none)."""
    return tf.math.lgamma(x)


def custom_gradient(fn):
    """`fn(*args) -> (output, grad)`, `grad(upstream)` -> one grad per arg."""
    return tf.custom_gradient(fn)


def xlogy(x, y):
    return tf.math.xlogy(x, y)


def sum_to_shape(grad, like):
    """Sums a broadcast gradient back to the shape of `like` (as TF does)."""
    shape = tf.shape(like)
    axes, _ = tf.raw_ops.BroadcastGradientArgs(s0=shape, s1=tf.shape(grad))
    return tf.reshape(tf.reduce_sum(grad, axes), shape)


def static_rank(x):
    return x.shape.rank


def static_value(x):
    """The value of a constant tensor as NumPy, else None."""
    if isinstance(x, tf.Variable):
        return None
    return tf.get_static_value(x)


def is_variable(x):
    return isinstance(x, (tf.Variable, keras.Variable))


def shape_of(x, leading=()):
    """The dynamic shape of `x` with `leading` dimensions in front."""
    shape = tf.shape(x)
    if leading:
        shape = tf.concat([tf.constant(leading, tf.int32), shape], 0)
    return shape


# Tracing for ONNX Runtime and LiteRT.

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


def _mix(seed, data):
    """A 63-bit int hashed from the ints `seed` and `data` (SplitMix64)."""
    return splitmix64((seed * 0x9E3779B97F4A7C15 + data) & MASK64) >> 1


def _runtime_seed(seed):
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
        raise TypeError(invalid("seed", _EXPECTED, seed))
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
        return _mix(int(value[0]), int(value[1]))
    raise TypeError(invalid("seed", _EXPECTED, seed))


def _runtime_uniform(shape, seed, dtype):
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
                              seed=1 + _mix(seed, index) % _OP_SEEDS)
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
