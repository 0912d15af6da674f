"""Tests for keras_gumbel.ops.categorical_kl_uniform."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from keras_gumbel import ops

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

tfd = tfp.distributions


def test_matches_tfp_and_closed_form_float64():
    logits = np.random.default_rng(0).normal(0, 3, size=(10, 7))
    ours = ops.categorical_kl_uniform(logits)
    q = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    closed = np.sum(q * np.log(q), -1) + np.log(7)
    theirs = tfd.kl_divergence(tfd.Categorical(logits=logits),
                               tfd.Categorical(logits=np.zeros((10, 7))))
    np.testing.assert_allclose(ours, closed, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_zero_probabilities_and_axis():
    logits = tf.constant([[0.0, -np.inf], [0.0, 0.0]])
    np.testing.assert_allclose(ops.categorical_kl_uniform(logits),
                               [np.log(2), 0.0], atol=1e-7)
    np.testing.assert_allclose(ops.categorical_kl_uniform(tf.transpose(logits), 0),
                               [np.log(2), 0.0], atol=1e-7)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        kl = ops.categorical_kl_uniform(logits)
    assert np.all(np.isfinite(tape.gradient(kl, logits)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_large_logits(dtype):
    kl = ops.categorical_kl_uniform(tf.cast([[1e4, -1e4, 0.0]], dtype))
    assert kl.dtype == tf.as_dtype(dtype)
    np.testing.assert_allclose(tf.cast(kl, tf.float32), [np.log(3)], rtol=1e-2)
