"""Tests for keras_gumbel.schedules."""

import math
import re

import keras
import numpy as np
import pytest

from keras_gumbel import schedules

STEPS = np.array([0, 1, 2, 499, 500, 501, 999, 1000, 4321, 10**4, 10**5,
                  10**7])


def test_exponential_decay_is_the_papers_schedule():
    # Jang et al. 2017: tau = max(0.5, exp(-r t)), updated every N steps.
    schedule = schedules.ExponentialDecay(initial=1.0, rate=1e-4,
                                          minimum=0.5, every=500)
    expected = np.maximum(0.5, np.exp(-1e-4 * 500 * np.floor(STEPS / 500)))
    got = np.array([schedule(int(s)) for s in STEPS])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # Constant within each block of `every` steps, a jump at the boundary.
    assert schedule(0) == schedule(499) == 1.0
    assert schedule(500) == pytest.approx(math.exp(-0.05), rel=1e-12)
    # The floor is reached (exp(-1e-4 t) = 0.5 at t = 6931.5) and kept.
    assert schedule(7000) == 0.5 and schedule(10**9) == 0.5
    assert isinstance(schedule(3), float)


def test_exponential_decay_every_one_and_zero_rate():
    schedule = schedules.ExponentialDecay(initial=2.0, rate=1e-3,
                                          minimum=0.1)
    for step in STEPS:
        assert schedule(int(step)) == pytest.approx(
            max(0.1, 2.0 * math.exp(-1e-3 * step)), rel=1e-12)
    constant = schedules.ExponentialDecay(initial=0.7, rate=0.0, minimum=0.7)
    assert {constant(int(s)) for s in STEPS} == {0.7}


@pytest.mark.parametrize("initial,final", [(1.0, 0.5), (0.2, 3.0)])
def test_linear_decay(initial, final):
    schedule = schedules.LinearDecay(initial=initial, final=final, steps=400)
    for step in [0, 1, 100, 200, 399, 400, 401, 10**6]:
        expected = final + (initial - final) * max(0.0, 1 - step / 400)
        assert schedule(step) == pytest.approx(expected, rel=1e-12)
    assert schedule(0) == initial and schedule(400) == final


@pytest.mark.parametrize("initial,final", [(1.0, 0.5), (0.2, 3.0)])
def test_cosine_decay(initial, final):
    schedule = schedules.CosineDecay(initial=initial, final=final, steps=400)
    values = [schedule(s) for s in range(0, 401)]
    for step in [0, 1, 100, 200, 300, 399, 400]:
        expected = final + (initial - final) * 0.5 * (
            1 + math.cos(math.pi * step / 400))
        assert schedule(step) == pytest.approx(expected, rel=1e-12)
    assert schedule(200) == pytest.approx((initial + final) / 2, rel=1e-12)
    assert schedule(401) == schedule(10**6) == pytest.approx(final, rel=1e-12)
    # Monotone from initial to final, flat at both ends.
    diffs = np.diff(values) * np.sign(final - initial)
    assert np.all(diffs >= 0)
    assert abs(values[1] - values[0]) < abs(values[201] - values[200]) / 100


def test_numpy_integer_steps_are_accepted():
    schedule = schedules.LinearDecay(steps=10)
    assert schedule(np.int64(5)) == schedule(5) == 0.75


@pytest.mark.parametrize("schedule", [
    schedules.ExponentialDecay(initial=3.0, rate=2e-5, minimum=0.25,
                               every=1000),
    schedules.LinearDecay(initial=2.0, final=0.3, steps=77),
    schedules.CosineDecay(initial=0.9, final=0.1, steps=5),
])
def test_serialization_round_trip(schedule):
    config = keras.saving.serialize_keras_object(schedule)
    assert config["registered_name"] == (
        f"keras_gumbel>{type(schedule).__name__}")
    restored = keras.saving.deserialize_keras_object(config)
    assert type(restored) is type(schedule)
    assert restored.get_config() == schedule.get_config()
    for step in STEPS:
        assert restored(int(step)) == schedule(int(step))
    clone = type(schedule).from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    assert repr(clone).startswith(type(schedule).__name__ + "(")


@pytest.mark.parametrize("cls,kwargs,error,match", [
    (schedules.ExponentialDecay, {"initial": 0}, ValueError,
     "argument `initial`. Expected a positive finite float. Received: "
     "initial=0.0"),
    (schedules.ExponentialDecay, {"initial": float("inf")}, ValueError,
     "initial=inf"),
    (schedules.ExponentialDecay, {"rate": -1e-4}, ValueError,
     "Expected a non-negative finite float. Received: rate=-0.0001"),
    (schedules.ExponentialDecay, {"rate": float("nan")}, ValueError,
     "rate=nan"),
    (schedules.ExponentialDecay, {"minimum": 0.0}, ValueError,
     "minimum=0.0"),
    (schedules.ExponentialDecay, {"initial": 0.4, "minimum": 0.5},
     ValueError, "Expected a positive float <= initial=0.4. "
     "Received: minimum=0.5"),
    (schedules.ExponentialDecay, {"every": 0}, ValueError,
     "Expected a positive int. Received: every=0"),
    (schedules.ExponentialDecay, {"every": 2.5}, TypeError, "every=2.5"),
    (schedules.ExponentialDecay, {"initial": "1"}, TypeError,
     "initial='1'"),
    (schedules.ExponentialDecay, {"initial": True}, TypeError,
     "initial=True"),
    (schedules.LinearDecay, {"final": -0.5}, ValueError, "final=-0.5"),
    (schedules.LinearDecay, {"steps": 0}, ValueError, "steps=0"),
    (schedules.CosineDecay, {"steps": -3}, ValueError, "steps=-3"),
    (schedules.CosineDecay, {"initial": float("nan")}, ValueError,
     "initial=nan"),
    (schedules.CosineDecay, {"steps": None}, TypeError, "steps=None"),
])
def test_invalid_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=re.escape(match)):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [schedules.ExponentialDecay,
                                 schedules.LinearDecay,
                                 schedules.CosineDecay])
def test_invalid_step(cls):
    schedule = cls()
    with pytest.raises(ValueError, match="Received: step=-1"):
        schedule(-1)
    with pytest.raises(TypeError, match="Received: step=1.5"):
        schedule(1.5)
    with pytest.raises(TypeError, match="Received: step=True"):
        schedule(True)
