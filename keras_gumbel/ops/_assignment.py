"""The exact maximum-weight assignment, in the graph (no host call).

`max_weight_assignment(scores)` solves the linear assignment problem
```
max_sigma  sum_i scores[i, sigma(i)],   sigma: rows -> columns injective
```
for every `[n, m]` matrix (`n <= m`) of a batch, with the shortest
augmenting path algorithm (the Hungarian method with potentials, in the
form of Jonker and Volgenant): rows are added one at a time; each addition
runs Dijkstra on the reduced costs `c[i, j] - u[i] - v[j] >= 0` from the new
row until it reaches a free column, updates the potentials and flips the
path. `n` phases of at most `n` Dijkstra steps of `O(m)` work each: `O(n^2 m)`
operations, in `O(n^2)` sequential steps (typically far fewer: a random
instance needs about `n log n`).

It is written with `keras.ops` loops (`fori_loop`, `while_loop`) so that
it runs inside `tf.function(jit_compile=True)`, `jax.jit`, exported graphs
and eagerly on torch. A batch runs the same loops on every matrix at once:
each step is a few element-wise operations on `[batch, m + 1]` arrays, and
a matrix that has finished a phase stops changing while the others go on.

The row potentials are stored by column (`uc[j] = u[p[j]]`, the potential
of the row matched to column `j`): the update "`u[p[j]] += delta` for every
visited column `j`" is then element-wise, with no scatter.
"""

from keras import ops

from keras_gumbel import _dtypes, backend

__all__ = []  # Internal: `matching` and the layers use it.


def _at(x, index):
    """`x[b, index[b]]` for every row `b` of a `[batch, k]` tensor."""
    return ops.take_along_axis(x, ops.expand_dims(index, 1), axis=1)[:, 0]


def max_weight_assignment(scores):
    """Column indices of a maximum-weight assignment, for a batch of matrices.

    Args:
      scores: float tensor `[..., n, m]` with `n <= m` and static `n`, `m`
        (computed in float32, float64 for float64 input). `-inf` (and NaN)
        entries are used only where every assignment needs one, `+inf`
        entries wherever possible.

    Returns:
      int32 tensor `[..., n]`: the column of each row, all distinct per
      matrix, maximizing the total score (ties: one of the optimal
      assignments). Equal in total score to
      `scipy.optimize.linear_sum_assignment(scores, maximize=True)`.

    Example:
    >>> import numpy as np
    >>> cols = max_weight_assignment(np.array([[1., 5.], [2., 9.]], "float32"))
    >>> # cols == [0, 1]: 1 + 9 beats 5 + 2
    """
    scores = ops.convert_to_tensor(scores)
    n, m = scores.shape[-2], scores.shape[-1]
    if n is None or m is None or n > m:
        raise ValueError(
            "Invalid value received for argument `scores`. Expected a tensor "
            f"[..., n, m] with static n <= m. Received: shape={scores.shape}")
    x = ops.stop_gradient(scores)
    x = ops.reshape(ops.cast(x, _dtypes.compute_dtype(x.dtype)), (-1, n, m))
    columns = _solve(x)
    return ops.reshape(columns, backend.shape_of(scores[..., 0]))


def permutation_matrix(scores):
    """The 0/1 matrix `[..., n, n]` of `max_weight_assignment(scores)`,
    `P[i, j] = 1` where row `i` is matched to column `j` (dtype of scores)."""
    columns = max_weight_assignment(scores)
    return ops.one_hot(columns, scores.shape[-1],
                       dtype=_dtypes.dtype_of(scores))


@backend.compile_loops
def _solve(scores):
    """The assignment of each matrix of `scores` `[batch, n, m]`.

    Column-indexed state of shape `[batch, m + 1]`, column 0 being the
    dummy column of the algorithm (the new row's start): `p` (the 1-based
    row matched to each column, 0 for none), `uc` (that row's potential),
    `v` (the column potentials).
    """
    # Dynamic sizes: TensorFlow may trace this once for every shape.
    n, width = ops.shape(scores)[1], ops.shape(scores)[2] + 1
    scores = _finite(scores, n)
    # Minimize costs >= 0: subtracting each row's maximum changes every
    # assignment's total by the same amount, and keeps the numbers small.
    cost = ops.max(scores, axis=-1, keepdims=True) - scores
    cost = ops.pad(cost, ((0, 0), (0, 0), (1, 0)))
    zeros = ops.zeros_like(cost[:, 0, :])
    p = ops.zeros_like(zeros, dtype="int32")
    column = ops.expand_dims(ops.arange(width, dtype="int32"), 0)

    def add_row(i, state):
        p, uc, v = state
        start = column == 0
        p = ops.where(start, ops.cast(i + 1, "int32"), p)
        uc = ops.where(start, ops.zeros_like(uc), uc)
        j0, uc, v, way = _shortest_path(cost, p, uc, v, column)
        p, uc = _augment(j0, way, p, uc, column)
        return p, uc, v

    p, _, _ = ops.fori_loop(0, n, add_row, (p, zeros, zeros))
    # Row r (1-based) sits in column j where p[j] = r.
    rows = ops.expand_dims(ops.arange(n, dtype="int32") + 1, 1)
    return _first(ops.expand_dims(p[:, 1:], 1) == ops.expand_dims(rows, 0))


