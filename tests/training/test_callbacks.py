"""Tests for keras_gumbel.callbacks.TemperatureScheduler."""

import json
import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_gumbel as kg
from tests.backend_utils import BACKEND, to_numpy
from keras_gumbel.callbacks import TemperatureScheduler
from keras_gumbel.layers._base import find_layers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Behaviour test: a model whose loss is the mean, over a batch of rows of
# uniform logits, of max_i y_i for relaxed samples y = softmax(g / tau). That
# statistic depends strongly on tau (about 0.16 at tau=5, 0.47 at tau=1, 0.97
# at tau=0.05 for K=10), so the logged loss shows which temperature the
# compiled train step really used.
K = 10
BATCH = 4096
TAUS = [5.0, 1.0, 0.2, 0.05, 2.0]
# Hoeffding: the mean of n i.i.d. values in [0, 1] is off by more than t with
# probability <= 2 exp(-2 n t^2). With n = 4096 rows, t = 0.0483 gives
# <= 1e-8 per check; the NumPy reference (n = 200000) is off by more than
# 0.0069 with probability <= 1e-8. A tolerance of 0.056 bounds a false failure
# over the ~30 checks of this file (two jit modes, MirroredStrategy) by 1e-6,
# while the gap between the statistic at the scheduled temperature and at the
# initial temperature (1.0) is >= 0.19 for every tau in TAUS except 1.0.
TOLERANCE = 0.056
REFERENCE_N = 200_000


def expected_max_probability(tau, k=K, n=REFERENCE_N, seed=0):
    """NumPy Monte Carlo estimate of E[max_i softmax(g / tau)_i]."""
    rng = np.random.default_rng(seed)
    g = -np.log(-np.log(rng.uniform(np.finfo(np.float64).tiny, 1.0,
                                    size=(n, k))))
    z = g / tau
    z -= z.max(axis=1, keepdims=True)
    y = np.exp(z)
    return float((y.max(axis=1) / y.sum(axis=1)).mean())


def max_probability_loss(y_true, y_pred):
    del y_true
    return keras.ops.max(y_pred, axis=-1)


def annealed_model(jit_compile):
    """The statistic's model: the layer is nested one level deep."""
    inner = keras.Sequential([kg.layers.GumbelSoftmax(temperature=1.0,
                                                      seed=1)])
    # Zero logits that a zero learning rate keeps at zero: the optimizer
    # counts steps (the schedule's clock) but changes nothing, so only the
    # temperature changes between steps.
    dense = keras.layers.Dense(K, kernel_initializer="zeros")
    model = keras.Sequential([keras.Input((K,)), dense, inner])
    model.compile(optimizer=keras.optimizers.SGD(0.0),
                  loss=max_probability_loss, jit_compile=jit_compile)
    return model


class LogRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batch_logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(dict(logs))


@pytest.mark.parametrize("jit_compile", [False, pytest.param(
    True, marks=[pytest.mark.slow] if BACKEND == "torch" else [])])
def test_temperature_takes_effect_inside_compiled_fit(jit_compile):
    # On torch, jit_compile=True is torch.compile: its first compilation
    # takes about a minute on 2 cores, so that case runs with `-m slow`.
    model = annealed_model(jit_compile)
    recorder = LogRecorder()
    # One batch per epoch, so each epoch's loss is one batch's statistic.
    history = model.fit(
        np.zeros((BATCH, K), "float32"), np.zeros((BATCH,), "float32"),
        batch_size=BATCH, epochs=len(TAUS), verbose=0,
        callbacks=[TemperatureScheduler(lambda step: TAUS[step]), recorder])
    for tau, loss in zip(TAUS, history.history["loss"]):
        assert abs(loss - expected_max_probability(tau)) < TOLERANCE, (
            tau, loss)
    assert history.history["temperature"] == TAUS
    assert [logs["temperature"] for logs in recorder.batch_logs] == TAUS


