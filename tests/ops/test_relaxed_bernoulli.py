"""Tests for keras_gumbel.ops.relaxed_bernoulli and its log-density."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import special

from keras_gumbel import ops
from tests.stats_utils import assert_ks_1samp, assert_ks_2samp, hoeffding

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

tfd = tfp.distributions


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0, 3.0])
def test_log_prob_matches_tfp_float64(tau):
    rng = np.random.default_rng(int(tau * 10))
    logits = rng.normal(0, 2, size=50)
    y = rng.uniform(0.001, 0.999, size=50)
    ours = ops.relaxed_bernoulli_log_prob(y, logits, tau)
    theirs = tfd.RelaxedBernoulli(np.float64(tau), logits=logits).log_prob(y)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    # Closed form (Maddison et al. 2017, eq. 21), directly in float64:
    # p(y) = tau a y^(-tau-1) (1-y)^(-tau-1) / (a y^-tau + (1-y)^-tau)^2.
    a = np.exp(logits)
    closed = np.log(tau * a * y ** (-tau - 1) * (1 - y) ** (-tau - 1)
                    / (a * y ** -tau + (1 - y) ** -tau) ** 2)
    np.testing.assert_allclose(ours, closed, rtol=1e-10, atol=1e-12)


def test_log_prob_batch_temperature():
    logits = np.array([0.5, -1.0, 2.0])
    tau = np.array([0.2, 1.0, 4.0])
    y = np.array([0.3, 0.6, 0.9])
    np.testing.assert_allclose(
        ops.relaxed_bernoulli_log_prob(y, logits, tau),
        tfd.RelaxedBernoulli(tau, logits=logits).log_prob(y), rtol=1e-8)


def test_samples_follow_closed_form_cdf():
    # P(y <= t) = sigmoid(tau * logit(t) - logits); KS with p > 1e-8.
    n, tau, logit = 200_000, 0.7, 0.4
    y = ops.relaxed_bernoulli(tf.fill([n], logit), tau, seed=4)
    assert_ks_1samp(y, lambda t: special.expit(tau * special.logit(t) - logit))


def test_samples_match_tfp_sampler():
    n = 100_000
    ours = ops.relaxed_bernoulli(tf.fill([n], -0.8), 2.0, seed=5)
    theirs = tfd.RelaxedBernoulli(2.0, logits=-0.8).sample(n, seed=(3, 4))
    assert_ks_2samp(ours, theirs)


def test_hard_is_round_of_relaxed_and_bernoulli():
    n, logits = 200_000, np.array([-2.0, 0.0, 1.5], np.float32)
    tiled = np.tile(logits, (n, 1))
    hard = ops.relaxed_bernoulli(tiled, 0.5, hard=True, seed=6).numpy()
    relaxed = ops.relaxed_bernoulli(tiled, 0.5, seed=6).numpy()
    assert set(np.unique(hard)) <= {0.0, 1.0}
    np.testing.assert_array_equal(hard, np.round(relaxed))
    # Frequencies of 1 against sigmoid(logits), Hoeffding bound at 1e-8.
    np.testing.assert_array_less(np.abs(hard.mean(0) - special.expit(logits)),
                                 hoeffding(n))


def test_hard_gradient_is_relaxed_gradient():
    logits = tf.constant([[0.3, -1.0, 2.0]])
    tau = tf.constant(0.6)
    grads = []
    for hard in (False, True):
        with tf.GradientTape() as tape:
            tape.watch([logits, tau])
            loss = tf.reduce_sum(ops.relaxed_bernoulli(logits, tau, hard, 8) * [1.0, 2.0, 3.0])
        grads.append(tape.gradient(loss, [logits, tau]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_errors():
    with pytest.raises(TypeError, match="`logits`"):
        ops.relaxed_bernoulli(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="`temperature`.*Received: temperature=0"):
        ops.relaxed_bernoulli(tf.zeros([2]), 0)
    with pytest.raises(ValueError, match="`temperature`.*shape"):
        ops.relaxed_bernoulli(tf.zeros([2]), tf.ones([3, 2]))
    with pytest.raises(ValueError, match="`temperature`.*shape \\(4,\\)"):
        ops.relaxed_bernoulli(tf.zeros([2, 3]), tf.ones([4]))
    with pytest.raises(ValueError, match="`logits`.*unknown rank"):
        tf.function(ops.relaxed_bernoulli).get_concrete_function(
            tf.TensorSpec(None, tf.float32), tf.TensorSpec(None, tf.float32))
    with pytest.raises(TypeError, match="`hard`.*Received: hard='yes'"):
        ops.relaxed_bernoulli(tf.zeros([2]), hard="yes")
