"""The densities on the boundary and outside the support, on every backend.

`gumbel_softmax_log_prob` and `relaxed_bernoulli_log_prob` at exact 0s and
1s (where float32 samples land at small temperatures) return the limit of
the log density, checked against the closed form evaluated ever closer to
the boundary in float64 (NumPy); outside the support they return `-inf`;
shapes that do not broadcast raise a `ValueError` naming the argument.
"""

import math

import numpy as np
import pytest
from scipy import special

import keras_gumbel as kg
from tests.backend_utils import to_numpy, value_and_grad

ops = kg.ops
LOGITS = np.log([0.2, 0.3, 0.5]).astype("float32")


def _concrete_log_prob(y, logits, tau):
    """The Concrete density written directly, NumPy float64."""
    y, logits = np.asarray(y, np.float64), np.asarray(logits, np.float64)
    k = y.shape[-1]
    log_pi = logits - np.log(np.sum(np.exp(logits)))
    return (math.lgamma(k) + (k - 1) * np.log(tau)
            + np.sum(log_pi - (tau + 1) * np.log(y))
            - k * special.logsumexp(log_pi - tau * np.log(y)))


def _binary_log_prob(y, logit, tau):
    y = np.float64(y)
    z = tau * (np.log(y) - np.log1p(-y)) - logit
    return (np.log(tau) - z - 2 * np.logaddexp(0, -z) - np.log(y)
            - np.log1p(-y))


def _approach(y, eps):
    """`y` with its zeros replaced by `eps` (renormalized)."""
    y = np.where(np.asarray(y) == 0, eps, np.asarray(y, np.float64))
    return y / y.sum()


def test_the_issue_example_is_not_nan():
    for tau in [0.01, 0.005, 0.001]:
        y = ops.gumbel_softmax(LOGITS, tau, seed=0)
        assert np.array_equal(np.sort(to_numpy(y)), [0.0, 0.0, 1.0])
        assert to_numpy(ops.gumbel_softmax_log_prob(y, LOGITS, tau)) == np.inf
        yb = ops.relaxed_bernoulli(np.full([64], 0.3, "float32"), tau, seed=0)
        lp = to_numpy(ops.relaxed_bernoulli_log_prob(yb, 0.3, tau))
        assert not np.any(np.isnan(lp))


@pytest.mark.parametrize("y,tau", [
    ([0.0, 0.0, 1.0], 0.01), ([0.0, 0.0, 1.0], 0.5), ([0.0, 0.0, 1.0], 3.0),
    ([0.0, 0.4, 0.6], 0.3), ([0.0, 0.4, 0.6], 0.6), ([0.0, 0.4, 0.6], 0.5)])
def test_concrete_boundary_is_the_limit(y, tau):
    got = to_numpy(ops.gumbel_softmax_log_prob(np.float32(y), LOGITS, tau))
    near = [_concrete_log_prob(_approach(y, eps), LOGITS, tau)
            for eps in (1e-60, 1e-120)]
    m, k = y.count(0.0), len(y)
    if (k - m) * tau == m:  # a finite limit ([0, .4, .6] at tau = 0.5)
        np.testing.assert_allclose(got, near[1], rtol=1e-5)
    else:  # the closed form diverges towards the returned infinity
        assert np.isinf(got) and np.sign(near[1] - near[0]) == np.sign(got)
        assert abs(near[1]) > 50


def test_two_category_boundary_at_temperature_one_is_finite():
    # k = 2, tau = 1: p(y) -> pi_1 / pi_0 at y = [0, 1].
    logits = np.float32([0.3, -0.5])
    got = to_numpy(ops.gumbel_softmax_log_prob(np.float32([0, 1]), logits, 1.0))
    np.testing.assert_allclose(got, -0.8, rtol=1e-6)
    for y, want in [(0.0, -0.3), (1.0, 0.3)]:
        got = to_numpy(ops.relaxed_bernoulli_log_prob(np.float32(y), 0.3, 1.0))
        np.testing.assert_allclose(got, want, rtol=1e-6)
        np.testing.assert_allclose(
            got, _binary_log_prob(abs(y - 1e-12), 0.3, 1.0), rtol=1e-6)