def test_global_step_known_steps_and_resume():
    model = small_model()
    steps = []

    def schedule(step):
        steps.append(step)
        return 1.0 / (1.0 + step)

    x, y = np.zeros((10, 3), "float32"), np.zeros((10, 3), "float32")
    recorder = LogRecorder()
    callback = TemperatureScheduler(schedule)
    # 10 samples in batches of 4: 3 steps per epoch.
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0,
                        callbacks=[callback, recorder])
    assert steps == [0, 1, 2, 3, 4, 5]
    # Epoch logs carry the temperature of the epoch's last batch.
    assert history.history["temperature"] == [1 / 3, 1 / 6]
    values = [logs["temperature"] for logs in recorder.batch_logs]
    assert values == [1 / (1 + s) for s in range(6)]
    # A second fit (a new callback, as after a restart) continues the
    # schedule from the optimizer's step counter.
    history = model.fit(x, y, batch_size=4, epochs=4, initial_epoch=2,
                        verbose=0, callbacks=[TemperatureScheduler(schedule)])
    assert steps[6:] == [6, 7, 8, 9, 10, 11]
    assert history.history["temperature"] == [1 / 9, 1 / 12]
    assert to_numpy(model.layers[-1].temperature) == np.float32(1 / 12)


@pytest.mark.filterwarnings("ignore:Your input ran out of data")
@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")
@pytest.mark.backends("tensorflow")
def test_unknown_length_dataset_continues_across_fit_calls():
    import tensorflow as tf

    model = small_model()
    # `filter` hides the cardinality, so fit does not know the steps.
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((10, 3), "float32"), np.zeros((10, 3), "float32"))
    ).batch(4).filter(lambda x, y: True)
    callback = TemperatureScheduler(lambda step: 1.0 / (1.0 + step))
    recorder = LogRecorder()
    history = model.fit(dataset, epochs=2, verbose=0,
                        callbacks=[callback, recorder])
    values = [logs["temperature"] for logs in recorder.batch_logs]
    # Keras' TF trainer counts one optimizer step per epoch for the call that
    # finds the data exhausted (3 real batches, then iterations is 4): the
    # schedule follows that clock, as learning-rate schedules do.
    steps = [0, 1, 2, 4, 5, 6] if keras.backend.backend() == "tensorflow" \
        else [0, 1, 2, 3, 4, 5]
    assert values == [1 / (1 + s) for s in steps]
    assert history.history["temperature"] == [values[2], values[5]]
    # fit announces a 4th batch before finding the data exhausted; the
    # temperature left in the layer is still that of the last batch run.
    assert np.float32(keras.ops.convert_to_numpy(
        model.layers[-1].temperature)) == np.float32(values[5])
    # A new fit call continues from the optimizer's step, whatever its
    # initial_epoch; the old epoch-based clock restarted at 0 here.
    step = kg.callbacks._training_step(model)
    history = model.fit(dataset, epochs=3, initial_epoch=2, verbose=0,
                        callbacks=[callback])
    assert history.history["temperature"] == [1 / (1 + step + 2)]


def test_a_fresh_model_starts_at_step_zero_whatever_initial_epoch():
    model = small_model()
    steps = []

    def schedule(step):
        steps.append(step)
        return 1.0

    model.fit(np.zeros((8, 3), "float32"), np.zeros((8, 3), "float32"),
              batch_size=4, epochs=6, initial_epoch=5, verbose=0,
              callbacks=[TemperatureScheduler(schedule)])
    assert steps == [0, 1]


def test_training_step_needs_an_optimizer():
    model = keras.Sequential([keras.Input((3,)), kg.layers.GumbelSoftmax()])
    with pytest.raises(ValueError, match="compiled model with an optimizer"):
        kg.callbacks._training_step(model)


@pytest.mark.skipif(BACKEND == "torch", reason="Keras on torch runs one "
                    "step per execution")
def test_steps_per_execution_sets_the_temperature_once_per_execution():
    model = small_model(steps_per_execution=2)
    steps = []

    def schedule(step):
        steps.append(step)
        return 1.0

    model.fit(np.zeros((16, 3), "float32"), np.zeros((16, 3), "float32"),
              batch_size=4, epochs=2, verbose=0,
              callbacks=[TemperatureScheduler(schedule)])
    assert steps == [0, 2, 4, 6]


