"""Tests for keras_gumbel.ops.gumbel_softmax: samples, gradients, log-density."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import special, stats

from keras_gumbel import ops
from tests.stats_utils import (assert_chi_square, assert_ks_1samp, assert_ks_2samp,
                         hoeffding)

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

tfd = tfp.distributions


def _softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _reference(logits, temperature, seed):
    """softmax((logits + g) / tau) with the same noise as seed=`seed`.

    `sample_gumbel` and `gumbel_softmax` draw the same noise for the same int
    seed and shape (a documented property), so this is an independent
    implementation of the relaxed sample on identical noise.
    """
    logits = tf.convert_to_tensor(logits, tf.float32)
    g = ops.sample_gumbel(tf.shape(logits), seed=seed)
    return tf.nn.softmax((logits + g) / temperature)


# ---------------------------------------------------------------- log-density

def _closed_form_log_prob(y, logits, tau):
    """DESIGN.md's density, written directly (not in log space), float64."""
    k = y.shape[-1]
    pi = _softmax(logits)
    density = (math.gamma(k) * tau ** (k - 1)
               * np.sum(pi / y ** tau, -1) ** (-k)
               * np.prod(pi / y ** (tau + 1), -1))
    return np.log(density)


@pytest.mark.parametrize("k", [2, 3, 5, 10])
@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 2.0, 5.0])
def test_log_prob_matches_tfp_and_closed_form(k, tau):
    rng = np.random.default_rng(k * 100 + int(tau * 10))
    logits = rng.normal(0.0, 2.0, size=(7, k))
    y = rng.dirichlet(np.ones(k), size=7)
    ours = ops.gumbel_softmax_log_prob(y, logits, tau).numpy()
    theirs = tfd.RelaxedOneHotCategorical(np.float64(tau), logits=logits).log_prob(y)
    assert ours.shape == (7,)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(ours, _closed_form_log_prob(y, logits, tau),
                               rtol=1e-6, atol=1e-9)


def test_log_prob_with_sample_dimensions_matches_tfp():
    # TFP's usual call: dist.log_prob(dist.sample(n)), y of shape [n, B, K].
    logits = np.random.default_rng(3).normal(size=(3, 4))
    dist = tfd.RelaxedOneHotCategorical(np.float64(0.7), logits=logits)
    y = dist.sample(5, seed=(1, 2))
    expected = dist.log_prob(y)
    for axis in (-1, 1):
        ours = ops.gumbel_softmax_log_prob(y, logits, 0.7, axis=axis)
        assert ours.shape == (5, 3)
        np.testing.assert_allclose(ours, expected, rtol=1e-6)


def test_log_prob_batch_temperature_and_axis():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4))
    y = rng.dirichlet(np.ones(4), size=3)
    tau = np.array([0.3, 1.0, 2.5])
    expected = tfd.RelaxedOneHotCategorical(tau, logits=logits).log_prob(y)
    np.testing.assert_allclose(ops.gumbel_softmax_log_prob(y, logits, tau),
                               expected, rtol=1e-6)
    np.testing.assert_allclose(
        ops.gumbel_softmax_log_prob(y.T, logits.T, tau, axis=0), expected,
        rtol=1e-6)


def test_log_prob_integrates_to_one_for_two_categories():
    # For k=2 the density, as a function of y_0, integrates to 1. Substitute
    # y_0 = sigmoid(x), dy_0 = y_0 (1 - y_0) dx, to integrate the end
    # singularities accurately; the tails beyond |x| = 80 hold < 1e-12.
    logits = np.array([0.3, -0.4])
    x = np.linspace(-80.0, 80.0, 400_001)
    t = special.expit(x)
    y = np.stack([t, special.expit(-x)], -1)
    for tau in (0.4, 1.0, 3.0):
        p = np.exp(ops.gumbel_softmax_log_prob(y, np.tile(logits, (len(t), 1)),
                                               tau).numpy())
        assert abs(np.trapezoid(p * t * (1 - t), x) - 1.0) < 1e-6


# -------------------------------------------------------------- relaxed sample

