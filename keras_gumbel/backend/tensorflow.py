"""TensorFlow side of the seam: Philox noise, `tf.custom_gradient`, XLA care.

All noise comes from `tf.random.stateless_uniform` with the Philox algorithm
named explicitly. Philox is what TF picks on CPU and GPU without XLA; under
XLA the automatic choice on CPU is many times slower. Naming it keeps the
same algorithm in every mode, but XLA's Philox code produces other numbers
than TF's kernel: a seed gives the same sample on every call within one
execution mode, not across eager/graph and XLA.

While a model is traced for ONNX Runtime or LiteRT, which have no stateless
random kernels, seeds and noise come from `_tf_export` instead (see there).
"""

import keras
import numpy as np
import tensorflow as tf

from keras_gumbel._messages import invalid
from keras_gumbel.backend._common import check_int_seed, is_int
from keras_gumbel.backend._tf_export import (SEED_EXPECTED, export_format,
                                             mix, runtime_seed,
                                             runtime_uniform)

RNG_ALG = "philox"


def draw_seed(seed):
    """Returns a shape-[2] int64 tensor for the stateless random ops.

    `None` draws from TF's global `tf.random.Generator`, so it is fresh on
    every call, also of a `tf.function` or XLA-compiled function. A
    `keras.random.SeedGenerator` or `tf.random.Generator` advances, and under
    a multi-replica `tf.distribute` strategy the replica id is folded into
    its seed: every replica advances the same generator state in lockstep,
    and would otherwise draw the same noise.

    While tracing for ONNX or LiteRT: a Python int (see `exporting_to`).
    """
    if export_format() is not None:
        return runtime_seed(seed)
    if seed is None:
        return tf.random.get_global_generator().make_seeds(1)[:, 0]
    if isinstance(seed, keras.random.SeedGenerator):
        return _replica_fold_in(tf.cast(seed.next(), tf.int64))
    if isinstance(seed, tf.random.Generator):
        return _replica_fold_in(seed.make_seeds(1)[:, 0])
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(invalid("seed", SEED_EXPECTED, seed))
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
    raise TypeError(invalid("seed", SEED_EXPECTED, seed))


def fold_in(seed, data):
    """A seed derived deterministically from `seed` and the int `data`."""
    if isinstance(seed, int):  # A runtime seed (see `exporting_to`).
        return mix(seed, data)
    return tf.random.experimental.stateless_fold_in(
        seed, tf.constant(data, tf.int64), alg=RNG_ALG)


def _replica_context():
    """`tf.distribute.get_replica_context()` (a seam for tests)."""
    return tf.distribute.get_replica_context()


def _replica_fold_in(seed):
    """Folds the replica id into `seed` under a multi-replica strategy."""
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
        return runtime_uniform(shape, seed, dtype)
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


def compile_loops(fn):
    """`fn` traced once per input shape into a graph (`tf.function`).

    For functions made of `keras.ops` loops: eagerly, `tf.while_loop` runs
    its body op by op from Python. Inside `tf.function` (XLA included) and
    exported graphs the traced function is called as a graph function.
    """
    return tf.function(fn, autograph=False, reduce_retracing=True)
