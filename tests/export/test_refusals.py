"""What `keras_gumbel.export.export` refuses, and the route it points to.

`export` writes the formats the package supports and tests
(`kg.export.FORMATS`); from JAX and PyTorch only the (backend, format) pairs
measured to work (JAX: SavedModel; PyTorch: ONNX; deterministic modes).
Everything else is a `ValueError` raised before Keras traces anything, whose
message gives the route that works: the `.keras` file, reloaded under
TensorFlow. The slow tests check that route end to end, and explain the
warning TensorFlow prints when it loads a SavedModel written from JAX.
"""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_gumbel as kg
from tests.backend_utils import BACKEND, to_numpy

K = 4

# (backend, format) pairs refused for every model (docs/export.md).
UNSERVED = {"jax": ["onnx", "litert"], "torch": ["tf_saved_model", "litert"],
            "tensorflow": []}
PATHS = {"tf_saved_model": "saved_model", "onnx": "m.onnx",
         "litert": "m.tflite"}


def deterministic_model():
    inputs = keras.Input((K,), name="features")
    logits = keras.layers.Dense(K, name="logits")(inputs)
    code = kg.layers.GumbelSoftmax(hard=True, inference_mode="argmax",
                                   name="code")(logits)
    model = keras.Model(inputs, code)
    model(np.zeros((1, K), "float32"))
    return model


def _no_tracing(model, monkeypatch):
    """Makes `model.export` fail the test: a refusal comes before it."""
    def traced(*args, **kwargs):
        raise AssertionError("model.export was called before the refusal")
    monkeypatch.setattr(model, "export", traced)


@pytest.mark.parametrize("fmt", ["pdf", "openvino", "torch", "ONNX", None])
def test_unknown_formats_are_refused(tmp_path, fmt, monkeypatch):
    model = deterministic_model()
    _no_tracing(model, monkeypatch)
    with pytest.raises(ValueError) as error:
        kg.export.export(model, str(tmp_path / "out"), format=fmt)
    message = str(error.value)
    assert "argument `format`" in message
    assert f"Received: format={fmt!r}" in message
    assert "('tf_saved_model', 'onnx', 'litert')" in message
    # Keras' own list of formats is not repeated as supported.
    assert "openvino" not in message.split("Received")[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(BACKEND == "tensorflow",
                    reason="TensorFlow writes every format")
@pytest.mark.parametrize("fmt", UNSERVED[BACKEND])
def test_unserved_formats_refused_before_tracing(tmp_path, fmt, monkeypatch):
    model = deterministic_model()
    _no_tracing(model, monkeypatch)
    path = tmp_path / PATHS[fmt]
    with pytest.raises(
            ValueError, match=rf"^Cannot export to format='{fmt}' from the "
            rf"{BACKEND} backend: .*model\.save\('model\.keras'\).*"
            rf"KERAS_BACKEND=tensorflow"):
        kg.export.export(model, str(path), format=fmt)
    assert not path.exists()


def test_formats_constant():
    assert kg.export.FORMATS == ("tf_saved_model", "onnx", "litert")
    assert set(kg.export.RUNTIME_FORMATS) < set(kg.export.FORMATS)


@pytest.mark.backends("tensorflow")
def test_onnx_output_names(tmp_path):
    """A dict of outputs keeps its keys; a single output is tf2onnx's
    `Identity:0` (docs/export.md, "ONNX")."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    single = deterministic_model()
    inputs = single.inputs[0]
    logits = single.get_layer("logits").output
    both = keras.Model(inputs, {"code": single.outputs[0], "logits": logits})
    both(np.zeros((1, K), "float32"))
    x = np.random.default_rng(0).normal(size=(3, K)).astype("float32")
    for model, names in ((single, ["Identity:0"]), (both, ["code", "logits"])):
        path = str(tmp_path / f"{len(names)}.onnx")
        kg.export.export(model, path, format="onnx", verbose=False)
        session = ort.InferenceSession(path,
                                       providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == ["features"]
        assert [o.name for o in session.get_outputs()] == names
        out = session.run(None, {"features": x})
        expected = model(x, training=False)
        if isinstance(expected, dict):
            expected = [expected[name] for name in names]
        else:
            expected = [expected]
        for value, reference in zip(out, expected):
            np.testing.assert_array_equal(value, to_numpy(reference))


ROUTE = textwrap.dedent("""
    import sys
    import keras, numpy as np
    import onnxruntime as ort
    import keras_gumbel as kg
    assert keras.backend.backend() == "tensorflow"
    model = keras.saving.load_model("model.keras")
    model(np.zeros((1, 4), "float32"))
    kg.export.export(model, "model.onnx", format="onnx", verbose=False)
    session = ort.InferenceSession("model.onnx",
                                   providers=["CPUExecutionProvider"])
    x = np.zeros((2000, 4), "float32")
    first, second = (session.run(None, {"features": x})[0] for _ in "ab")
    np.save("samples.npy", np.stack([first, second]))
""")


@pytest.mark.slow  # A TensorFlow process that converts to ONNX: ~15 s.
@pytest.mark.skipif(BACKEND == "tensorflow", reason="the route off TF")
def test_route_through_keras_file_exports_sample_mode(tmp_path):
    """The refusals' route: a sample-mode model saved on JAX or torch,
    reloaded under TensorFlow, exports to ONNX and samples there."""
    pytest.importorskip("onnxruntime")
    inputs = keras.Input((K,), name="features")
    sample = kg.layers.GumbelSoftmax(hard=True, seed=1)(
        keras.layers.Dense(K)(inputs))
    model = keras.Model(inputs, sample)
    model.save(tmp_path / "model.keras")
    env = dict(os.environ, KERAS_BACKEND="tensorflow",
               TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run([sys.executable, "-c", ROUTE], cwd=tmp_path,
                         env=env, timeout=600, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = np.load(tmp_path / "samples.npy")
    for y in (first, second):
        assert set(np.unique(y)) <= {0.0, 1.0}
        np.testing.assert_array_equal(y.sum(-1), np.ones(len(y)))
    # Fresh noise per call: 2000 rows of a 4-way draw repeat with
    # probability far below 1e-100.
    assert not np.array_equal(first, second)


LOAD_JAX_SAVED_MODEL = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    sys.modules["keras_gumbel"] = None
    served = tf.saved_model.load(sys.argv[1])
    x = tf.constant(np.load("x.npy"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = served.serve(x)
        loss = tf.reduce_sum(y * y)
    np.save(sys.argv[1] + "_grad.npy", tape.gradient(loss, x).numpy())
""")


