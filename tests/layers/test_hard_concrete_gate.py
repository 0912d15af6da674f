"""Tests for keras_gumbel.layers.HardConcreteGate, on every backend.

The contract every layer meets (config, calls, a fit step, mixed precision,
`.keras` files) is in test_contract.py; here what is new about the gate.

Statistical checks: 2 Hoeffding bounds at `stats_utils.DELTA` = 1e-8 and
one at 1e-8 on the initial `log_alpha` (a chi-square bound on its sample
variance and a Gaussian bound on its mean, see the test): a correct layer
fails this file with probability below 1e-7. The synthetic regression is
not statistical: it has fixed seeds, and its margins are stated there.
"""

import math
import re

import keras
import numpy as np
import pytest
from scipy import special, stats

import keras_gumbel as kg
from keras_gumbel.layers import HardConcreteGate
from tests import stats_utils
from tests.backend_utils import to_numpy

X = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
SHIFT = math.log(0.1 / 1.1)  # log(-gamma / zeta) of the default limits


@pytest.mark.parametrize("kwargs, name, value", [
    ({"l0_penalty": -0.1}, "l0_penalty", "-0.1"),
    ({"limits": (0.0, 1.1)}, "limits", "(0.0, 1.1)"),
    ({"limits": (-0.1, 1.0)}, "limits", "(-0.1, 1.0)"),
    ({"inference_mode": "round"}, "inference_mode", "'round'"),
    ({"droprate_init": 1.0}, "droprate_init", "1.0"),
    ({"droprate_init": 0}, "droprate_init", "0"),
    ({"temperature": 0}, "temperature", "0"),
])
def test_invalid_arguments_raise_in_init(kwargs, name, value):
    with pytest.raises(ValueError, match=re.escape(
            f"argument `{name}`.") + ".*" + re.escape(f"{name}={value}")):
        HardConcreteGate(**kwargs)
    with pytest.raises(TypeError, match="`l0_penalty`"):
        HardConcreteGate(l0_penalty="1")


def test_config_holds_every_argument():
    layer = HardConcreteGate(l0_penalty=0.5, temperature=0.4,
                             limits=[-0.2, 1.2], inference_mode="sample",
                             seed=4, droprate_init=0.3)
    config = layer.get_config()
    assert {k: config[k] for k in ("l0_penalty", "temperature", "limits",
                                   "inference_mode", "seed", "droprate_init",
                                   "learn_temperature")} == {
        "l0_penalty": 0.5, "temperature": 0.4, "limits": (-0.2, 1.2),
        "inference_mode": "sample", "seed": 4, "droprate_init": 0.3,
        "learn_temperature": False}
    assert HardConcreteGate().inference_mode == "deterministic"
    assert HardConcreteGate().get_config()["temperature"] == 2 / 3


def test_log_alpha_initialised_as_louizos():
    # log_alpha ~ Normal(log(1 - d) - log(d), 0.01) per feature. Mean of n:
    # |mean - mu| < 0.01 * z / sqrt(n) with z = Phi^-1(1 - 1e-8 / 4); sample
    # variance: (n - 1) s^2 / 0.01^2 ~ chi2(n - 1), inside its 1e-8 / 4 and
    # 1 - 1e-8 / 4 quantiles. Both together fail with probability < 1e-8.
    n, d = 4000, 0.2
    layer = HardConcreteGate(droprate_init=d, seed=5)
    layer.build((None, n))
    assert [w.name for w in layer.trainable_weights] == ["log_alpha"]
    values = to_numpy(layer.log_alpha).astype(np.float64)
    z = stats.norm.isf(1e-8 / 4)
    assert abs(values.mean() - math.log((1 - d) / d)) < 0.01 * z / math.sqrt(n)
    chi = (n - 1) * values.var(ddof=1) / 0.01 ** 2
    assert stats.chi2.ppf(1e-8 / 4, n - 1) < chi < stats.chi2.isf(1e-8 / 4,
                                                                  n - 1)


def _set_log_alpha(layer, values):
    layer.log_alpha.assign(np.asarray(values, "float32"))


