"""No NaN or inf from noise, large logits, small temperatures or half precision.

Each dtype gets at least 1e6 draws (rows) per temperature, with logits
that mix +-1e4, 0 and -inf, for the relaxed and hard Gumbel-Softmax and the
relaxed Bernoulli, forward and backward.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_gumbel import ops

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

ROWS = 1_000_000
ROW = [1e4, -1e4, 0.0, 1e4 - 1.0, -np.inf, 3.0]


def _finite(t):
    return bool(np.all(np.isfinite(tf.cast(t, tf.float64).numpy())))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_gumbel_softmax_finite_over_a_million_draws(dtype):
    logits = tf.cast(tf.tile([ROW], [ROWS, 1]), dtype)
    w = tf.cast(tf.tile([[1.0, -2.0, 0.5, 3.0, 1.0, -1.0]], [ROWS, 1]), dtype)
    for tau in (1e-3, 1.0, 1e3):
        tau_t = tf.constant(tau, dtype)
        for hard in (False, True):
            with tf.GradientTape() as tape:
                tape.watch([logits, tau_t])
                y = ops.gumbel_softmax(logits, tau_t, hard=hard, seed=1)
                loss = tf.reduce_sum(tf.cast(y * w, tf.float32))
            g_logits, g_tau = tape.gradient(loss, [logits, tau_t])
            assert y.dtype == logits.dtype
            assert _finite(y), (dtype, tau, hard)
            assert _finite(g_logits) and _finite(g_tau), (dtype, tau, hard)
            # The -inf category is never drawn and gets no mass.
            assert float(tf.reduce_max(tf.cast(y[:, 4], tf.float32))) == 0.0
            sums = tf.reduce_sum(tf.cast(y, tf.float64), -1)
            tol = {"float16": 1e-2, "bfloat16": 2e-2}.get(dtype, 1e-5)
            np.testing.assert_allclose(sums, 1.0, atol=tol)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_relaxed_bernoulli_and_gumbel_finite(dtype):
    logits = tf.cast(tf.tile([[1e4, -1e4, 0.0, 5.0, -np.inf, np.inf]],
                             [ROWS // 6, 1]), dtype)
    for tau in (1e-3, 1.0, 1e3):
        tau_t = tf.constant(tau, dtype)
        for temperature in (tau, tau_t):
            for hard in (False, True):
                with tf.GradientTape() as tape:
                    tape.watch([logits, tau_t])
                    y = ops.relaxed_bernoulli(logits, temperature, hard, seed=2)
                g_logits, g_tau = tape.gradient(y, [logits, tau_t])
                assert _finite(y) and _finite(g_logits), (tau, hard)
                if temperature is tau_t:
                    assert _finite(g_tau), (dtype, tau, hard)
        lo, hi = tf.reduce_min(y), tf.reduce_max(y)
        assert float(lo) >= 0.0 and float(hi) <= 1.0
    assert _finite(ops.sample_gumbel([ROWS], dtype=dtype, seed=3))
