"""Tests for the `seed` argument shared by every op."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gumbel import ops

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

LOGITS = tf.zeros([8, 16])


def _draw(seed):
    return ops.gumbel_softmax(LOGITS, seed=seed).numpy()


def test_int_and_tensor_seeds_repeat():
    np.testing.assert_array_equal(_draw(5), _draw(5))
    assert not np.array_equal(_draw(5), _draw(6))
    seed = tf.constant([3, 4])
    np.testing.assert_array_equal(_draw(seed), _draw(seed))
    np.testing.assert_array_equal(_draw(seed), _draw(np.array([3, 4])))


def test_none_and_generators_advance():
    assert not np.array_equal(_draw(None), _draw(None))
    generator = keras.random.SeedGenerator(1)
    first = _draw(generator)
    assert not np.array_equal(first, _draw(generator))
    np.testing.assert_array_equal(first, _draw(keras.random.SeedGenerator(1)))
    tf_generator = tf.random.Generator.from_seed(2)
    assert not np.array_equal(_draw(tf_generator), _draw(tf_generator))


@pytest.mark.parametrize("jit", [False, True])
def test_none_is_fresh_on_every_call_of_a_compiled_function(jit):
    generator = keras.random.SeedGenerator(7)

    @tf.function(jit_compile=jit)
    def draw():
        return (ops.gumbel_softmax(LOGITS), ops.gumbel_max(LOGITS),
                ops.relaxed_bernoulli(LOGITS), ops.sample_gumbel([8]),
                ops.gumbel_softmax(LOGITS, seed=generator),
                ops.gumbel_softmax(LOGITS, seed=9))

    a, b = draw(), draw()
    for x, y in zip(a[:5], b[:5]):
        assert not np.array_equal(x, y)
    np.testing.assert_array_equal(a[5], b[5])


def test_seed_errors():
    with pytest.raises(TypeError, match="`seed`.*Received: seed='a'"):
        _draw("a")
    with pytest.raises(TypeError, match="`seed`.*Received: seed=True"):
        _draw(True)
    with pytest.raises(ValueError, match="`seed`.*shape-\\[2\\]"):
        _draw(tf.constant([1, 2, 3]))
    with pytest.raises(ValueError, match="`seed`.*shape-\\[2\\]"):
        _draw(tf.constant([1.0, 2.0]))
    with pytest.raises(ValueError, match="`seed`.*int64"):
        _draw(2**70)