def test_relaxed_sample_on_simplex_and_equal_to_reference():
    logits = np.random.default_rng(1).normal(size=(64, 6)).astype(np.float32)
    y = ops.gumbel_softmax(logits, temperature=0.7, seed=5)
    np.testing.assert_allclose(tf.reduce_sum(y, -1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(y, _reference(logits, 0.7, 5), rtol=1e-5,
                               atol=1e-7)


def test_relaxed_marginal_matches_closed_form_two_categories():
    # For k=2, y_0 = sigmoid((l0 - l1 + L) / tau) with L ~ Logistic(0, 1), so
    # P(y_0 <= t) = sigmoid(tau * logit(t) - (l0 - l1)). KS, p > 1e-8.
    n, tau, logits = 200_000, 0.6, np.array([0.8, -0.3], np.float32)
    y0 = ops.gumbel_softmax(np.tile(logits, (n, 1)), tau, seed=21)[:, 0]
    delta = float(logits[0] - logits[1])
    assert_ks_1samp(y0, lambda t: special.expit(tau * special.logit(t) - delta))


@pytest.mark.parametrize("tau", [0.3, 1.0, 3.0])
def test_relaxed_marginals_match_tfp_sampler(tau):
    # Two-sample KS on every coordinate's marginal, p > 1e-8 each.
    n, logits = 50_000, np.array([1.0, 0.0, -1.0, 0.5], np.float32)
    ours = ops.gumbel_softmax(np.tile(logits, (n, 1)), tau, seed=7).numpy()
    theirs = tfd.RelaxedOneHotCategorical(tau, logits=logits).sample(
        n, seed=(8, 9)).numpy()
    for i in range(4):
        assert_ks_2samp(ours[:, i], theirs[:, i])
    # Means: each coordinate lies in [0, 1], so Hoeffding bounds both means.
    bound = 2 * hoeffding(n)
    np.testing.assert_array_less(np.abs(ours.mean(0) - theirs.mean(0)), bound)


def test_low_temperature_limit_is_categorical():
    # tau -> 0: samples are one-hot up to rounding and E[y] = softmax(logits).
    n, logits = 100_000, np.log(np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    y = ops.gumbel_softmax(np.tile(logits, (n, 1)), 1e-3, seed=3).numpy()
    assert np.mean(y.max(-1) > 0.999) > 0.99
    np.testing.assert_array_less(np.abs(y.mean(0) - np.exp(logits)),
                                 hoeffding(n))


def test_high_temperature_limit_is_uniform():
    # Deterministic: with float32 Gumbel noise in [-4.5, 16.7] and logits in
    # [-1, 1], |z_i - z_j| / tau <= 23.2 / 1e4, so every y_i is within a factor
    # exp(+-2.32e-3) of 1/k.
    k = 5
    logits = np.random.default_rng(0).uniform(-1, 1, (10_000, k)).astype(np.float32)
    y = ops.gumbel_softmax(logits, 1e4, seed=0).numpy()
    np.testing.assert_array_less(np.abs(y * k - 1.0), 2.5e-3)


# ------------------------------------------------------------------ hard sample

def test_hard_is_exactly_one_hot_and_argmax_of_relaxed():
    logits = np.random.default_rng(2).normal(size=(1000, 7)).astype(np.float32)
    for tau in (1e-3, 0.5, 1.0, 10.0):
        hard = ops.gumbel_softmax(logits, tau, hard=True, seed=9).numpy()
        relaxed = ops.gumbel_softmax(logits, tau, seed=9).numpy()
        assert set(np.unique(hard)) <= {0.0, 1.0}
        np.testing.assert_array_equal(hard.sum(-1), 1.0)
        np.testing.assert_array_equal(hard, np.eye(7)[relaxed.argmax(-1)])


def test_hard_sample_does_not_depend_on_temperature():
    logits = np.random.default_rng(3).normal(size=(2000, 5)).astype(np.float32)
    a = ops.gumbel_softmax(logits, 0.01, hard=True, seed=4)
    b = ops.gumbel_softmax(logits, 100.0, hard=True, seed=4)
    np.testing.assert_array_equal(a, b)


def test_hard_frequencies_are_categorical():
    # Chi-square against softmax(logits); the -inf entry is never drawn. (The
    # hard sample does not depend on tau: test_hard_sample_does_not_depend_...)
    n, tau = 200_000, 0.5
    logits = np.array([0.5, -1.0, 2.0, -np.inf, 0.0], np.float32)
    hard = ops.gumbel_softmax(np.tile(logits, (n, 1)), tau, hard=True, seed=12)
    assert_chi_square(tf.reduce_sum(hard, 0), _softmax(logits))


def test_hard_gradient_equals_relaxed_gradient():
    logits = tf.constant(np.random.default_rng(4).normal(size=(32, 6)), tf.float32)
    tau = tf.constant(np.linspace(0.2, 2.0, 32), tf.float32)
    w = tf.constant(np.random.default_rng(5).normal(size=(32, 6)), tf.float32)
    grads = []
    for hard in (False, True):
        with tf.GradientTape() as tape:
            tape.watch([logits, tau])
            y = ops.gumbel_softmax(logits, tau, hard=hard, seed=13)
            loss = tf.reduce_sum(y * w)
        grads.append(tape.gradient(loss, [logits, tau]))
    for relaxed_grad, hard_grad in zip(*grads):
        np.testing.assert_allclose(hard_grad, relaxed_grad, rtol=1e-6)


# -------------------------------------------------------------------- gradients

@pytest.mark.parametrize("tau_kind", ["python", "scalar", "batch"])
def test_gradient_matches_autodiff_of_reference(tau_kind):
    rng = np.random.default_rng(6)
    logits = tf.constant(rng.normal(size=(16, 5)), tf.float32)
    w = tf.constant(rng.normal(size=(16, 5)), tf.float32)
    tau = {"python": 0.7, "scalar": tf.constant(0.7),
           "batch": tf.constant(rng.uniform(0.2, 3.0, 16), tf.float32)}[tau_kind]
    g = ops.sample_gumbel([16, 5], seed=17)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([logits] + ([tau] if tau_kind != "python" else []))
        tau_b = tau if tau_kind != "batch" else tau[:, None]
        ours = tf.reduce_sum(ops.gumbel_softmax(logits, tau, seed=17) * w)
        ref = tf.reduce_sum(tf.nn.softmax((logits + g) / tau_b) * w)
    np.testing.assert_allclose(tape.gradient(ours, logits),
                               tape.gradient(ref, logits), rtol=1e-4, atol=1e-6)
    if tau_kind != "python":
        np.testing.assert_allclose(tape.gradient(ours, tau),
                                   tape.gradient(ref, tau), rtol=1e-4, atol=1e-6)


def test_gradient_to_temperature_variable():
    tau = tf.Variable(0.8)
    logits = tf.constant([[1.0, 0.0, -np.inf]])
    with tf.GradientTape() as tape:
        y = ops.gumbel_softmax(logits, tau, seed=1)
        loss = tf.reduce_sum(y * [[1.0, 3.0, 5.0]])
    grad = tape.gradient(loss, tau)
    assert grad is not None and np.isfinite(grad.numpy())


# --------------------------------------------------------------- modes and axes

def test_any_axis_and_rank():
    logits = np.random.default_rng(7).normal(size=(3, 4, 5)).astype(np.float32)
    for axis in (0, 1, 2, -1, -2):
        y = ops.gumbel_softmax(logits, 0.5, axis=axis, seed=1)
        np.testing.assert_allclose(tf.reduce_sum(y, axis), 1.0, rtol=1e-6)
        h = ops.gumbel_softmax(logits, 0.5, hard=True, axis=axis, seed=1)
        np.testing.assert_array_equal(tf.reduce_sum(h, axis), 1.0)
        np.testing.assert_array_equal(tf.reduce_max(h, axis), 1.0)
    y1 = ops.gumbel_softmax([1.0, 2.0, 3.0], seed=0)
    assert y1.shape == (3,)


def test_axis_zero_is_categorical_along_axis():
    n = 100_000
    logits = np.log(np.array([[0.2], [0.5], [0.3]], np.float32))
    hard = ops.gumbel_softmax(np.tile(logits, (1, n)), hard=True, axis=0, seed=2)
    assert_chi_square(tf.reduce_sum(hard, 1), [0.2, 0.5, 0.3])


@pytest.mark.parametrize("jit", [False, True])
def test_tf_function_and_xla_with_unknown_dims(jit):
    @tf.function(jit_compile=jit, input_signature=[
        tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([], tf.float32)])
    def sample(logits, tau):
        with tf.GradientTape() as tape:
            tape.watch([logits, tau])
            y = ops.gumbel_softmax(logits, tau, hard=True, seed=3)
            loss = tf.reduce_sum(y * tf.range(tf.cast(tf.shape(y)[-1], tf.float32)))
        return y, tape.gradient(loss, [logits, tau])

    logits = tf.constant(np.random.default_rng(8).normal(size=(50, 4)), tf.float32)
    y, (g_logits, g_tau) = sample(logits, tf.constant(0.5))
    np.testing.assert_array_equal(tf.reduce_sum(y, -1), 1.0)
    assert np.all(np.isfinite(g_logits)) and np.isfinite(g_tau)
    # An int seed gives the same sample on every call in the same mode.
    np.testing.assert_array_equal(sample(logits, tf.constant(0.5))[0], y)
    if not jit:  # Eager and tf.function agree (both run the Philox kernel).
        np.testing.assert_array_equal(
            ops.gumbel_softmax(logits, 0.5, hard=True, seed=3), y)


# ----------------------------------------------------------------------- errors

def test_errors_name_the_argument_and_value():
    logits = tf.zeros([2, 3])
    with pytest.raises(TypeError, match="`logits`.*int32"):
        ops.gumbel_softmax(tf.zeros([2, 3], tf.int32))
    with pytest.raises(ValueError, match="`logits`.*rank >= 1"):
        ops.gumbel_softmax(tf.constant(1.0))
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="`temperature`.*Received: temperature="):
            ops.gumbel_softmax(logits, bad)
    with pytest.raises(ValueError, match="`temperature`.*Received: temperature=0.0"):
        ops.gumbel_softmax(logits, tf.constant(0.0))
    with pytest.raises(ValueError, match="`temperature`"):
        ops.gumbel_softmax(logits, tf.constant([1.0, -2.0]))
    with pytest.raises(ValueError, match="`temperature`.*shape"):
        ops.gumbel_softmax(logits, tf.ones([2, 3]))
    # Static shapes that do not broadcast to the batch shape [2].
    with pytest.raises(ValueError, match="`temperature`.*shape \\(3,\\)"):
        ops.gumbel_softmax(logits, tf.ones([3]))
    with pytest.raises(ValueError, match="`temperature`.*shape \\(4,\\)"):
        ops.gumbel_softmax(tf.zeros([1, 3]), tf.ones([4]), hard=True)
    with pytest.raises(ValueError, match="`estimator`.*hard=False.*Received: estimator='reinmax'"):
        ops.gumbel_softmax(logits, estimator="reinmax")
    with pytest.raises(ValueError, match="`axis`.*Received: axis=2"):
        ops.gumbel_softmax(logits, axis=2)
    with pytest.raises(ValueError, match="`axis`.*Received: axis=-3"):
        ops.gumbel_softmax(logits, axis=-3)
    with pytest.raises(ValueError, match="`estimator`.*Received: estimator='st'"):
        ops.gumbel_softmax(logits, hard=True, estimator="st")
    with pytest.raises(ValueError, match="`estimator_samples`.*Received: estimator_samples=0"):
        ops.gumbel_softmax(logits, hard=True, estimator="gumbel_rao",
                           estimator_samples=0)
    with pytest.raises(TypeError, match="`hard`.*Received: hard=1"):
        ops.gumbel_softmax(logits, hard=1)
    with pytest.raises(ValueError, match="`logits`.*unknown rank"):
        tf.function(ops.gumbel_softmax).get_concrete_function(
            tf.TensorSpec(None, tf.float32))
    with pytest.raises(TypeError, match="`y`.*int32"):
        ops.gumbel_softmax_log_prob(tf.zeros([3], tf.int32), tf.zeros([3]), 1.0)
    with pytest.raises(ValueError, match="`temperature`.*Received: temperature=-1"):
        ops.gumbel_softmax_log_prob(tf.fill([3], 1 / 3), tf.zeros([3]), -1)


def test_variable_temperature_is_not_checked_statically():
    # Variables change inside compiled steps; only their use is checked.
    tau = tf.Variable(1.0)
    y = ops.gumbel_softmax(tf.zeros([2, 3]), tau, seed=0)
    assert y.shape == (2, 3)
