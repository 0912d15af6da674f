"""Tests for keras_gumbel.layers.RelaxedBernoulli.

The machinery shared with `GumbelSoftmax` (temperature variable, learned
temperature, seed generator, replicas) is tested in
test_layers_gumbel_softmax.py; here what is specific to the binary layer.
"""

import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gumbel import testing
from keras_gumbel.layers import RelaxedBernoulli

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself


def _logits(shape=(4, 6), seed=0, scale=2.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(
        "float32")


@pytest.mark.parametrize("kwargs", [
    {"inference_mode": "sample", "temperature": 0.5, "seed": 1},
    {"inference_mode": "round", "hard": True, "seed": 2},
    {"inference_mode": "sigmoid", "temperature": 2.0, "seed": 3},
])
def test_run_layer_test_every_mode(kwargs):
    testing.run_layer_test(RelaxedBernoulli, kwargs, _logits((3, 4, 6)),
                           expected_num_trainable_weights=0,
                           expected_num_non_trainable_weights=1)


def test_run_layer_test_learned_temperature():
    testing.run_layer_test(
        RelaxedBernoulli, {"learn_temperature": True, "seed": 4}, _logits(),
        expected_num_trainable_weights=1,
        expected_num_non_trainable_weights=0)


@pytest.mark.parametrize("kwargs, name, value", [
    ({"temperature": 0}, "temperature", "0"),
    ({"temperature": math.inf}, "temperature", "inf"),
    ({"inference_mode": "argmax"}, "inference_mode", "'argmax'"),
    ({"inference_mode": "softmax"}, "inference_mode", "'softmax'"),
    ({"hard": None}, "hard", "None"),
    ({"seed": "0"}, "seed", "'0'"),
])
def test_invalid_arguments_raise_in_init(kwargs, name, value):
    with pytest.raises(ValueError, match=re.escape(
            f"argument `{name}`.") + ".*" + re.escape(f"{name}={value}")):
        RelaxedBernoulli(**kwargs)


def test_layer_has_no_axis_or_estimator():
    config = RelaxedBernoulli().get_config()
    for name in ("axis", "estimator", "estimator_samples"):
        assert name not in config
    with pytest.raises(ValueError, match="axis"):
        RelaxedBernoulli(axis=-1)


def test_training_flag_and_inference_modes():
    x = _logits((8, 6))
    x[0, 0] = 0.0  # `logits > 0`: exactly 0 rounds down
    tau = 0.6
    for training in (None, False):
        np.testing.assert_array_equal(
            RelaxedBernoulli(inference_mode="round")(x, training=training),
            (x > 0).astype("float32"))
        np.testing.assert_allclose(
            RelaxedBernoulli(temperature=tau, inference_mode="sigmoid")(
                x, training=training), tf.sigmoid(x / tau), rtol=1e-6)
    sample = RelaxedBernoulli(inference_mode="round", seed=0)(
        x, training=True).numpy()
    assert np.all((sample >= 0) & (sample <= 1))
    assert not np.all((sample == 0) | (sample == 1))
    layer = RelaxedBernoulli(hard=True, seed=0)
    first, second = layer(x), layer(x)  # "sample" mode samples at inference
    assert not np.array_equal(first, second)


def test_hard_sample_is_round_of_relaxed_sample():
    x = _logits((16, 6), scale=4.0)
    hard = RelaxedBernoulli(temperature=0.3, hard=True, seed=9)(
        x, training=True).numpy()
    relaxed = RelaxedBernoulli(temperature=0.3, seed=9)(
        x, training=True).numpy()
    assert np.all((hard == 0) | (hard == 1))
    np.testing.assert_array_equal(hard, relaxed > 0.5)


def test_hard_gradient_is_straight_through():
    x = tf.constant(_logits((4, 6)))
    layer = RelaxedBernoulli(temperature=0.5, hard=True, seed=2)
    twin = RelaxedBernoulli(temperature=0.5, seed=2)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        hard = layer(x, training=True)
        relaxed = twin(x, training=True)
    np.testing.assert_allclose(tape.gradient(hard, x),
                               tape.gradient(relaxed, x), rtol=1e-6)


def test_hard_samples_follow_sigmoid_of_logits():
    # Mean of n Bernoulli samples against p = sigmoid(0.8). Hoeffding:
    # P(|mean - p| > t) <= 2 exp(-2 n t^2) = 1e-6 for
    # t = sqrt(log(2e6) / (2n)) ~= 0.019.
    n = 20000
    layer = RelaxedBernoulli(temperature=0.2, hard=True, seed=5)
    mean = float(layer(np.full((n, 1), 0.8, "float32"), training=True)
                 .numpy().mean())
    p = 1.0 / (1.0 + math.exp(-0.8))
    assert abs(mean - p) < math.sqrt(math.log(2e6) / (2 * n))


@pytest.mark.parametrize("policy", testing.PRECISION_POLICIES)
def test_global_mixed_precision_extremes(policy):
    extreme = np.array([[1e4, -1e4, 0.0, 3.0, -3.0]], "float32")
    with testing.global_policy(policy):
        compute = keras.DTypePolicy(policy).compute_dtype
        for kwargs in ({"hard": True}, {"inference_mode": "sigmoid"}, {}):
            layer = RelaxedBernoulli(temperature=1e-3, seed=0, **kwargs)
            for training in (True, False):
                out = layer(extreme, training=training)
                assert out.dtype == compute
                out = keras.ops.convert_to_numpy(
                    keras.ops.cast(out, "float32"))
                assert np.all((out >= 0) & (out <= 1))
                np.testing.assert_array_equal(out[0, :2], [1, 0])
            assert layer.temperature.dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"


def test_keras_file_round_trip(tmp_path):
    for mode in ("round", "sigmoid"):
        model = keras.Sequential([
            keras.Input((5,)), keras.layers.Dense(6),
            RelaxedBernoulli(temperature=0.9, hard=True, inference_mode=mode,
                             seed=3),
        ])
        model.layers[-1].set_temperature(0.45)
        restored = testing.check_keras_file_round_trip(
            model, _logits((6, 5)), str(tmp_path / f"{mode}.keras"))
        np.testing.assert_allclose(restored.layers[-1].temperature.numpy(),
                                   0.45)


def test_tf_saved_model_with_sampling(tmp_path):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6),
                              RelaxedBernoulli(hard=True, seed=0)])
    first, second = testing.serve_twice_from_saved_model(
        model, np.zeros((32, 5), "float32"), str(tmp_path / "saved"))
    assert first.shape == (32, 6)
    assert np.all((first == 0) | (first == 1))
    assert not np.array_equal(first, second)
