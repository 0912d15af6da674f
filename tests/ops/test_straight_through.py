"""Tests for keras_gumbel.ops.straight_through."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gumbel import ops

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_forward_one_hot_backward_identity(dtype):
    y = tf.cast([[0.2, 0.7, 0.1], [0.5, 0.1, 0.4]], dtype)
    w = tf.cast([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype)
    with tf.GradientTape() as tape:
        tape.watch(y)
        out = ops.straight_through(y)
        loss = tf.reduce_sum(out * w)
    assert out.dtype == y.dtype
    np.testing.assert_array_equal(tf.cast(out, tf.float32),
                                  [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(tf.cast(tape.gradient(loss, y), tf.float32), w)


def test_exactly_one_hot_with_ties_and_axis():
    y = tf.constant([[0.5, 0.5], [0.5, 0.5]])
    out = ops.straight_through(y, axis=0)
    np.testing.assert_array_equal(out, [[1, 1], [0, 0]])


def test_errors():
    with pytest.raises(ValueError, match="`y`.*rank >= 1"):
        ops.straight_through(tf.constant(1.0))
    with pytest.raises(TypeError, match="`y`"):
        ops.straight_through(tf.constant([1, 2]))
