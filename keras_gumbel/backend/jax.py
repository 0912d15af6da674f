"""JAX side of the seam: `jax.random` keys, `jax.custom_gradient`.

A seed is a legacy `uint32[2]` JAX key, the form Keras' own
`SeedGenerator` state takes on JAX, so a layer's generator is threaded
through `jit` by Keras' stateless training step.
"""

import jax
import jax.numpy as jnp
import jax.scipy.special
import keras
import numpy as np

from keras_gumbel._messages import invalid
from keras_gumbel.backend._common import (SEED_EXPECTED, check_int_seed,
                                          gumbel_noise_from_uniform, is_int,
                                          one_hot_argmax,
                                          seed_pair, shape_of, static_rank,
                                          sum_to_shape, xlogy)

__all__ = ["check_positive_at_run_time", "compile_loops", "custom_gradient", "draw_seed", "fold_in", "gumbel_noise",
           "is_variable", "lgamma", "one_hot_argmax", "shape_of",
           "static_rank", "static_value", "sum_to_shape", "uniform", "xlogy"]


def draw_seed(seed):
    """Returns a `uint32[2]` JAX key.

    `None` draws a fresh key from Keras' global seed generator; like Keras,
    that cannot work inside `jax.jit` (a traced function would freeze it):
    pass a `keras.random.SeedGenerator` or a seed tensor there.
    """
    if seed is None:
        try:
            pair = keras.random.randint((2,), 0, 2**31 - 1, dtype="int32")
        except ValueError as error:
            raise ValueError(invalid(
                "seed", "a keras.random.SeedGenerator, an int or a shape-[2] "
                "integer tensor inside a traced (jit-compiled) JAX function, "
                "where fresh global randomness is impossible", seed)
            ) from error
        return jnp.asarray(pair).astype(jnp.uint32)
    if isinstance(seed, keras.random.SeedGenerator):
        return jnp.asarray(seed.next()).astype(jnp.uint32)
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(invalid("seed", SEED_EXPECTED, seed))
    if is_int(seed):
        seed = check_int_seed(seed)
        # [seed, 0] as on TF for 32-bit seeds; the high bits of a larger
        # one go into the second word instead of being lost.
        return jnp.asarray([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF],
                           dtype=jnp.uint32)
    if isinstance(seed, (jax.Array, np.ndarray, list, tuple)):
        return jnp.asarray(seed_pair(seed)).astype(jnp.uint32)
    raise TypeError(invalid("seed", SEED_EXPECTED, seed))


def fold_in(seed, data):
    return jax.random.fold_in(seed, data)


def uniform(shape, seed, dtype):
    """Uniform noise in [tiny, 1) (JAX's values are never 1; tiny for 0)."""
    v = jax.random.uniform(seed, shape, dtype=dtype)
    # `v.dtype`, not `dtype`: without `jax_enable_x64` JAX draws float32 for
    # a float64 request, where float64's tiny would round to 0.
    return jnp.maximum(v, jnp.finfo(v.dtype).tiny)


def gumbel_noise(shape, seed, dtype):
    return gumbel_noise_from_uniform(uniform(shape, seed, dtype))


def lgamma(x):
    """`log |Gamma(x)|` (keras.ops has none)."""
    return jax.scipy.special.gammaln(x)


def custom_gradient(fn):
    """`fn(*args) -> (output, grad)`, `grad(upstream)` -> one grad per arg."""
    return jax.custom_gradient(fn)


def check_positive_at_run_time(tau, name):
    """Values are checked when known (see `_checks`); inside a traced or
    compiled function there is no way to raise, as under XLA on TF."""
    return tau


def static_value(x):
    """The value of a concrete (not traced) array as NumPy, else None."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def is_variable(x):
    return isinstance(x, keras.Variable)


def compile_loops(fn):
    """`fn` compiled once per input shape (`jax.jit`).

    For functions made of `keras.ops` loops: called eagerly, JAX would trace
    and compile every `lax.while_loop` again on each call. Inside `jit` the
    compiled function is traced into the enclosing one.
    """
    return jax.jit(fn)
