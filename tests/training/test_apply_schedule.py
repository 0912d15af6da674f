"""Tests for keras_gumbel.callbacks.apply_schedule (custom training loops).

Its use under `tf.distribute.MultiWorkerMirroredStrategy` is tested in
tests/test_multi_worker.py.
"""

import keras
import numpy as np
import pytest

import keras_gumbel as kg
from tests.backend_utils import to_numpy


def small_model():
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(3),
        kg.layers.GumbelSoftmax(seed=0)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_apply_schedule_for_custom_training_loops():
    model = small_model()
    layer = model.layers[-1]
    schedule = kg.schedules.LinearDecay(initial=2.0, final=1.0, steps=4)
    # The model (every Gumbel layer found in it) and the optimizer's counter.
    assert kg.callbacks.apply_schedule(
        schedule, model, model.optimizer.iterations) == 2.0
    assert to_numpy(layer.temperature) == 2.0
    x = np.zeros((4, 3), "float32")
    # Before each step, from the optimizer's counter, which the steps advance.
    for step in range(3):
        tau = kg.callbacks.apply_schedule(
            schedule, [layer], model.optimizer.iterations)
        assert tau == schedule(step)
        model.train_on_batch(x, x)
    assert kg.callbacks._training_step(model) == 3
    # Python and NumPy ints, and a single Gumbel layer as the root.
    assert kg.callbacks.apply_schedule(schedule, layer, 2) == 1.5
    assert kg.callbacks.apply_schedule(schedule, (layer,), np.int64(4)) == 1.0
    assert to_numpy(layer.temperature) == 1.0


def test_apply_schedule_errors():
    model = small_model()
    layer = model.layers[-1]
    with pytest.raises(TypeError, match="argument `schedule`. Expected a "
                       "callable"):
        kg.callbacks.apply_schedule(0.5, model, 0)
    with pytest.raises(TypeError, match="argument `layers`. Expected a Keras "
                       "model or layer"):
        kg.callbacks.apply_schedule(lambda step: 1.0, "model", 0)
    with pytest.raises(ValueError, match="Received: layers=\\[\\]"):
        kg.callbacks.apply_schedule(lambda step: 1.0, [], 0)
    with pytest.raises(TypeError, match="argument `layers`. Expected Keras "
                       "layers with a scalar `temperature` variable"):
        kg.callbacks.apply_schedule(lambda step: 1.0,
                                    [keras.layers.Dense(2)], 0)
    with pytest.raises(ValueError, match="apply_schedule found no "
                       "temperature layer of keras_gumbel .* in model"):
        kg.callbacks.apply_schedule(
            lambda step: 1.0, keras.Sequential([keras.layers.Dense(2)]), 0)
    learned = kg.layers.GumbelSoftmax(learn_temperature=True, name="learned")
    with pytest.raises(ValueError, match="Layer 'learned' learns its "
                       "temperature"):
        kg.callbacks.apply_schedule(lambda step: 1.0, [learned], 0)
    for bad, error in [(-1, ValueError), (1.5, TypeError), (True, TypeError),
                       (np.zeros(2, "int64"), TypeError),
                       (keras.ops.ones((), "float32"), TypeError)]:
        with pytest.raises(error, match="argument `step`. Expected a "
                           "non-negative int"):
            kg.callbacks.apply_schedule(lambda step: 1.0, model, bad)
    with pytest.raises(ValueError, match="returned 0.0 at step 3"):
        kg.callbacks.apply_schedule(lambda step: 0.0, model, 3)
    # Nothing was assigned by the failing calls.
    assert to_numpy(layer.temperature) == 1.0


def test_the_compiled_step_reads_the_applied_temperature():
    # Zero logits (a zero learning rate keeps them zero) and a loss of
    # mean(y**2) for y = softmax(g / tau) over K = 3 classes.
    # - tau = 100: float32 Gumbel noise lies in [-4.5, 15.9], so every
    #   y_i <= 1 / (1 + 2 exp(-20.4 / 100)) < 0.378 and the loss is at most
    #   0.378 / 3 < 0.126, always.
    # - tau = 0.01: the gap between the two largest of i.i.d. Gumbels is
    #   Exponential(1); when it is >= 0.05 (probability 0.95) the largest
    #   y_i >= 1 / (1 + 2 exp(-5)) and the row's mean(y**2) >= 0.324, and it
    #   is >= 1/9 always. A batch mean below 0.2 needs more than 58% of the
    #   256 rows to have a small gap: by Hoeffding, probability
    #   < exp(-2 * 256 * 0.53**2) < 1e-60.
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(3, kernel_initializer="zeros"),
        kg.layers.GumbelSoftmax(seed=0)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    x, y = np.zeros((256, 3), "float32"), np.zeros((256, 3), "float32")
    taus = [100.0, 0.01, 100.0, 0.01]
    for step, tau in enumerate(taus):
        assert kg.callbacks.apply_schedule(
            lambda s: taus[s], model, model.optimizer.iterations) == tau
        loss = float(np.asarray(model.train_on_batch(x, y)))
        assert (loss < 0.126) if tau == 100.0 else (loss > 0.2), (step, loss)
