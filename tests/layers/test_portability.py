"""Portability across backends: a `.keras` file saved on one backend loads
on another, and the package works where TensorFlow is not installed.

(The layers' own behaviour on every backend is in their test files and in
test_contract.py.)
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
from tests.backend_utils import BACKEND, to_numpy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
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