def test_deterministic_gate_mask_and_expected_l0():
    layer = HardConcreteGate(seed=6)
    layer.build((None, 5))
    log_alpha = np.float32([-30.0, -2.5, 0.0, 2.5, 30.0])
    _set_log_alpha(layer, log_alpha)
    gate = np.clip(special.expit(log_alpha.astype(np.float64)) * 1.2 - 0.1,
                   0, 1)
    assert gate[0] == 0 and gate[-1] == 1 and 0 < gate[2] < 1
    for training in (None, False):
        np.testing.assert_allclose(to_numpy(layer(X, training=training)),
                                   X * gate, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(to_numpy(layer.active_mask()), gate > 0)
    np.testing.assert_allclose(
        to_numpy(layer.expected_l0()),
        special.expit(log_alpha - 2 / 3 * SHIFT).sum(), rtol=1e-6)
    # The temperature enters the L0 closed form (an annealing schedule).
    layer.set_temperature(0.3)
    np.testing.assert_allclose(
        to_numpy(layer.expected_l0()),
        special.expit(log_alpha - 0.3 * SHIFT).sum(), rtol=1e-6)


def test_training_gates_are_per_example_and_follow_the_law():
    # n examples of ones, rank 3: the gate is shared over the middle axis
    # and fresh per example. Zeros per feature against
    # P(z = 0) = 1 - sigmoid(log_alpha - tau log(-gamma / zeta)), Hoeffding
    # at DELTA for each of the 2 features.
    n = 40_000
    layer = HardConcreteGate(seed=7)
    layer.build((None, 3, 2))
    _set_log_alpha(layer, [-1.0, 1.5])
    z = to_numpy(layer(np.ones((n, 3, 2), "float32"), training=True))
    np.testing.assert_array_equal(z, np.repeat(z[:, :1], 3, axis=1))
    z = z[:, 0]
    assert np.all((z >= 0) & (z <= 1))
    assert not np.array_equal(z[: n // 2], z[n // 2:])
    closed = 1 - special.expit(np.array([-1.0, 1.5]) - 2 / 3 * SHIFT)
    assert np.all(np.abs(np.mean(z == 0, 0) - closed)
                  < stats_utils.hoeffding(n)), np.mean(z == 0, 0)
    # "sample" mode samples outside training too.
    sampler = HardConcreteGate(inference_mode="sample", seed=8)
    first, second = (to_numpy(sampler(X)) for _ in range(2))
    assert not np.array_equal(first, second)


def test_l0_penalty_is_added_to_the_losses():
    layer = HardConcreteGate(l0_penalty=0.25, seed=9)
    model = keras.Sequential([keras.Input((5,)), layer])
    model(X, training=True)
    assert len(model.losses) == 1
    np.testing.assert_allclose(to_numpy(model.losses[0]),
                               0.25 * to_numpy(layer.expected_l0()),
                               rtol=1e-6)
    quiet = keras.Sequential([keras.Input((5,)), HardConcreteGate(seed=9)])
    quiet(X, training=True)
    assert quiet.losses == []


def test_penalty_gradient_in_a_fit_step():
    # No data term (a loss of 0 * output): one SGD step of rate 1 moves
    # log_alpha by -l0_penalty * d/dlog_alpha sum(p) = -l0_penalty p (1 - p),
    # p = sigmoid(log_alpha - tau log(-gamma / zeta)).
    layer = HardConcreteGate(l0_penalty=0.5, seed=10)
    model = keras.Sequential([keras.Input((5,)), layer])
    model.compile(keras.optimizers.SGD(1.0), loss=lambda y, p: 0.0 * p)
    model(X)
    _set_log_alpha(layer, [-2.0, -0.5, 0.0, 1.0, 3.0])
    before = to_numpy(layer.log_alpha).astype(np.float64)
    model.fit(X, X, batch_size=len(X), epochs=1, verbose=0)
    p = special.expit(before - 2 / 3 * SHIFT)
    np.testing.assert_allclose(to_numpy(layer.log_alpha),
                               before - 0.5 * p * (1 - p), rtol=1e-5)


def test_temperature_scheduler_finds_and_sets_the_gate():
    gate = HardConcreteGate(l0_penalty=1e-3, seed=11)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4),
                              gate, keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(1e-2), "mse")
    model.fit(X, X[:, :2], epochs=1, verbose=0, callbacks=[
        kg.callbacks.TemperatureScheduler(lambda step: 0.5)])
    np.testing.assert_allclose(to_numpy(gate.temperature), 0.5)


def test_mixed_precision_output_and_float32_penalty():
    layer = HardConcreteGate(l0_penalty=0.1, seed=12, dtype="mixed_float16")
    y = layer(X, training=True)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert keras.backend.standardize_dtype(layer.log_alpha.dtype) == "float32"
    assert keras.backend.standardize_dtype(
        layer.losses[0].dtype) == "float32"


def _regression_data(n=512, features=8, informative=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    w = np.array([2.0, -1.5, 1.0] + [0.0] * (features - informative),
                 "float32")
    y = x @ w + 0.1 * rng.normal(size=n).astype("float32")
    return x, y[:, None]


def test_gate_keeps_the_informative_features():
    # y depends on features 0, 1, 2 only (weights 2, -1.5, 1; noise 0.1).
    # Closing an informative feature costs at least 1.0^2 = 1 in mean squared
    # error; keeping an uninformative one costs l0_penalty * P(open) < 0.05.
    # So the only good solutions keep exactly the first three.
    keras.utils.set_random_seed(0)
    x, y = _regression_data()
    gate = HardConcreteGate(l0_penalty=0.05, seed=13)
    model = keras.Sequential([keras.Input((8,)), gate,
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    model.fit(x, y, batch_size=128, epochs=60, verbose=0)
    mask = to_numpy(gate.active_mask())
    np.testing.assert_array_equal(mask, [True] * 3 + [False] * 5)
    # The pruned model predicts as well as the truth allows (noise 0.1).
    mse = float(np.mean((to_numpy(model(x, training=False)) - y) ** 2))
    assert mse < 0.05, mse
