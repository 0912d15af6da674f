"""Tests for keras_gumbel.layers.RelaxedBernoulli.

The machinery shared with `GumbelSoftmax` (temperature variable, learned
temperature, seed generator, replicas) is tested in test_gumbel_softmax.py
and the contract every layer meets in test_contract.py; here what is specific
to the binary layer, on every backend (the SavedModel test: TensorFlow).
"""

import re

import keras
import numpy as np
import pytest
from scipy import special

import keras_gumbel as kg
from keras_gumbel import testing
from keras_gumbel.layers import RelaxedBernoulli
from tests.backend_utils import to_numpy, value_and_grad


def _logits(shape=(4, 6), seed=0, scale=2.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(
        "float32")


@pytest.mark.parametrize("kwargs, error, name, value", [
    ({"temperature": 0}, ValueError, "temperature", "0"),
    ({"temperature": float("inf")}, ValueError, "temperature", "inf"),
    ({"inference_mode": "argmax"}, ValueError, "inference_mode",
     "'argmax'"),
    ({"inference_mode": "softmax"}, ValueError, "inference_mode",
     "'softmax'"),
    ({"hard": None}, TypeError, "hard", "None"),
    ({"seed": "0"}, TypeError, "seed", "'0'"),
])
def test_invalid_arguments_raise_in_init(kwargs, error, name, value):
    with pytest.raises(error, match=re.escape(
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
            to_numpy(RelaxedBernoulli(inference_mode="round")(
                x, training=training)), (x > 0).astype("float32"))
        np.testing.assert_allclose(
            to_numpy(RelaxedBernoulli(temperature=tau,
                                      inference_mode="sigmoid")(
                x, training=training)), special.expit(x / tau), rtol=1e-6)
    # training=True samples: the op's sample given a twin of the layer's
    # generator (whose law tests/ops checks), relaxed, in [0, 1].
    sample = to_numpy(RelaxedBernoulli(temperature=tau, inference_mode="round",
                                       seed=0)(x, training=True))
    np.testing.assert_array_equal(sample, to_numpy(kg.ops.relaxed_bernoulli(
        x, tau, seed=keras.random.SeedGenerator(0))))
    assert np.all((sample >= 0) & (sample <= 1))
    assert not np.all((sample == 0) | (sample == 1))
    layer = RelaxedBernoulli(hard=True, seed=0)
    # "sample" mode samples at inference
    first, second = to_numpy(layer(x)), to_numpy(layer(x))
    assert not np.array_equal(first, second)


def test_hard_sample_is_round_of_relaxed_sample():
    x = _logits((16, 6), scale=4.0)
    hard = to_numpy(RelaxedBernoulli(temperature=0.3, hard=True, seed=9)(
        x, training=True))
    relaxed = to_numpy(RelaxedBernoulli(temperature=0.3, seed=9)(
        x, training=True))
    assert np.all((hard == 0) | (hard == 1))
    np.testing.assert_array_equal(hard, relaxed > 0.5)


def test_hard_gradient_is_straight_through():
    x = _logits((4, 6))
    _, (hard,) = value_and_grad(
        lambda v: RelaxedBernoulli(temperature=0.5, hard=True, seed=2)(
            v, training=True), x)
    _, (relaxed,) = value_and_grad(
        lambda v: RelaxedBernoulli(temperature=0.5, seed=2)(
            v, training=True), x)
    assert np.any(relaxed != 0)
    np.testing.assert_allclose(hard, relaxed, rtol=1e-6)


@pytest.mark.parametrize("policy", testing.PRECISION_POLICIES)
def test_global_mixed_precision_extremes(policy):
    extreme = np.array([[1e4, -1e4, 0.0, 3.0, -3.0]], "float32")
    with testing.global_policy(policy):
        compute = keras.DTypePolicy(policy).compute_dtype
        for kwargs in ({"hard": True}, {"inference_mode": "sigmoid"}, {}):
            layer = RelaxedBernoulli(temperature=1e-3, seed=0, **kwargs)
            for training in (True, False):
                out = layer(extreme, training=training)
                assert keras.backend.standardize_dtype(out.dtype) == compute
                out = to_numpy(keras.ops.cast(out, "float32"))
                assert np.all((out >= 0) & (out <= 1))
                np.testing.assert_array_equal(out[0, :2], [1, 0])
            assert layer.temperature.dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.backends("tensorflow")
def test_tf_saved_model_with_sampling(tmp_path):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(6),
                              RelaxedBernoulli(hard=True, seed=0)])
    first, second = testing.serve_twice_from_saved_model(
        model, np.zeros((32, 5), "float32"), str(tmp_path / "saved"))
    assert first.shape == (32, 6)
    assert np.all((first == 0) | (first == 1))
    assert not np.array_equal(first, second)
