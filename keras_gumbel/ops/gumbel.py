"""The Gumbel distribution: sampling, log-density and CDF."""

import keras
import numpy as np
from keras import ops

from keras_gumbel import backend
from keras_gumbel import _dtypes, _validation

__all__ = ["gumbel_cdf", "gumbel_log_prob", "sample_gumbel"]


def sample_gumbel(shape, loc=0.0, scale=1.0, dtype="float32", seed=None):
    """Draws samples of Gumbel(loc, scale).

    ```
    g = loc - scale * log(-log(u)),   u ~ Uniform(tiny, 1)
    ```

    Args:
      shape: the sample shape, a list of ints or a 1-D int tensor.
      loc: location, broadcastable to `shape`.
      scale: scale, positive, broadcastable to `shape`.
      dtype: a float dtype; float16 and bfloat16 are drawn in float32.
      seed: see `keras_gumbel.ops` (None, int, shape-[2] tensor,
        `keras.random.SeedGenerator`).

    Returns:
      A tensor of `shape` and `dtype` with finite Gumbel samples.

    Example:
    >>> g = sample_gumbel([2, 3], seed=1)
    """
    try:
        dtype = keras.backend.standardize_dtype(dtype)
    except ValueError:
        dtype = str(dtype)
    if dtype not in _dtypes.FLOAT_DTYPES:
        raise TypeError(
            f"Invalid value received for argument `dtype`. Expected a "
            f"floating-point dtype. Received: dtype={dtype}")
    _validation.check_positive_finite(scale, "scale")
    cdt = _dtypes.compute_dtype(dtype)
    if backend.NAME != "tensorflow":  # TF also takes a dynamic shape.
        shape = tuple(int(d) for d in np.reshape(ops.convert_to_numpy(shape),
                                                 [-1]))
    g = backend.gumbel_noise(shape, backend.draw_seed(seed), cdt)
    loc = _dtypes.to_dtype(loc, cdt)
    scale = _dtypes.to_dtype(scale, cdt)
    return ops.cast(loc + scale * g, dtype)


def _standardize(x, loc, scale):
    x = _validation.convert_float_tensor(x, "x")
    _validation.check_positive_finite(scale, "scale")
    _validation.check_broadcast(loc, "loc", x, "x")
    _validation.check_broadcast(scale, "scale", x, "x")
    cdt = _dtypes.compute_dtype(x.dtype)
    loc = _dtypes.to_dtype(loc, cdt)
    scale = _dtypes.to_dtype(scale, cdt)
    return x.dtype, (ops.cast(x, cdt) - loc) / scale, scale


def gumbel_log_prob(x, loc=0.0, scale=1.0):
    """Log-density of Gumbel(loc, scale) at `x`.

    ```
    log p(x) = -(z + exp(-z)) - log(scale),   z = (x - loc) / scale
    ```

    Args:
      x: float tensor of points.
      loc: location, broadcastable to `x`.
      scale: positive scale, broadcastable to `x`.

    Returns:
      The log-density, broadcast shape, dtype of `x`. Matches
      `tfp.distributions.Gumbel(loc, scale).log_prob(x)`.

    Raises:
      ValueError: `loc` or `scale` whose shape does not broadcast with `x`'s,
        a scale that is not positive and finite (when known statically).
    """
    dtype, z, scale = _standardize(x, loc, scale)
    return ops.cast(-(z + ops.exp(-z)) - ops.log(scale), dtype)


def gumbel_cdf(x, loc=0.0, scale=1.0):
    """CDF of Gumbel(loc, scale) at `x`: `exp(-exp(-(x - loc) / scale))`.

    Args:
      x: float tensor of points.
      loc: location, broadcastable to `x`.
      scale: positive scale, broadcastable to `x`.

    Returns:
      The CDF, broadcast shape, dtype of `x`. Matches
      `tfp.distributions.Gumbel(loc, scale).cdf(x)`.

    Raises:
      ValueError: `loc` or `scale` whose shape does not broadcast with `x`'s,
        a scale that is not positive and finite (when known statically).
    """
    dtype, z, _ = _standardize(x, loc, scale)
    return ops.cast(ops.exp(-ops.exp(-z)), dtype)
