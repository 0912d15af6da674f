"""`HardConcreteGate` in exported models, beyond the format matrix.

test_formats.py exports the gate in both inference modes to SavedModel,
ONNX and LiteRT from TensorFlow and runs each artifact without
keras_gumbel (its `hard_concrete_gate` case, with `log_alpha` near its
initial 0). Here, with `log_alpha` spread over closed, open and half-open
gates: from TensorFlow a SavedModel serves "deterministic" equal to Keras
and to Louizos et al.'s test-time gate, and "sample" with the hard concrete
law (for N rows of ones the output is the gate itself: per feature, the
frequencies of exact zeros and exact ones against their closed forms) and
fresh noise on every call. From torch, "deterministic" exports to ONNX and
equals Keras, and `keras_gumbel.export.export` refuses "sample" for ONNX.

Statistical checks: 2 masses x K features x 2 calls = 16 Hoeffding bounds
at DELTA = 5e-9: a correct export fails with probability below 1e-7.
"""

import keras
import numpy as np
import pytest
from scipy import special

import keras_gumbel as kg
from tests import stats_utils
from tests.backend_utils import BACKEND, to_numpy
from tests.export.test_formats import _has

K = 4
N = 20000
LOG_ALPHA = np.float32([-2.0, -0.3, 0.6, 2.5])
TAU, LIMITS = 0.5, (-0.1, 1.1)
DELTA = 5e-9


def build_model(modes=("deterministic", "sample")):
    inputs = keras.Input((K,), name="features")
    outputs, gates = {}, {}
    for i, mode in enumerate(modes):
        gate = kg.layers.HardConcreteGate(
            l0_penalty=0.1, temperature=TAU, limits=LIMITS,
            inference_mode=mode, seed=i + 1, name=f"gate_{mode}")
        outputs[mode] = gate(inputs)
        gate.log_alpha.assign(LOG_ALPHA)
        gates[mode] = gate
    model = keras.Model(inputs, outputs)
    model(np.ones((2, K), "float32"))  # The ONNX exporter needs a call.
    return model, gates


def masses():
    """P(z = 0) and P(z = 1) per feature, closed form."""
    gamma, zeta = LIMITS
    logit = lambda u: np.log(u) - np.log1p(-u)
    at = lambda t: special.expit(
        TAU * logit((t - gamma) / (zeta - gamma)) - LOG_ALPHA)
    return at(0.0), 1.0 - at(1.0)


def check_gates(z):
    assert z.shape == (N, K) and np.all((z >= 0) & (z <= 1))
    zero, one = masses()
    bound = stats_utils.hoeffding(N, DELTA)
    assert np.all(np.abs(np.mean(z == 0, 0) - zero) < bound), z.mean(0)
    assert np.all(np.abs(np.mean(z == 1, 0) - one) < bound), z.mean(0)


@pytest.mark.backends("tensorflow")
def test_saved_model_serves_both_modes(tmp_path):
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model, _ = build_model()
    x = np.random.default_rng(0).normal(size=(7, K)).astype("float32")
    gate = np.clip(special.expit(LOG_ALPHA) * 1.2 - 0.1, 0, 1)
    expected = to_numpy(model(x, training=False)["deterministic"])
    np.testing.assert_allclose(expected, x * gate, rtol=1e-6)
    kg.export.export(model, str(tmp_path / "saved_model"), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    serve = lambda v: {k: t.numpy() for k, t in loaded.serve(v).items()}
    np.testing.assert_allclose(serve(x)["deterministic"], expected,
                               rtol=0, atol=1e-6)
    ones = tf.ones((N, K))
    first, second = serve(ones)["sample"], serve(ones)["sample"]
    check_gates(first)
    check_gates(second)
    assert not np.array_equal(first, second)


@pytest.mark.skipif(BACKEND != "torch", reason="torch exports ONNX itself")
def test_deterministic_exports_to_onnx_and_sample_is_refused(tmp_path):
    if not _has("onnxruntime"):
        pytest.skip("needs onnxruntime")
    import onnxruntime as ort

    model, _ = build_model(("deterministic",))
    path = str(tmp_path / "gate.onnx")
    kg.export.export(model, path, format="onnx", verbose=False)
    x = np.random.default_rng(1).normal(size=(5, K)).astype("float32")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(
        out, to_numpy(model(x, training=False)["deterministic"]), atol=1e-6)
    sampler, _ = build_model(("sample",))
    with pytest.raises(ValueError, match=r"HardConcreteGate.*"
                       r"inference_mode='sample'.*\['deterministic'\]"):
        kg.export.export(sampler, str(tmp_path / "s.onnx"), format="onnx")
