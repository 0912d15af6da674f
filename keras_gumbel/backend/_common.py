"""Backend-neutral defaults of the seam, written with `keras.ops`.

The JAX and PyTorch modules use these as they are; TensorFlow replaces a
few with kernels tuned for its graph and XLA compilers.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_gumbel._messages import invalid

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MASK64 = 2**64 - 1


def splitmix64(value):
    """SplitMix64's step and finalizer: a bijective hash of a 64-bit int."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)

SEED_EXPECTED = ("None, a Python int, a shape-[2] integer tensor or a "
                 "keras.random.SeedGenerator")


def check_int_seed(seed):
    """Checks a Python/NumPy int seed fits in int64 and returns it."""
    if not INT64_MIN <= seed <= INT64_MAX:
        raise ValueError(invalid("seed", "an int that fits in int64", seed))
    return int(seed)


def seed_pair(seed, expected=SEED_EXPECTED):
    """A shape-[2] integer tensor or sequence, checked; returns a tensor."""
    tensor = ops.convert_to_tensor(seed)
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if "int" not in dtype or tuple(tensor.shape) != (2,):
        raise ValueError(invalid(
            "seed", "a shape-[2] integer tensor",
            f"<{dtype} tensor of shape {tuple(tensor.shape)}>"))
    return tensor


def is_int(value):
    return (isinstance(value, numbers.Integral)
            and not isinstance(value, (bool, np.bool_)))


def gumbel_noise_from_uniform(u):
    """`-log(-log(u))` for `u` in `[tiny, 1)`: finite."""
    return -ops.log(-ops.log(u))


def one_hot_argmax(z, axis, dtype):
    """`one_hot(argmax(z, axis))` along the non-negative `axis`, in `dtype`.

    Exactly one entry is 1 even when values tie (the first maximum wins).
    """
    index = ops.argmax(z, axis=axis)
    rank = len(z.shape)
    y = ops.one_hot(index, z.shape[axis], axis=-1, dtype=dtype)
    if axis == rank - 1:
        return y
    # Categories last, then moved to `axis` by an explicit permutation: on
    # torch, Keras' `one_hot(axis=axis)` moves them with a transpose that
    # torch.onnx writes with a negative `perm`, which ONNX Runtime refuses.
    return ops.transpose(
        y, list(range(axis)) + [rank - 1] + list(range(axis, rank - 1)))


def xlogy(x, y):
    """`x * log(y)`, 0 where `x == 0` (also its gradient), as `tf.math.xlogy`."""
    zero = x == 0
    safe_y = ops.where(zero, ops.ones_like(y), y)
    return ops.where(zero, ops.zeros_like(x), x * ops.log(safe_y))


def sum_to_shape(grad, like):
    """Sums a broadcast gradient back to the shape of `like` (same rank)."""
    shape = tuple(like.shape)
    if len(shape) == 0:
        return ops.sum(grad)
    axes = tuple(i for i, (a, b) in enumerate(zip(shape, grad.shape))
                 if a == 1 and b != 1)
    return ops.sum(grad, axis=axes, keepdims=True) if axes else grad


def static_rank(x):
    return len(x.shape)


def shape_of(x, leading=()):
    """The shape of `x` with `leading` dimensions in front, as a tuple."""
    return tuple(leading) + tuple(x.shape)
