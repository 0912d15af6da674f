"""Tests for keras_gumbel.ops.gumbel: Gumbel sampling, log-density and CDF."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import stats

from keras_gumbel import ops
from tests.stats_utils import assert_ks_1samp, assert_ks_2samp

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

tfd = tfp.distributions


@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (-2.0, 0.5), (3.0, 4.0)])
def test_log_prob_and_cdf_match_tfp_float64(loc, scale):
    x = np.linspace(-10.0, 30.0, 401)
    ref = tfd.Gumbel(np.float64(loc), np.float64(scale))
    np.testing.assert_allclose(ops.gumbel_log_prob(x, loc, scale),
                               ref.log_prob(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ops.gumbel_cdf(x, loc, scale), ref.cdf(x),
                               rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(ops.gumbel_log_prob(x, loc, scale),
                               stats.gumbel_r.logpdf(x, loc, scale), rtol=1e-12)


def test_log_prob_keeps_dtype_and_computes_in_float32():
    x = tf.constant([-3.0, 0.0, 5.0], tf.float16)
    out = ops.gumbel_log_prob(x)
    assert out.dtype == tf.float16
    np.testing.assert_allclose(out.numpy().astype(np.float64),
                               stats.gumbel_r.logpdf([-3.0, 0.0, 5.0]),
                               rtol=2e-3)


def test_samples_follow_gumbel_cdf():
    # KS against the closed-form CDF; p-value threshold 1e-8 (stats_utils).
    g = ops.sample_gumbel([200_000], loc=1.5, scale=2.0, seed=11)
    assert_ks_1samp(g, stats.gumbel_r(loc=1.5, scale=2.0).cdf)


def test_samples_match_tfp_sampler():
    ours = ops.sample_gumbel([100_000], loc=-1.0, scale=0.7, seed=3)
    theirs = tfd.Gumbel(-1.0, 0.7).sample(100_000, seed=(4, 5))
    assert_ks_2samp(ours, theirs)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_sample_dtype_shape_finite(dtype):
    g = ops.sample_gumbel(tf.constant([1000, 3]), dtype=dtype, seed=1)
    assert g.dtype == tf.as_dtype(dtype)
    assert g.shape == (1000, 3)
    assert np.all(np.isfinite(tf.cast(g, tf.float64).numpy()))


def test_sample_errors():
    with pytest.raises(ValueError, match="`scale`.*Received: scale=0"):
        ops.sample_gumbel([3], scale=0.0)
    with pytest.raises(TypeError, match="`dtype`.*int32"):
        ops.sample_gumbel([3], dtype="int32")
    with pytest.raises(TypeError, match="`x`.*int32"):
        ops.gumbel_log_prob(tf.constant([1, 2]))
