"""The layers, the callback and `.keras` files on every Keras backend.

Runs under `KERAS_BACKEND=tensorflow`, `jax` and `torch` (TF's own
`tf.function`, SavedModel and tf.distribute checks are in the TF-only
files). Statistical checks: see the bounds stated at each.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_gumbel as kg
from keras_gumbel import testing
from tests import stats_utils
from tests.backend_utils import BACKEND, to_numpy
from tests.training.test_callbacks import expected_max_probability

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LOGITS = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")

LAYERS = [
    (kg.layers.GumbelSoftmax, {"temperature": 0.7, "seed": 1}),
    (kg.layers.GumbelSoftmax, {"hard": True, "inference_mode": "argmax",
                               "seed": 2}),
    (kg.layers.GumbelSoftmax, {"hard": True, "estimator": "gumbel_rao",
                               "estimator_samples": 3, "seed": 3}),
    (kg.layers.GumbelSoftmax, {"hard": True, "estimator": "reinmax",
                               "inference_mode": "softmax", "seed": 4}),
    (kg.layers.GumbelSoftmax, {"learn_temperature": True, "axis": 1,
                               "seed": 5}),
    (kg.layers.RelaxedBernoulli, {"temperature": 0.5, "seed": 6}),
    (kg.layers.RelaxedBernoulli, {"hard": True, "inference_mode": "round",
                                  "seed": 7}),
    (kg.layers.RelaxedBernoulli, {"learn_temperature": True,
                                  "inference_mode": "sigmoid", "seed": 8}),
]


@pytest.mark.parametrize("layer_cls, kwargs", LAYERS)
def test_layer_contract(layer_cls, kwargs):
    # Config round trip, eager and symbolic calls, one fit step with the
    # gradient reaching the layer below, mixed_float16 / mixed_bfloat16.
    testing.run_layer_test(layer_cls, kwargs, LOGITS)


@pytest.mark.parametrize("jit_compile", [False, pytest.param(
    True, marks=[pytest.mark.slow] if BACKEND == "torch" else [])])
def test_fit_learns_through_a_hard_bottleneck(jit_compile):
    # Four inputs, each to be mapped to its own code: reachable only if the
    # straight-through gradient trains the logits. (torch.compile's first
    # compilation takes about a minute on 2 cores: `-m slow` there.)
    keras.utils.set_random_seed(0)
    x = np.eye(4, dtype="float32")
    model = keras.Sequential([
        keras.Input((4,)), keras.layers.Dense(4),
        kg.layers.GumbelSoftmax(0.5, hard=True, inference_mode="argmax",
                                seed=0)])
    model.compile(keras.optimizers.Adam(0.1), "mse",
                  jit_compile=jit_compile)
    model.fit(np.tile(x, (16, 1)), np.tile(x, (16, 1)), epochs=30,
              batch_size=16, verbose=0)
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_learned_temperature_trains():
    layer = kg.layers.GumbelSoftmax(1.0, learn_temperature=True, seed=0)
    model = keras.Sequential([keras.Input((5,)), layer])
    model.compile(keras.optimizers.SGD(0.5),
                  lambda y, p: -keras.ops.max(p, axis=-1))
    before = float(to_numpy(layer.temperature))
    model.fit(np.tile(LOGITS, (8, 1)), np.zeros((64,)), batch_size=64,
              epochs=3, verbose=0)
    after = float(to_numpy(layer.temperature))
    # A sharper sample has a larger max: the loss pulls tau down.
    assert after < before and after > layer.min_learned_temperature


def test_scheduled_temperature_reaches_the_compiled_step():
    # Proven by behaviour: a loss that depends on the temperature. With zero
    # logits, E[max softmax(g / tau)] is 0.86 at tau = 0.25 and 0.29 at
    # tau = 4 (k = 5); each epoch's loss averages 1024 draws in [0, 1], so
    # Hoeffding puts it within 0.091 of its mean with probability 1 - 1e-7
    # (4 epochs: < 1e-6 in all), the NumPy reference is within 0.01, and
    # the two temperatures' losses are 0.57 apart.
    taus = [4.0, 0.25, 4.0, 0.25]
    dense = keras.layers.Dense(5, kernel_initializer="zeros")
    model = keras.Sequential([keras.Input((5,)), dense,
                              kg.layers.GumbelSoftmax(seed=1)])
    model.compile(keras.optimizers.SGD(0.0),
                  lambda y, p: keras.ops.max(p, axis=-1))
    history = model.fit(np.zeros((1024, 5), "float32"), np.zeros((1024,)),
                        batch_size=1024, epochs=4, verbose=0, callbacks=[
                            kg.callbacks.TemperatureScheduler(
                                lambda step: taus[step])])
    assert history.history["temperature"] == taus
    margin = stats_utils.hoeffding(1024, 1e-7)
    for tau, loss in zip(taus, history.history["loss"]):
        expected = expected_max_probability(tau, k=5)
        assert abs(loss - expected) < margin + 0.01, (tau, loss)


LOAD = textwrap.dedent("""
    import json, sys, numpy as np, keras, keras_gumbel as kg
    model = keras.saving.load_model(sys.argv[1], safe_mode=True)
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    outs = model.predict(x, verbose=0)
    print(json.dumps([np.asarray(o).tolist() for o in outs]))
""")
# Each backend's run saves and loads on its own backend and loads on the
# next one: over the three runs, every backend's files load on another.
NEXT_BACKEND = {"tensorflow": "jax", "jax": "torch", "torch": "tensorflow"}


def _python(code, backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", code, *args], env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_keras_files_load_on_another_backend(tmp_path):
    inputs = keras.Input((5,))
    h = keras.layers.Dense(6)(inputs)
    a = kg.layers.GumbelSoftmax(0.7, hard=True, inference_mode="argmax",
                                seed=1)(h)
    b = kg.layers.GumbelSoftmax(0.9, learn_temperature=True,
                                inference_mode="softmax", seed=2)(h)
    c = kg.layers.RelaxedBernoulli(0.4, inference_mode="sigmoid", seed=3)(h)
    model = keras.Model(inputs, [a, b, c])
    model.layers[4].set_temperature(0.3)  # the current value is a weight
    path = str(tmp_path / "model.keras")
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    restored = testing.check_keras_file_round_trip(model, x, path)
    assert float(to_numpy(restored.layers[4].temperature)) == np.float32(0.3)
    want = model.predict(x, verbose=0)
    got = json.loads(_python(LOAD, NEXT_BACKEND[BACKEND], path)
                     .splitlines()[-1])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


NO_TF = textwrap.dedent("""
    import sys
    # As if TensorFlow were not installed: `import tensorflow` raises
    # ImportError and `importlib.util.find_spec("tensorflow")` is None.
    sys.modules["tensorflow"] = None
    import numpy as np, keras, keras_gumbel as kg
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3),
                              kg.layers.GumbelSoftmax(hard=True, seed=0)])
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 3)), np.zeros((8, 3)), verbose=0, callbacks=[
        kg.callbacks.TemperatureScheduler(kg.schedules.LinearDecay())])
    kg.ops.relaxed_bernoulli(np.zeros(3, "float32"), seed=1)
    assert not any(m.startswith("tensorflow") and sys.modules[m] is not None
                   for m in list(sys.modules))
    print("ok")
""")


@pytest.mark.skipif(BACKEND == "tensorflow", reason="TF is the backend")
def test_works_where_tensorflow_is_not_installed():
    assert _python(NO_TF, BACKEND).splitlines()[-1] == "ok"
