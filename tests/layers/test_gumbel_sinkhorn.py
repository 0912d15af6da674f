"""Tests for keras_gumbel.layers.GumbelSinkhorn (backend-neutral).

The layer contract (config, `.keras` files, fit, mixed precision) is in
test_contract.py; here what is specific to permutations. Inputs are [24, 7, 7] where the
matching runs, the shape the ops tests compile (once per shape).
"""

import math
import re

import keras
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import keras_gumbel as kg
from keras_gumbel import testing
from keras_gumbel.layers import GumbelSinkhorn
from keras_gumbel.ops import gumbel_sinkhorn, sinkhorn
from tests.backend_utils import to_numpy

SHAPE = (24, 7, 7)


def _scores(shape=SHAPE, seed=0):
    return (2 * np.random.default_rng(seed).normal(size=shape)).astype(
        "float32")


def _scipy_matching(x):
    out = np.zeros(x.shape)
    for b, m in enumerate(x):
        rows, cols = linear_sum_assignment(m, maximize=True)
        out[b][rows, cols] = 1.0
    return out


def test_every_mode_outputs():
    x = _scores()
    layer = GumbelSinkhorn(temperature=0.5, n_iters=10, seed=4)
    np.testing.assert_array_equal(to_numpy(layer(x)), _scipy_matching(x))
    soft = GumbelSinkhorn(temperature=0.5, n_iters=10,
                          inference_mode="sinkhorn")
    np.testing.assert_allclose(to_numpy(soft(x)),
                               to_numpy(sinkhorn(x / 0.5, 10)), atol=1e-6)
    # Training: the op with the layer's generator (same seed, same draws).
    expected = gumbel_sinkhorn(x, 0.5, n_iters=10,
                               seed=keras.random.SeedGenerator(4))
    np.testing.assert_allclose(to_numpy(layer(x, training=True)),
                               to_numpy(expected), atol=1e-6)
    sample = GumbelSinkhorn(hard=True, inference_mode="sample", seed=5)
    first, second = to_numpy(sample(x)), to_numpy(sample(x))
    for y in (first, second):
        np.testing.assert_array_equal(y.sum(-1), 1.0)
        np.testing.assert_array_equal(y.sum(-2), 1.0)
    assert not np.array_equal(first, second)


def test_annealing_reaches_the_sinkhorn_mode():
    x = _scores((4, 5, 5))
    layer = GumbelSinkhorn(temperature=1.0, n_iters=3,
                           inference_mode="sinkhorn")
    before = to_numpy(layer(x))
    layer.set_temperature(0.25)
    np.testing.assert_allclose(to_numpy(layer(x)),
                               to_numpy(sinkhorn(x / 0.25, 3)), atol=1e-6)
    assert not np.allclose(before, to_numpy(layer(x)))


@pytest.mark.slow  # a fit; the contract table covers the .keras file
def test_keras_file_round_trip_with_the_scheduler(tmp_path):
    n, steps = 5, 4
    inputs = keras.Input((n, 1))
    scores = keras.layers.Dense(n)(inputs)
    perm = GumbelSinkhorn(temperature=1.0, n_iters=5, seed=6,
                          name="perm")(scores)
    model = keras.Model(inputs, keras.ops.matmul(perm, inputs))
    model.compile(optimizer="adam", loss="mse")
    schedule = kg.schedules.ExponentialDecay(
        initial=1.0, rate=math.log(10) / steps, minimum=0.1)
    x = np.random.default_rng(0).random((8, n, 1)).astype("float32")
    history = model.fit(x, np.sort(x, axis=1), batch_size=2, epochs=1,
                        verbose=0, callbacks=[
                            kg.callbacks.TemperatureScheduler(schedule)])
    assert history.history["temperature"][-1] == pytest.approx(
        schedule(steps - 1))
    testing.check_keras_file_round_trip(model, x,
                                        str(tmp_path / "model.keras"))


@pytest.mark.parametrize("kwargs, name, value", [
    ({"n_iters": 0}, "n_iters", "0"),
    ({"noise_factor": -1.0}, "noise_factor", "-1.0"),
    ({"temperature": 0}, "temperature", "0"),
    ({"inference_mode": "top_k"}, "inference_mode", "'top_k'"),
])
def test_invalid_arguments_raise_in_init(kwargs, name, value):
    with pytest.raises(ValueError, match=re.escape(
            f"argument `{name}`.") + ".*" + re.escape(f"{name}={value}")):
        GumbelSinkhorn(**kwargs)


@pytest.mark.parametrize("shape", [(4, 5), (4, 5, 6), (4, 5, None)])
def test_non_square_inputs_raise_at_build(shape):
    with pytest.raises(ValueError, match="n, n"):
        GumbelSinkhorn().build(shape)
