"""Tests for keras_gumbel.ops.sinkhorn, gumbel_sinkhorn and matching.

Backend-neutral: references are a NumPy log-domain Sinkhorn (SciPy's
`logsumexp`), SciPy's `linear_sum_assignment` and central finite
differences. Most tests share the shape [24, 7, 7] (the matching loops
compile once per shape on JAX and TensorFlow).
"""

import keras
import numpy as np
import pytest
from keras import ops
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from keras_gumbel.ops import (gumbel_sinkhorn, matching, sample_gumbel,
                              sinkhorn)
from tests.backend_utils import jit, to_numpy, value_and_grad

SHAPE = (24, 7, 7)  # as in test_assignment: the loops compile once


def _scores(shape=SHAPE, seed=0, scale=2.0, dtype="float32"):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(
        dtype)


def _numpy_sinkhorn(x, n_iters):
    x = np.asarray(x, np.float64)
    for _ in range(n_iters):
        x = x - logsumexp(x, axis=-1, keepdims=True)
        x = x - logsumexp(x, axis=-2, keepdims=True)
    return np.exp(x)


def _scipy_matching(x):
    x = np.asarray(x, np.float64)
    out = np.zeros_like(x)
    for index in np.ndindex(x.shape[:-2]):
        rows, cols = linear_sum_assignment(x[index], maximize=True)
        out[index][rows, cols] = 1.0
    return out


def _f64(x):
    return to_numpy(ops.cast(x, "float32")).astype(np.float64)


# ------------------------------------------------------------------ sinkhorn


@pytest.mark.parametrize("shape, n_iters", [((5, 5), 1), ((2, 3, 4, 4), 20)])
def test_sinkhorn_equals_numpy_reference(shape, n_iters):
    x = _scores(shape)
    y = _f64(sinkhorn(x, n_iters=n_iters))
    np.testing.assert_allclose(y, _numpy_sinkhorn(x, n_iters), atol=1e-5)
    np.testing.assert_allclose(y.sum(-2), 1.0, atol=1e-5)  # exact columns
    if n_iters == 20:
        np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-3)


def test_sinkhorn_large_scores_and_half_precision_stay_finite():
    x = _scores()
    x = x / np.abs(x).max() * 6e4  # up to float16's largest values
    for dtype in ("float16", "bfloat16", "float32"):
        y = sinkhorn(ops.cast(x, dtype))
        assert keras.backend.standardize_dtype(y.dtype) == dtype
        y = _f64(y)
        assert np.all(np.isfinite(y))
        np.testing.assert_allclose(y.sum(-2), 1.0, atol=1e-2)


def test_sinkhorn_approaches_matching_at_low_temperature():
    # A clear optimum (near-ties would converge to a mixture, slowly).
    rng = np.random.default_rng(0)
    perm = np.stack([np.eye(7)[rng.permutation(7)] for _ in range(24)])
    x = (4 * perm + rng.normal(size=SHAPE)).astype("float32")
    np.testing.assert_array_equal(_scipy_matching(x), perm)
    y = _f64(sinkhorn(x / 0.05, n_iters=100))
    np.testing.assert_allclose(y, perm, atol=1e-2)


# ------------------------------------------------------------------ matching


def test_matching_equals_scipy_in_and_out_of_compiled_functions():
    x = _scores()
    expected = _scipy_matching(x)
    np.testing.assert_array_equal(_f64(matching(x)), expected)
    np.testing.assert_array_equal(_f64(jit(matching)(x)), expected)
    batched = x.reshape(2, 12, 7, 7)
    np.testing.assert_array_equal(_f64(matching(batched)),
                                  expected.reshape(2, 12, 7, 7))
    half = matching(ops.cast(x, "float16"))
    assert keras.backend.standardize_dtype(half.dtype) == "float16"


# ----------------------------------------------------------- gumbel_sinkhorn


def test_gumbel_sinkhorn_is_sinkhorn_of_the_noisy_scores():
    x, tau = _scores(), 0.7
    g = _f64(sample_gumbel(SHAPE, seed=3))
    soft = _f64(gumbel_sinkhorn(x, tau, n_iters=10, seed=3))
    np.testing.assert_allclose(soft, _numpy_sinkhorn((x + g) / tau, 10),
                               atol=1e-5)
    hard = _f64(gumbel_sinkhorn(x, tau, hard=True, seed=3))
    np.testing.assert_array_equal(hard, _scipy_matching(x + g))
    half = _f64(gumbel_sinkhorn(x, tau, n_iters=10, seed=3,
                                noise_factor=0.5))
    np.testing.assert_allclose(half, _numpy_sinkhorn((x + g / 2) / tau, 10),
                               atol=1e-5)
    plain = _f64(gumbel_sinkhorn(x, tau, noise_factor=0.0, seed=3))
    np.testing.assert_allclose(plain, _f64(sinkhorn(x / tau)), atol=1e-6)


