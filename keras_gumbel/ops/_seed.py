"""Turns the `seed` argument of every op into a TF stateless seed.

All noise in the package comes from `tf.random.stateless_uniform` with the
Philox algorithm named explicitly. Philox is what TF picks on CPU and GPU
without XLA; under XLA the automatic choice on CPU is many times slower.
Naming it keeps the same algorithm in every mode, but XLA's Philox code
produces other numbers than TF's kernel: a seed gives the same sample on
every call within one execution mode, not across eager/graph and XLA.
"""

import numpy as np
import tensorflow as tf

from keras_gumbel.ops._checks import invalid

RNG_ALG = "philox"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def stateless_seed(seed):
    """Returns a shape-[2] int64 tensor for the stateless random ops.

    Args:
      seed: `None` (fresh randomness on every call, drawn from TF's global
        `tf.random.Generator`, so also fresh on every call of a `tf.function`
        or XLA-compiled function), a Python int (the same noise every call),
        a shape-[2] integer tensor (a TF stateless seed), a
        `keras.random.SeedGenerator` or a `tf.random.Generator` (both advance
        on every call).

    Returns:
      An int64 tensor of shape [2].
    """
    import keras  # Local import: keras is heavy and only needed here.

    if seed is None:
        return tf.random.get_global_generator().make_seeds(1)[:, 0]
    if isinstance(seed, keras.random.SeedGenerator):
        return tf.cast(seed.next(), tf.int64)
    if isinstance(seed, tf.random.Generator):
        return seed.make_seeds(1)[:, 0]
    if isinstance(seed, bool):
        raise TypeError(invalid("seed", _EXPECTED, seed))
    if isinstance(seed, (int, np.integer)):
        if not _INT64_MIN <= seed <= _INT64_MAX:
            raise ValueError(invalid("seed", "an int that fits in int64", seed))
        return tf.constant([int(seed), 0], dtype=tf.int64)
    if isinstance(seed, (tf.Tensor, tf.Variable, np.ndarray, list, tuple)):
        tensor = tf.convert_to_tensor(seed)
        if not tensor.dtype.is_integer or tensor.shape.as_list() != [2]:
            raise ValueError(
                invalid("seed", "a shape-[2] integer tensor",
                        f"<{tensor.dtype.name} tensor of shape {tensor.shape}>")
            )
        return tf.cast(tensor, tf.int64)
    raise TypeError(invalid("seed", _EXPECTED, seed))


_EXPECTED = ("None, a Python int, a shape-[2] integer tensor, a "
             "keras.random.SeedGenerator or a tf.random.Generator")


def uniform_noise(shape, seed, dtype):
    """Uniform noise in [tiny, 1): never 0, so `log(u)` is always finite.

    The generator's values `v` are multiples of 2**-23 in float32 (2**-52 in
    float64) in [0, 1): never 1, so `log(u)` is never 0 and `log(-log(u))`
    is finite too. `u = max(v, tiny)` is bit for bit what
    `stateless_uniform(minval=tiny, maxval=1)` returns (that computes
    `v * (1 - tiny) + tiny`; `1 - tiny` rounds to 1 and `v + tiny` to `v` for
    every `v > 0`), in one element-wise pass instead of two.
    """
    dtype = tf.as_dtype(dtype)
    v = tf.random.stateless_uniform(shape, seed=seed, dtype=dtype,
                                    alg=RNG_ALG)
    return tf.maximum(v, np.finfo(dtype.as_numpy_dtype).tiny)