def small_model(layer=None, steps_per_execution=1):
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(3),
        layer or kg.layers.GumbelSoftmax(seed=0)])
    model.compile(optimizer="sgd", loss="mse",
                  steps_per_execution=steps_per_execution)
    return model


class Block(keras.layers.Layer):
    """A custom layer holding Gumbel layers in a list and a dict."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(4)
        self.samplers = [kg.layers.RelaxedBernoulli(seed=1)]
        self.by_name = {"gs": kg.layers.GumbelSoftmax(seed=2)}

    def call(self, x):
        x = self.by_name["gs"](self.dense(x))
        return self.samplers[0](x)


class Subclassed(keras.Model):
    def __init__(self, shared, **kwargs):
        super().__init__(**kwargs)
        self.block = Block()
        self.head = keras.Sequential([keras.layers.Dense(4), shared])
        self.shared = shared  # the same layer twice: found once

    def call(self, x):
        return self.head(self.block(x))


def test_finds_gumbel_layers_recursively():
    shared = kg.layers.GumbelSoftmax(seed=3, name="shared")
    subclassed = Subclassed(shared)
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(4)(subclassed(inputs)))
    found = find_layers(outer)
    expected = [subclassed.block.by_name["gs"], subclassed.block.samplers[0],
                shared]
    assert sorted(map(id, found)) == sorted(map(id, expected))
    assert find_layers(keras.Sequential([keras.layers.Dense(2)])) == []

    outer.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 4), "float32")
    outer.fit(x, x, batch_size=4, epochs=1, verbose=0, callbacks=[
        TemperatureScheduler(lambda step: 0.5 + step)])
    for layer in expected:
        assert to_numpy(layer.temperature) == 1.5

    # Only the layers given.
    outer.fit(x, x, batch_size=4, epochs=1, verbose=0, callbacks=[
        TemperatureScheduler(lambda step: 0.25, layers=[shared])])
    assert to_numpy(shared.temperature) == 0.25
    assert to_numpy(subclassed.block.samplers[0].temperature) == 1.5


def test_error_without_gumbel_layer():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="found no temperature layer of "
                       "keras_gumbel .*GumbelTopK.* in model"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 3)), verbose=0,
                  callbacks=[TemperatureScheduler(lambda step: 1.0)])


def test_error_on_bad_schedule_value():
    model = small_model()
    for bad, error, shown in [
            (0.0, ValueError, "0.0"), (-1, ValueError, "-1"),
            (float("nan"), ValueError, "nan"),
            (np.float32("inf"), ValueError, "np.float32\\(inf\\)"),
            ("hot", TypeError, "'hot'"), (None, TypeError, "None")]:
        callback = TemperatureScheduler(lambda step: 0.5 if step < 2 else bad)
        with pytest.raises(error, match=f"returned {shown} at step 2. "
                           f"Expected a positive finite float"):
            model.fit(np.zeros((16, 3)), np.zeros((16, 3)), batch_size=4,
                      verbose=0, callbacks=[callback])
        # The bad value was never assigned.
        assert to_numpy(model.layers[-1].temperature) == 0.5


def test_error_on_learned_temperature():
    learned = kg.layers.GumbelSoftmax(learn_temperature=True, name="learned")
    match = "Layer 'learned' learns its temperature"
    with pytest.raises(ValueError, match=match):
        TemperatureScheduler(lambda step: 1.0, layers=[learned])
    model = small_model(learned)
    with pytest.raises(ValueError, match=match):
        model.fit(np.zeros((4, 3)), np.zeros((4, 3)), verbose=0,
                  callbacks=[TemperatureScheduler(lambda step: 1.0)])


def test_invalid_arguments():
    with pytest.raises(TypeError, match="argument `schedule`. Expected a "
                       "callable"):
        TemperatureScheduler(0.5)
    with pytest.raises(TypeError, match="argument `layers`. Expected Keras "
                       "layers with a scalar `temperature` variable"):
        TemperatureScheduler(lambda step: 1.0,
                             layers=[keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="Expected Keras layers"):
        TemperatureScheduler(lambda step: 1.0, layers=["gumbel_softmax"])
    with pytest.raises(ValueError, match="Received: layers=\\[\\]"):
        TemperatureScheduler(lambda step: 1.0, layers=[])
    with pytest.raises(ValueError, match="Received: verbose=2"):
        TemperatureScheduler(lambda step: 1.0, verbose=2)


def test_schedule_objects_verbose_and_single_layer(capsys):
    layer = kg.layers.RelaxedBernoulli(seed=0)
    model = small_model(layer)
    schedule = kg.schedules.ExponentialDecay(initial=2.0, rate=0.1,
                                             minimum=0.5, every=2)
    history = model.fit(
        np.zeros((8, 3)), np.zeros((8, 3)), batch_size=4, epochs=2,
        verbose=0, callbacks=[TemperatureScheduler(schedule, layers=layer,
                                                   verbose=1)])
    expected = [schedule(1), schedule(3)]  # last batch of each epoch
    assert history.history["temperature"] == expected
    assert expected == [2.0, 2.0 * math.exp(-0.2)]
    printed = capsys.readouterr().out
    assert "Epoch 2: TemperatureScheduler set the temperature to 1.63746" in (
        printed)


def test_temperature_reaches_logging_callbacks(tmp_path):
    # TensorBoard reads the same epoch logs as CSVLogger (TensorBoard itself
    # needs the tensorboard package, not a dependency here).
    model = small_model()
    path = tmp_path / "log.csv"
    model.fit(np.zeros((8, 3)), np.zeros((8, 3)), batch_size=4, epochs=2,
              verbose=0, callbacks=[
                  TemperatureScheduler(lambda step: 2.0 / (1 + step)),
                  keras.callbacks.CSVLogger(str(path))])
    lines = path.read_text().splitlines()
    column = lines[0].split(",").index("temperature")
    assert [float(line.split(",")[column]) for line in lines[1:]] == [
        pytest.approx(2.0 / 2), pytest.approx(2.0 / 4)]


MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    sys.path.insert(0, ROOT)
    import keras_gumbel as kg
    from tests.training.test_callbacks import BATCH, K, TAUS, max_probability_loss

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        layer = kg.layers.GumbelSoftmax(seed=1)
        model = keras.Sequential([
            keras.Input((K,)),
            keras.layers.Dense(K, kernel_initializer="zeros"), layer])
        model.compile(optimizer=keras.optimizers.SGD(0.0),
                      loss=max_probability_loss, jit_compile=False)
    history = model.fit(
        tf.zeros((BATCH, K)), tf.zeros((BATCH,)), batch_size=BATCH,
        epochs=len(TAUS), verbose=0, callbacks=[
            kg.callbacks.TemperatureScheduler(lambda step: TAUS[step])])
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "variable": type(layer.temperature.value).__name__,
        "history": history.history}))
""")


@pytest.mark.filterwarnings("ignore:The model does not have any trainable")
@pytest.mark.backends("tensorflow")
def test_mirrored_strategy_two_replicas():
    # Logical devices must be configured before TF initialises its devices,
    # hence a fresh process. jit_compile=True is not tested here: under
    # MirroredStrategy on logical CPU devices XLA fails for any Keras model
    # (even a single Dense layer: "Trying to access resource ... located in
    # device CPU:1 from device CPU:0"), a TF/Keras limitation.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", MIRRORED.replace("ROOT", repr(ROOT))], cwd=ROOT,
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert "Mirrored" in result["variable"]
    history = result["history"]
    assert history["temperature"] == TAUS
    for tau, loss in zip(TAUS, history["loss"]):
        assert abs(loss - expected_max_probability(tau)) < TOLERANCE, (
            tau, loss)