@pytest.mark.slow  # Two jax2tf conversions and TensorFlow loads: ~40 s.
@pytest.mark.skipif(BACKEND != "jax", reason="SavedModels written from JAX")
def test_jax_saved_model_gradient_warning(tmp_path):
    """Loading a SavedModel written from JAX prints `WARNING:absl:
    Importing a function (__inference_internal_grad_fn_...) with ops with
    unsaved custom gradients`. It concerns the gradient of the gradient:
    jax2tf saves the first-order gradient (a `tf.custom_gradient`, checked
    here against JAX's), not the one of that function. Passing
    `jax2tf_kwargs={"with_gradient": False}` saves no gradient, and the
    warning goes."""
    pytest.importorskip("tensorflow")
    inputs = keras.Input((K,), name="features")
    relaxed = kg.layers.GumbelSoftmax(inference_mode="softmax")(
        keras.layers.Dense(K)(inputs))
    model = keras.Model(inputs, relaxed)
    x = np.random.default_rng(0).normal(size=(3, K)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    kg.export.export(model, str(tmp_path / "with_grad"), verbose=False)
    kg.export.export(model, str(tmp_path / "no_grad"), verbose=False,
                     jax2tf_kwargs={"with_gradient": False})
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    warning = "with ops with unsaved custom gradients"
    processes = {name: subprocess.Popen(
        [sys.executable, "-c", LOAD_JAX_SAVED_MODEL, name], cwd=tmp_path,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("with_grad", "no_grad")}
    runs = {}
    for name, process in processes.items():  # Side by side: ~10 s each.
        _, stderr = process.communicate(timeout=600)
        runs[name] = subprocess.CompletedProcess(process.args,
                                                 process.returncode, "",
                                                 stderr)
    assert runs["with_grad"].returncode == 0, runs["with_grad"].stderr[-3000:]
    assert warning in runs["with_grad"].stderr
    import jax

    expected = jax.grad(
        lambda v: keras.ops.sum(model(v, training=False) ** 2))(x)
    np.testing.assert_allclose(np.load(tmp_path / "with_grad_grad.npy"),
                               np.asarray(expected), rtol=1e-5, atol=1e-6)
    # Without gradients: no warning, and a gradient is refused clearly.
    assert warning not in runs["no_grad"].stderr
    assert "does not support gradients" in runs["no_grad"].stderr
