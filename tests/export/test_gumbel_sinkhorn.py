"""GumbelSinkhorn exported: which formats carry the in-graph matching.

From TensorFlow, SavedModel, ONNX (the assignment's loops become ONNX
`Loop`) and LiteRT (`WHILE`) serve every mode: "matching" and "sinkhorn"
equal Keras' outputs, hard "sample" gives exact permutation matrices with
fresh noise on every call. From JAX, a SavedModel serves "matching" and
"sinkhorn". From PyTorch, `keras_gumbel.export` refuses "matching" for ONNX
(a data-dependent loop its exporter would trace for one input) and exports
"sinkhorn". Each artifact runs in a fresh process without keras_gumbel.
Marked slow (`pytest -m slow`): each export takes tens of seconds.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_gumbel as kg
from tests.backend_utils import to_numpy

# Each export converts and starts a runtime process: tens of seconds.
pytestmark = pytest.mark.slow

N = 6
MODES = ("matching", "sinkhorn", "sample")

RUNNER = textwrap.dedent("""
    import sys
    import numpy as np

    sys.modules["keras_gumbel"] = None  # serve without the package
    fmt, path = sys.argv[1], sys.argv[2]
    x = np.load("x.npy")
    if fmt == "tf_saved_model":
        import tensorflow as tf
        loaded = tf.saved_model.load(path)
        run = lambda x: {k: v.numpy() for k, v in
                         loaded.serve(tf.constant(x)).items()}
    elif fmt == "onnx":
        import onnxruntime as ort
        s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        keys = [o.name for o in s.get_outputs()]
        run = lambda x: dict(zip(keys, s.run(None, {s.get_inputs()[0].name: x})))
    else:
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path=path)
        (signature,) = interpreter.get_signature_list().values()
        runner = interpreter.get_signature_runner()
        run = lambda x: {k: np.array(v) for k, v in
                         runner(**{signature["inputs"][0]: x}).items()}
    first, second = run(x), run(x)
    np.savez("out.npz", **{f"{k}_first": v for k, v in first.items()},
             **{f"{k}_second": v for k, v in second.items()})
""")


def _model(modes):
    inputs = keras.Input((N, N), name="scores")
    outputs = {mode: kg.layers.GumbelSinkhorn(
        temperature=0.5, n_iters=10, hard=mode == "sample",
        inference_mode=mode, seed=1, name=mode)(inputs) for mode in modes}
    model = keras.Model(inputs, outputs)
    model(np.zeros((2, N, N), "float32"))  # The ONNX exporter needs a call.
    return model


def _serve(tmp_path, model, fmt, name):
    x = (2 * np.random.default_rng(0).normal(size=(16, N, N))).astype(
        "float32")
    np.save(tmp_path / "x.npy", x)
    kg.export.export(model, str(tmp_path / name), format=fmt, verbose=False)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    subprocess.run([sys.executable, "-c", RUNNER, fmt, name], cwd=tmp_path,
                   env=env, check=True, timeout=300)
    with np.load(tmp_path / "out.npz") as out:
        served = dict(out)
    expected = {k: to_numpy(v) for k, v in model(x, training=False).items()
                if k != "sample"}
    return served, expected


def _needs(*modules):
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    if absent:
        pytest.skip(f"needs {', '.join(absent)}")


@pytest.mark.backends("tensorflow")
@pytest.mark.parametrize("fmt, name, modules", [
    ("tf_saved_model", "saved_model", ()),
    ("onnx", "model.onnx", ("tf2onnx", "onnxruntime")),
    ("litert", "model.tflite", ("ai_edge_litert",)),
])
def test_every_mode_from_tensorflow(tmp_path, fmt, name, modules):
    _needs(*modules)
    served, expected = _serve(tmp_path, _model(MODES), fmt, name)
    for mode in ("matching", "sinkhorn"):
        for call in ("first", "second"):
            np.testing.assert_allclose(served[f"{mode}_{call}"],
                                       expected[mode], atol=1e-5)
    for call in ("first", "second"):
        y = served[f"sample_{call}"]
        assert set(np.unique(y)) <= {0.0, 1.0}
        np.testing.assert_array_equal(y.sum(-1), 1.0)
        np.testing.assert_array_equal(y.sum(-2), 1.0)
    # Fresh noise: 16 matrices of 6! permutations drawn alike twice is
    # all but impossible for a sampler that draws anew.
    assert not np.array_equal(served["sample_first"], served["sample_second"])


@pytest.mark.backends("jax")
def test_saved_model_from_jax_carries_the_matching(tmp_path):
    _needs("tensorflow")
    served, expected = _serve(tmp_path, _model(("matching", "sinkhorn")),
                              "tf_saved_model", "saved_model")
    for mode in ("matching", "sinkhorn"):
        np.testing.assert_allclose(served[f"{mode}_first"], expected[mode],
                                   atol=1e-5)


@pytest.mark.backends("torch")
def test_onnx_from_torch_refuses_matching_and_serves_sinkhorn(tmp_path):
    _needs("onnxruntime")
    with pytest.raises(ValueError, match="inference_mode='matching'"):
        kg.export.export(_model(("matching",)), str(tmp_path / "m.onnx"),
                         format="onnx")
    served, expected = _serve(tmp_path, _model(("sinkhorn",)), "onnx",
                              "model.onnx")
    (first,) = [v for k, v in served.items() if k.endswith("_first")]
    np.testing.assert_allclose(first, expected["sinkhorn"], atol=1e-5)