def test_relaxed_bernoulli_boundary_with_tensor_temperature():
    tau = np.float32([0.5, 1.0, 2.0])
    for y, finite in [(0.0, -0.3), (1.0, 0.3)]:
        got = to_numpy(ops.relaxed_bernoulli_log_prob(
            np.full([3], y, "float32"), np.full([3], 0.3, "float32"), tau))
        np.testing.assert_allclose(got, [np.inf, finite, -np.inf], rtol=1e-6)
        # The closed form near the boundary heads the same way (near 1 with
        # p(1 - e; logit) = p(e; -logit)).
        logit = 0.3 if y == 0 else -0.3
        near = [_binary_log_prob(1e-100, logit, t) for t in (0.5, 2.0)]
        assert near[0] > 50 and near[1] < -50


def test_outside_the_support_is_minus_inf():
    for y in [1.5, -0.5, -0.0001, np.inf]:
        assert to_numpy(ops.relaxed_bernoulli_log_prob(
            np.float32(y), 0.0, 0.5)) == -np.inf
    assert np.isnan(to_numpy(ops.relaxed_bernoulli_log_prob(
        np.float32(np.nan), 0.0, 0.5)))
    for y in [[0.5, 0.6, 0.1], [-0.1, 0.6, 0.5], [1.2, -0.1, -0.1],
              [0.2, 0.3, 0.4]]:
        assert to_numpy(ops.gumbel_softmax_log_prob(
            np.float32(y), LOGITS, 0.5)) == -np.inf
    # Float32 samples (sums within rounding of 1) are inside.
    y = to_numpy(ops.gumbel_softmax(np.tile(LOGITS, (1000, 1)), 0.5, seed=2))
    assert np.all(np.isfinite(to_numpy(
        ops.gumbel_softmax_log_prob(y, LOGITS, 0.5))))


def test_gradients_on_the_boundary_are_not_nan():
    y = np.float32([[0, 0, 1], [0.2, 0.3, 0.5], [0, 0.4, 0.6]])
    tau = np.float32([0.01, 0.5, 0.5])
    _, grads = value_and_grad(
        lambda lg, t: ops.gumbel_softmax_log_prob(y, lg, t),
        np.tile(LOGITS, (3, 1)), tau)
    yb = np.float32([0.0, 1.0, 0.5, 1.5])
    _, grads_b = value_and_grad(
        lambda lg, t: ops.relaxed_bernoulli_log_prob(yb, lg, t),
        np.full([4], 0.3, "float32"), np.float32([1.0, 1.0, 0.5, 0.5]))
    for g in grads + grads_b:
        assert not np.any(np.isnan(g))
    # The finite limit [0, .4, .6] at tau = 0.5 depends on the logits.
    assert np.any(grads[0][2] != 0)


@pytest.mark.parametrize("call,name", [
    (lambda: ops.gumbel_softmax_log_prob(np.ones([2, 3], "float32") / 3,
                                         np.zeros([4, 3], "float32"), 1.0),
     "y"),
    (lambda: ops.relaxed_bernoulli_log_prob(np.full([3], 0.5, "float32"),
                                            np.zeros([2], "float32"), 1.0),
     "y"),
    (lambda: ops.gumbel_log_prob(np.zeros([3], "float32"),
                                 np.zeros([2], "float32")), "loc"),
    (lambda: ops.gumbel_cdf(np.zeros([3], "float32"), 0.0,
                            np.ones([2], "float32")), "scale"),
    (lambda: ops.gumbel_cdf(np.zeros([2, 3], "float32"),
                            np.zeros([4, 1], "float32")), "loc"),
])
def test_shapes_that_do_not_broadcast_raise_value_error(call, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        call()