def test_hard_has_the_soft_gradient():
    x, tau = _scores(), np.float32(0.5)
    w = _scores(seed=1, scale=1.0)

    def loss(hard):
        return lambda a, t: ops.multiply(
            gumbel_sinkhorn(a, t, hard=hard, seed=5), w)

    _, (dx_soft, dt_soft) = value_and_grad(loss(False), x, tau)
    _, (dx_hard, dt_hard) = value_and_grad(loss(True), x, tau)
    np.testing.assert_allclose(dx_hard, dx_soft, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dt_hard, dt_soft, rtol=1e-6)
    assert np.abs(dx_soft).max() > 1e-3


def test_tensor_temperature_gradient_matches_finite_differences():
    x = _scores(scale=1.0)
    w = _scores(seed=2, scale=1.0)
    tau = np.linspace(0.5, 2.0, SHAPE[0]).astype("float32")  # per matrix

    def loss(a, t):
        return ops.multiply(gumbel_sinkhorn(a, t, n_iters=5, seed=7), w)

    _, (_, dtau) = value_and_grad(loss, x, tau)
    eps = 1e-2
    for b in (0, 10, 23):
        up, down = tau.copy(), tau.copy()
        up[b] += eps
        down[b] -= eps
        numeric = (to_numpy(loss(x, up))[b].astype(np.float64).sum()
                   - to_numpy(loss(x, down))[b].astype(np.float64).sum()
                   ) / (2 * eps)
        np.testing.assert_allclose(dtau[b], numeric, rtol=2e-2, atol=1e-3)


def test_every_seed_form():
    x = _scores()
    fixed = _f64(gumbel_sinkhorn(x, seed=11))
    np.testing.assert_array_equal(_f64(gumbel_sinkhorn(x, seed=11)), fixed)
    pair = ops.convert_to_tensor(np.array([1, 2], "int32"))
    np.testing.assert_array_equal(_f64(gumbel_sinkhorn(x, seed=pair)),
                                  _f64(gumbel_sinkhorn(x, seed=pair)))
    generator = keras.random.SeedGenerator(3)
    first = _f64(gumbel_sinkhorn(x, seed=generator))
    assert not np.allclose(first, _f64(gumbel_sinkhorn(x, seed=generator)))
    assert not np.allclose(_f64(gumbel_sinkhorn(x)),
                           _f64(gumbel_sinkhorn(x)))


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("op", [sinkhorn, gumbel_sinkhorn, matching])
def test_bad_scores_name_the_argument(op):
    with pytest.raises(ValueError, match="log_alpha"):
        op(np.zeros([4], "float32"))
    with pytest.raises(ValueError, match="log_alpha.*square"):
        op(np.zeros([2, 3, 4], "float32"))
    with pytest.raises(TypeError, match="log_alpha"):
        op(np.zeros([3, 3], "int32"))


@pytest.mark.parametrize("kwargs, error, name", [
    ({"n_iters": 0}, ValueError, "n_iters"),
    ({"n_iters": 2.0}, TypeError, "n_iters"),
    ({"temperature": 0.0}, ValueError, "temperature"),
    ({"temperature": -1.0}, ValueError, "temperature"),
    ({"temperature": float("inf")}, ValueError, "temperature"),
    ({"temperature": float("nan")}, ValueError, "temperature"),
    ({"temperature": np.array([1.0] * 23 + [0.0], "float32")}, ValueError,
     "temperature"),
    ({"temperature": np.ones([7], "float32")}, ValueError, "temperature"),
    ({"hard": 1}, TypeError, "hard"),
    ({"noise_factor": -0.5}, ValueError, "noise_factor"),
])
def test_bad_arguments_name_the_argument(kwargs, error, name):
    with pytest.raises(error, match=name):
        gumbel_sinkhorn(_scores(), seed=0, **kwargs)
    if "n_iters" in kwargs:
        with pytest.raises(error, match=name):
            sinkhorn(_scores(), **kwargs)
