"""The Sinkhorn operator and Gumbel-Sinkhorn samples of permutations."""

from keras import ops

from keras_gumbel import _dtypes, _validation, backend
from keras_gumbel.ops._assignment import permutation_matrix
from keras_gumbel.ops._gradients import replace_forward

__all__ = ["gumbel_sinkhorn", "sinkhorn"]


def sinkhorn(log_alpha, n_iters=20):
    """Normalizes the rows and columns of `exp(log_alpha)` alternately.

    The Sinkhorn operator in log space, over the last two axes:
    ```
    x = log_alpha
    repeat n_iters times:
        x = x - logsumexp(x, axis=-1)   # rows sum to 1
        x = x - logsumexp(x, axis=-2)   # columns sum to 1
    S(log_alpha) = exp(x)
    ```
    As `n_iters` grows, `exp(x)` converges to a doubly stochastic matrix
    (Sinkhorn 1964); after any number of iterations its columns sum to 1
    exactly and its rows approximately. Computed in float32 (float64 for
    float64 input) with stable `logsumexp`, so large scores and float16 or
    bfloat16 inputs give no overflow or NaN. Differentiable (the gradient
    goes back through every iteration).

    Args:
      log_alpha: float tensor `[..., n, n]` of scores (any batch shape).
      n_iters: int >= 1, the number of row-and-column normalizations.

    Returns:
      The matrix `exp(x)`, with the shape and dtype of `log_alpha`.

    Example:
    >>> import numpy as np
    >>> p = sinkhorn(np.random.default_rng(0).normal(size=(2, 4, 4)))

    References:
      Mena, Belanger, Linderman, Snoek. Learning Latent Permutations with
      Gumbel-Sinkhorn Networks. ICLR 2018.
    """
    log_alpha = _validation.convert_square_matrices(log_alpha)
    n_iters = _validation.check_int(n_iters, "n_iters", minimum=1)
    x = ops.cast(log_alpha, _dtypes.compute_dtype(log_alpha.dtype))
    return ops.cast(_sinkhorn(x, n_iters), log_alpha.dtype)


def _sinkhorn(x, n_iters):
    for _ in range(n_iters):
        x = x - ops.logsumexp(x, axis=-1, keepdims=True)
        x = x - ops.logsumexp(x, axis=-2, keepdims=True)
    return ops.exp(x)


def gumbel_sinkhorn(log_alpha, temperature=1.0, n_iters=20, hard=False,
                    seed=None, noise_factor=1.0):
    """Draws a Gumbel-Sinkhorn sample: a relaxed random permutation matrix.

    ```
    y = sinkhorn((log_alpha + noise_factor * g) / temperature, n_iters),
    g_ij ~ Gumbel(0, 1) i.i.d.
    ```
    As the temperature goes to 0 (and `n_iters` grows), `y` goes to the
    permutation matrix `matching(log_alpha + noise_factor * g)`, a sample of
    the Gumbel-Matching distribution (Mena et al. 2018). With `hard=True` the
    forward value is that exact permutation matrix, computed in the graph
    (see `matching`), and the gradient is that of `y` for the same noise
    (straight-through). `noise_factor=0` gives plain Sinkhorn of
    `log_alpha / temperature`.

    Args:
      log_alpha: float tensor `[..., n, n]` of scores (any batch shape).
      temperature: positive float, tensor or variable; a tensor broadcasts
        to the batch shape `[...]` (e.g. `[B]` for `[B, n, n]`).
      n_iters: int >= 1, the number of Sinkhorn iterations.
      hard: whether to return exact permutation matrices.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.
      noise_factor: float >= 0, the scale of the Gumbel noise.

    Returns:
      A tensor with the shape and dtype of `log_alpha`: doubly stochastic
      (columns exactly, rows to the Sinkhorn tolerance), or a 0/1
      permutation matrix with `hard=True`.

    Example:
    >>> import numpy as np
    >>> scores = np.random.default_rng(0).normal(size=(8, 5, 5))
    >>> y = gumbel_sinkhorn(scores, temperature=0.5, seed=0)
    >>> p = gumbel_sinkhorn(scores, temperature=0.5, hard=True, seed=0)

    References:
      Mena, Belanger, Linderman, Snoek. Learning Latent Permutations with
      Gumbel-Sinkhorn Networks. ICLR 2018.
    """
    log_alpha = _validation.convert_square_matrices(log_alpha)
    n_iters = _validation.check_int(n_iters, "n_iters", minimum=1)
    hard = _validation.check_bool(hard, "hard")
    noise_factor = _validation.check_float(noise_factor, "noise_factor",
                                           minimum=0)
    cdt = _dtypes.compute_dtype(log_alpha.dtype)
    tau = _matrix_temperature(temperature, cdt, log_alpha)
    seed = backend.draw_seed(seed)
    z = ops.cast(log_alpha, cdt)
    if noise_factor:
        g = backend.gumbel_noise(backend.shape_of(z), seed, cdt)
        z = z + (g if noise_factor == 1.0 else noise_factor * g)
    y = _sinkhorn(z / tau, n_iters)
    if hard:
        # The assignment of `z` is that of `z / tau` (tau > 0).
        y = replace_forward(y, permutation_matrix(z))
    return ops.cast(y, log_alpha.dtype)


def _matrix_temperature(temperature, dtype, log_alpha):
    """The temperature shaped to divide `[..., n, n]` (batch convention)."""
    shape = tuple(log_alpha.shape)
    # Treated as logits `[..., n]` whose last axis is removed: the batch.
    tau, is_number = _validation.convert_temperature(
        temperature, dtype, shape[:-1], len(shape) - 2)
    if is_number or len(tau.shape) == 0:
        return tau
    return ops.expand_dims(tau, -1)