def _first(mask):
    """The index of the first true entry along the last axis, int32.

    An integer `argmax`: Keras' float `argmin` on TensorFlow adds a bitcast
    that neither ONNX nor LiteRT's built-in ops can run.
    """
    return ops.cast(ops.argmax(ops.cast(mask, "int32"), axis=-1), "int32")


def _finite(scores, n):
    """Replaces -inf and NaN by a score below, +inf by one above, any sum.

    With `lo`, `hi` the finite extremes of a matrix, `lo - n (hi - lo + 1)`
    is worse than any finite assignment, so entries that should never be
    chosen are chosen only where no assignment avoids them; the loops stay
    finite (a NaN would stall the search).
    """
    finite = ops.isfinite(scores)
    lo = ops.min(ops.where(finite, scores, float("inf")), (1, 2), True)
    hi = ops.max(ops.where(finite, scores, -float("inf")), (1, 2), True)
    lo = ops.where(ops.isfinite(lo), lo, ops.zeros_like(lo))  # none finite
    hi = ops.where(ops.isfinite(hi), hi, ops.zeros_like(hi))
    margin = ops.cast(n, scores.dtype) * (hi - lo + 1.0)
    large = ops.where(scores > 0, hi + margin, lo - margin)
    return ops.where(finite, scores, large)


def _shortest_path(cost, p, uc, v, column):
    """Dijkstra on the reduced costs from the new row to a free column.

    Returns the free column reached, the updated potentials, and `way`
    (the previous column on the path to each column).
    """
    inf = ops.cast(float("inf"), _dtypes.dtype_of(cost))
    j0 = ops.zeros_like(p[:, 0])
    minv = ops.full_like(uc, inf)
    used = ops.zeros_like(p, dtype="bool")
    way = ops.zeros_like(p)

    def searching(j0, minv, used, uc, v, way):
        return ops.any(_at(p, j0) != 0)

    def step(j0, minv, used, uc, v, way):
        i0 = _at(p, j0)
        active = ops.expand_dims(i0 != 0, 1)
        used = used | ((column == ops.expand_dims(j0, 1)) & active)
        row = ops.take_along_axis(
            cost, ops.reshape(ops.maximum(i0 - 1, 0), (-1, 1, 1)), axis=1)
        reduced = row[:, 0, :] - ops.expand_dims(_at(uc, j0), 1) - v
        better = (reduced < minv) & ~used & active
        minv = ops.where(better, reduced, minv)
        way = ops.where(better, ops.expand_dims(j0, 1), way)
        open_minv = ops.where(used, inf, minv)
        least = ops.min(open_minv, axis=-1, keepdims=True)
        j1 = _first(open_minv == least)
        delta = ops.where(active, least, ops.zeros_like(least))
        shift = ops.where(used, delta, ops.zeros_like(minv))
        uc, v = uc + shift, v - shift
        minv = ops.where(used, minv, minv - delta)
        j0 = ops.where(active[:, 0], j1, j0)
        return j0, minv, used, uc, v, way

    # At most one step per row already matched, plus one: the bound only
    # guards against a stalled search.
    j0, _, _, uc, v, way = ops.while_loop(
        searching, step, (j0, minv, used, uc, v, way),
        maximum_iterations=ops.shape(p)[1])
    return j0, uc, v, way


def _augment(j0, way, p, uc, column):
    """Flips the path ending at the free column `j0` back to column 0."""

    def on_path(j0, p, uc):
        return ops.any(j0 != 0)

    def step(j0, p, uc):
        active = j0 != 0
        j1 = _at(way, j0)
        here = (column == ops.expand_dims(j0, 1)) & ops.expand_dims(active, 1)
        p = ops.where(here, ops.expand_dims(_at(p, j1), 1), p)
        uc = ops.where(here, ops.expand_dims(_at(uc, j1), 1), uc)
        return ops.where(active, j1, j0), p, uc

    _, p, uc = ops.while_loop(on_path, step, (j0, p, uc),
                              maximum_iterations=ops.shape(p)[1])
    return p, uc
