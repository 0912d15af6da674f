"""Tests for keras_gumbel.ops.gumbel_max: exact categorical one-hot samples."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from keras_gumbel import ops
from tests.stats_utils import assert_chi_square

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself


def test_frequencies_match_softmax_and_zero_probs_never_drawn():
    n = 300_000
    probs = np.array([0.05, 0.0, 0.25, 0.3, 0.4])
    with np.errstate(divide="ignore"):
        logits = np.log(probs).astype(np.float32)
    sample = ops.gumbel_max(np.tile(logits, (n, 1)), seed=1)
    assert_chi_square(tf.reduce_sum(sample, 0), probs)


def test_matches_tfp_categorical_frequencies():
    # Both against the same probabilities: chi-square of ours, and of TFP's
    # sampler as a sanity check of the reference itself.
    n, logits = 200_000, np.array([1.0, -0.5, 0.2], np.float32)
    probs = np.exp(logits) / np.exp(logits).sum()
    ours = ops.gumbel_max(np.tile(logits, (n, 1)), seed=2)
    theirs = tfp.distributions.OneHotCategorical(logits=logits).sample(
        n, seed=(1, 2))
    assert_chi_square(tf.reduce_sum(ours, 0), probs)
    assert_chi_square(tf.reduce_sum(theirs, 0), probs)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_one_hot_in_input_dtype(dtype):
    logits = tf.cast(tf.random.stateless_normal([100, 4, 6], [1, 2]) * 100, dtype)
    out = ops.gumbel_max(logits, axis=1, seed=3)
    assert out.dtype == logits.dtype and out.shape == logits.shape
    np.testing.assert_array_equal(tf.reduce_sum(tf.cast(out, tf.float32), 1), 1.0)


def test_no_gradient():
    logits = tf.zeros([2, 3])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        y = ops.gumbel_max(logits, seed=0)
    assert tape.gradient(y, logits) is None


def test_errors():
    with pytest.raises(TypeError, match="`logits`"):
        ops.gumbel_max([1, 2, 3])
    with pytest.raises(ValueError, match="`axis`.*Received: axis=1"):
        ops.gumbel_max([1.0, 2.0], axis=1)
