"""Tests for keras_gumbel.ops._assignment.max_weight_assignment.

Backend-neutral: the reference is SciPy's `linear_sum_assignment(...,
maximize=True)`. Where the optimum is unique (continuous random scores) the
assignment itself must match; with ties any optimal assignment is right, so
the total score is compared. Each test makes one batched call, since every
new shape compiles the loops once (on JAX and TensorFlow); most tests
share the flattened shape [24, 7, 7].
"""

import numpy as np
import pytest
from keras import ops
from scipy.optimize import linear_sum_assignment

from keras_gumbel.ops._assignment import max_weight_assignment
from tests.backend_utils import BACKEND, jit, to_numpy


def _float64_or_skip(dtype):
    if dtype == "float64" and BACKEND == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("float64 on JAX needs jax_enable_x64")


def _check(scores, columns, exact, rtol=1e-6):
    """Every matrix: distinct columns, SciPy's optimum (and assignment)."""
    scores = np.asarray(scores, np.float64)
    n, m = scores.shape[-2:]
    flat_scores = scores.reshape(-1, n, m)
    flat_columns = np.asarray(columns).reshape(-1, n)
    assert np.asarray(columns).shape == scores.shape[:-1]
    assert np.asarray(columns).dtype == np.int32
    for s, cols in zip(flat_scores, flat_columns):
        assert len(set(cols.tolist())) == n, cols
        assert cols.min() >= 0 and cols.max() < m
        rows, best = linear_sum_assignment(s, maximize=True)
        total, optimum = s[rows, cols].sum(), s[rows, best].sum()
        scale = np.abs(s).max() * n
        np.testing.assert_allclose(total, optimum, rtol=0, atol=rtol * scale)
        if exact:
            np.testing.assert_array_equal(cols, best)


@pytest.mark.parametrize("shape", [(4, 6, 7, 7), (24, 7, 9)])
def test_random_float32_equals_scipy(shape):
    scores = np.random.default_rng(0).normal(size=shape).astype("float32")
    _check(scores, to_numpy(max_weight_assignment(scores)), exact=True)


def test_float64_equals_scipy():
    _float64_or_skip("float64")
    scores = np.random.default_rng(1).normal(size=(24, 7, 7))
    columns = max_weight_assignment(scores)
    _check(scores, to_numpy(columns), exact=True, rtol=1e-12)


def test_ties_reach_the_optimum():
    # Scores in {0, 1, 2}: many optimal assignments; the last matrix is
    # constant (every assignment is optimal).
    scores = np.random.default_rng(2).integers(0, 3, (24, 7, 7))
    scores[-1] = 1
    _check(scores.astype("float32"),
           to_numpy(max_weight_assignment(scores.astype("float32"))),
           exact=False)


def test_large_values_and_offsets():
    # Rows around 1e6 apart with spreads of 1e3: the row shift inside
    # keeps float32 exact enough to find the unique optimum.
    rng = np.random.default_rng(3)
    scores = (1e6 * rng.integers(-5, 5, (24, 7, 1))
              + 1e3 * rng.normal(size=(24, 7, 7))).astype("float32")
    _check(scores, to_numpy(max_weight_assignment(scores)), exact=True)


def test_inside_compiled_functions():
    scores = np.random.default_rng(4).normal(size=(24, 7, 7))
    compiled = jit(max_weight_assignment)(scores.astype("float32"))
    _check(scores, to_numpy(compiled), exact=True)


def test_wide_matrices_and_half_precision_input():
    # The shape of ConcreteSelect's distinct selection (units x features).
    scores = np.random.default_rng(5).normal(size=(2, 50, 784))
    _check(scores.astype("float32"),
           to_numpy(max_weight_assignment(scores.astype("float32"))),
           exact=True)
    for dtype in ("float16", "bfloat16"):
        half = scores.astype("float32")
        columns = max_weight_assignment(ops.cast(half, dtype))
        rounded = to_numpy(ops.cast(ops.cast(half, dtype), "float32"))
        _check(rounded, to_numpy(columns), exact=False)


def test_single_row_and_single_column():
    scores = np.array([[[0.5, 3.0, -1.0]]], "float32")
    np.testing.assert_array_equal(to_numpy(max_weight_assignment(scores)),
                                  [[1]])
    np.testing.assert_array_equal(
        to_numpy(max_weight_assignment(np.ones((4, 1, 1), "float32"))),
        np.zeros((4, 1)))


def test_more_rows_than_columns_raises():
    with pytest.raises(ValueError, match="scores"):
        max_weight_assignment(np.zeros((3, 2), "float32"))


def test_non_finite_scores_stay_a_valid_assignment():
    # -inf marks forbidden pairs: the optimum avoids them where it can;
    # NaN is treated like -inf and +inf is taken; columns stay distinct.
    rng = np.random.default_rng(6)
    scores = rng.normal(size=(24, 7, 7)).astype("float32")
    scores[:8][rng.random((8, 7, 7)) < 0.3] = -np.inf
    np.fill_diagonal(scores[0], 0.0)  # a finite assignment exists
    scores[8:16, 0, :] = np.nan
    scores[16:, 2, 3] = np.inf
    columns = to_numpy(max_weight_assignment(scores))
    for s, cols in zip(scores, columns):
        assert len(set(cols.tolist())) == 7
    finite = np.where(np.isfinite(scores[:8]), scores[:8], -1e4)
    _check(finite, columns[:8], exact=False, rtol=1e-5)
    assert np.all(columns[16:, 2] == 3)
