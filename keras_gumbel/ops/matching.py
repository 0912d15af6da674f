"""The exact matching: the permutation matrix of the assignment problem."""

from keras import ops

from keras_gumbel import _dtypes, _validation
from keras_gumbel._messages import invalid
from keras_gumbel.ops._assignment import permutation_matrix

__all__ = ["matching"]


def matching(log_alpha):
    """The permutation matrix that maximizes `sum_i log_alpha[i, sigma(i)]`.

    The limit of `sinkhorn(log_alpha / temperature)` as the temperature goes
    to 0 (Mena et al. 2018): the solution of the linear assignment problem,
    `P[i, j] = 1` where row `i` is matched to column `j`. Computed exactly
    in the graph by the shortest augmenting path (Hungarian) algorithm
    written with the backend's loops, so it runs inside
    `tf.function(jit_compile=True)`, `jax.jit` and exported models; no host
    call. Its cost is `O(n^3)` operations per matrix (`O(n^2)` sequential
    steps of `O(n)` vector work, typically about `n log n` steps on random
    scores); a batch runs its matrices side by side. Ties are broken
    arbitrarily among optimal assignments. The result has no gradient.

    Args:
      log_alpha: float tensor `[..., n, n]` of scores (any batch shape) with
        static `n`; `-inf` marks a pair to avoid (used only where every
        permutation needs one).

    Returns:
      A 0/1 tensor with the shape and dtype of `log_alpha`, one 1 in each
      row and each column; its total score equals that of
      `scipy.optimize.linear_sum_assignment(log_alpha, maximize=True)`.

    Example:
    >>> import numpy as np
    >>> p = matching(np.array([[1., 5.], [2., 9.]], "float32"))
    >>> # p == [[1, 0], [0, 1]]: 1 + 9 beats 5 + 2
    """
    log_alpha = _validation.convert_square_matrices(log_alpha)
    if log_alpha.shape[-1] is None:
        raise ValueError(invalid(
            "log_alpha", "a static matrix size n (the loops are built for "
            "it)", f"<tensor of shape {tuple(log_alpha.shape)}>"))
    x = ops.cast(log_alpha, _dtypes.compute_dtype(log_alpha.dtype))
    return ops.cast(permutation_matrix(x), log_alpha.dtype)
