"""The main example on the JAX and torch backends (TF: test_example_vae.py).

The example is written with `keras.ops`; on JAX and torch it trains,
evaluates and writes its metrics. SavedModel export needs TensorFlow's
tracking and is skipped on torch with a note.
"""

import json
import math
import os
import subprocess
import sys

import keras
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    keras.backend.backend() == "tensorflow",
    reason="the TensorFlow runs are in test_example_vae.py")


def test_smoke_run_on_this_backend(tmp_path):
    backend = keras.backend.backend()
    env = dict(os.environ, KERAS_BACKEND=backend)
    done = subprocess.run(
        [sys.executable, "-m", "examples.categorical_vae", "--smoke",
         "--verbose", "0", "--output-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["backend"] == backend
    assert math.isfinite(metrics["test_neg_elbo"]) and metrics["steps"] == 8


def test_quickstart_trains_the_layer(capsys):
    from examples import quickstart

    quickstart.sample()
    before, after = quickstart.train()
    assert before < 1.0 and after == 1.0
