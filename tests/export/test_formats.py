"""Every layer in every inference mode, exported to SavedModel, ONNX, LiteRT.

One model holds each (layer, inference mode) of `LAYERS` as an output. On the
TensorFlow backend (the reference for export) it is exported once per format
and each artifact runs in its own runtime (TensorFlow, ONNX Runtime, the
LiteRT interpreter) in a fresh process where keras_gumbel cannot be imported;
the three processes run while the next format converts. Deterministic modes
must equal Keras' outputs (1e-5); "sample" mode must give valid samples
(exact one-hot and k-hot rows, 0/1 values, points of the simplex, of
[0, 1] and of the relaxed k-subsets) with the right distribution, fresh
noise on every call (also after a change of batch size), and, in a new
session, the same stream again from SavedModel and ONNX (the artifact
carries its seeds) and fresh noise from LiteRT.
`ConcreteSelect` and `GumbelVectorQuantizer` are deterministic at inference
(their one mode, "argmax"); the quantizer's perplexity is an output too.

Statistical checks: N copies of one logits row per call, two calls per
format. Each check fails a correct implementation with probability
`DELTA` = 5e-9. Per call: 7 chi-square tests (categorical counts of the 5
GumbelSoftmax cases; the k-subsets of the 2 hard GumbelTopK cases against
the exact Plackett-Luce law, enumerated), K Hoeffding bounds (hard
RelaxedBernoulli frequencies), K one-sample Kolmogorov-Smirnov tests
(relaxed RelaxedBernoulli coordinates against their CDF), K two-sample
KS tests (relaxed GumbelTopK coordinates, which have no closed-form law,
against Keras' own samples) and 2 * (K - 1) Hoeffding bounds (the masses at
0 and 1 of the HardConcreteGate's gates, on the K - 1 non-zero inputs of
ROW): 7 + 3 * K + 2 * (K - 1) = 30. That is 2 * 30 = 60 per format, 180 in
all, so a correct export fails them with probability
180 * 5e-9 = 9e-7 < 1e-6 (union bound).

To add a layer, add one `LayerCase` line to `LAYERS`: a factory taking the
inference mode, the modes to export, the check of a "sample" output (None
without "sample") and, optionally, the shape the layer sees of each logits
row (rank > 2 inputs and other axes: `GumbelSoftmax` on `[B, 1, K]` and on
`[B, K, 1]`). Outputs of rank > 2 are flattened; a layer returning a tuple
`(output, perplexity)` gives a second output `<key>_perplexity`. Count new
statistical checks in the sum above.

On JAX and PyTorch, deterministic modes export to SavedModel (JAX) and ONNX
(torch), except `GumbelTopK`, which `export` refuses in a SavedModel from
JAX (TF cannot run JAX's `top_k`); `keras_gumbel.export.export` refuses
"sample" mode there, and every other format (tests/export/test_refusals.py).
"""

import collections
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from scipy import special

import keras_gumbel as kg
from tests import stats_utils
from tests.backend_utils import BACKEND, to_numpy

K = 5
N = 20000
ROW = np.array([-1.5, -0.3, 0.0, 0.8, 2.0], "float32")  # logits of x_rep
TAU = 0.5
DELTA = 5e-9  # The false-failure probability of each statistical check.


def _has(module):
    return importlib.util.find_spec(module) is not None


# --- Checks of a "sample" output: `y` has N rows of the logits ROW. ---------

def check_one_hot(y, layer):
    del layer
    assert set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.sum(-1), np.ones(len(y)))
    stats_utils.assert_chi_square(y.sum(0), special.softmax(ROW), DELTA)


def check_simplex(y, layer):
    del layer
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-5)
    # argmax(softmax((l + g) / tau)) = argmax(l + g) ~ Categorical(softmax(l)).
    counts = np.bincount(y.argmax(-1), minlength=K)
    stats_utils.assert_chi_square(counts, special.softmax(ROW), DELTA)


def check_binary(y, layer):
    del layer
    assert set(np.unique(y)) <= {0.0, 1.0}
    bound = stats_utils.hoeffding(len(y), DELTA)
    assert np.all(np.abs(y.mean(0) - special.expit(ROW)) < bound), y.mean(0)


def check_unit_interval(y, layer):
    assert np.all((y >= 0) & (y <= 1))
    tau = float(to_numpy(layer.temperature))
    for j in range(K):
        # y = sigmoid((l + L) / tau), L ~ Logistic: P(y <= c) =
        # sigmoid(tau * logit(c) - l).
        stats_utils.assert_ks_1samp(
            y[:, j], lambda c, j=j: special.expit(
                tau * special.logit(np.clip(c, 1e-300, 1 - 1e-16))
                - ROW[j]), delta=DELTA)


def _k_subsets_probs(p, k):
    """The Plackett-Luce law of the set of `k` items drawn without
    replacement with probabilities `p`: {frozenset: probability}."""
    probs = collections.defaultdict(float)
    for order in itertools.permutations(range(len(p)), k):
        prob, left = 1.0, 1.0
        for i in order:
            prob *= p[i] / left
            left -= p[i]
        probs[frozenset(order)] += prob
    return probs


def check_k_hot(y, layer):
    assert set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(y.sum(-1), np.full(len(y), layer.k))
    # Chi-square over the k-subsets: the law of a k-hot sample.
    probs = _k_subsets_probs(special.softmax(ROW.astype(np.float64)),
                             layer.k)
    subsets = sorted(probs, key=sorted)
    code = {s: i for i, s in enumerate(subsets)}
    counts = np.bincount(
        [code[frozenset(np.flatnonzero(row))] for row in y],
        minlength=len(subsets))
    stats_utils.assert_chi_square(counts, [probs[s] for s in subsets],
                                  delta=DELTA)


def check_relaxed_k_hot(y, layer):
    assert np.all((y >= 0) & (y <= 1 + 1e-5))
    np.testing.assert_allclose(y.sum(-1), layer.k, atol=1e-4)
    # No closed-form law: each coordinate against Keras' own samples.
    reference = to_numpy(layer(np.tile(ROW, (len(y), 1)), training=False))
    for j in range(K):
        stats_utils.assert_ks_2samp(y[:, j], reference[:, j], delta=DELTA)


def check_gate(y, layer):
    # The output is ROW * z: the gate z of each column where ROW != 0. The
    # masses of z at 0 and at 1 against their closed forms (Hoeffding).
    assert np.all(np.abs(y) <= np.abs(ROW))
    log_alpha = to_numpy(layer.log_alpha).astype(np.float64)
    tau = float(to_numpy(layer.temperature))
    (gamma, zeta), bound = layer.limits, stats_utils.hoeffding(len(y), DELTA)
    at = lambda t: special.expit(tau * special.logit(
        (t - gamma) / (zeta - gamma)) - log_alpha)
    for j in np.flatnonzero(ROW):
        z = y[:, j] / ROW[j]
        assert abs(np.mean(z == 0) - at(0.0)[j]) < bound, j
        assert abs(np.mean(z == 1) - (1 - at(1.0)[j])) < bound, j


LayerCase = collections.namedtuple(
    "LayerCase", ["name", "factory", "modes", "check", "shape"],
    defaults=[(K,)])  # `shape`: what the layer sees of each (K,) logits row.

LAYERS = [
    LayerCase("gumbel_softmax_hard", lambda mode: kg.layers.GumbelSoftmax(
        temperature=TAU, hard=True, inference_mode=mode, seed=1),
        ("sample", "argmax", "softmax"), check_one_hot),
    LayerCase("gumbel_softmax", lambda mode: kg.layers.GumbelSoftmax(
        temperature=TAU, inference_mode=mode, seed=2),
        ("sample",), check_simplex),
    LayerCase("gumbel_rao", lambda mode: kg.layers.GumbelSoftmax(
        temperature=TAU, hard=True, estimator="gumbel_rao",
        estimator_samples=2, inference_mode=mode, seed=3),
        ("sample",), check_one_hot),
    LayerCase("gumbel_softmax_rank3", lambda mode: kg.layers.GumbelSoftmax(
        temperature=TAU, hard=True, inference_mode=mode, seed=6),
        ("sample", "argmax", "softmax"), check_one_hot, (1, K)),
    LayerCase("gumbel_softmax_axis1", lambda mode: kg.layers.GumbelSoftmax(
        temperature=TAU, hard=True, axis=1, inference_mode=mode, seed=7),
        ("sample", "argmax", "softmax"), check_one_hot, (K, 1)),
    LayerCase("relaxed_bernoulli_hard", lambda mode: kg.layers.RelaxedBernoulli(
        temperature=TAU, hard=True, inference_mode=mode, seed=4),
        ("sample", "round", "sigmoid"), check_binary),
    LayerCase("relaxed_bernoulli", lambda mode: kg.layers.RelaxedBernoulli(
        temperature=TAU, inference_mode=mode, seed=5),
        ("sample",), check_unit_interval),
    LayerCase("gumbel_top_k_hard", lambda mode: kg.layers.GumbelTopK(
        k=2, temperature=TAU, hard=True, inference_mode=mode, seed=8),
        ("sample", "top_k"), check_k_hot),
    LayerCase("gumbel_top_k_axis1", lambda mode: kg.layers.GumbelTopK(
        k=2, temperature=TAU, hard=True, axis=1, inference_mode=mode,
        seed=13), ("sample", "top_k"), check_k_hot, (K, 1)),
    LayerCase("gumbel_top_k", lambda mode: kg.layers.GumbelTopK(
        k=2, temperature=TAU, inference_mode=mode, seed=9),
        ("sample",), check_relaxed_k_hot),
    LayerCase("hard_concrete_gate", lambda mode: kg.layers.HardConcreteGate(
        l0_penalty=0.1, temperature=TAU, inference_mode=mode, seed=14),
        ("sample", "deterministic"), check_gate),
    LayerCase("concrete_select", lambda mode: kg.layers.ConcreteSelect(
        units=3, seed=10), ("argmax",), None),
    LayerCase("vector_quantizer", lambda mode: kg.layers.GumbelVectorQuantizer(
        num_groups=2, num_vars=4, codevector_dim=6, seed=11),
        ("argmax",), None),
    LayerCase("vector_quantizer_rank3", lambda mode:
              kg.layers.GumbelVectorQuantizer(
                  num_groups=2, num_vars=4, codevector_dim=6,
                  return_perplexity=True, seed=12),
              ("argmax",), None, (1, K)),
]

CASES = {case.name: case for case in LAYERS}


def build_model(layers=LAYERS, modes=None):
    """A model from logits to one output per (layer, mode); and the layers."""
    inputs = keras.Input((K,), name="logits")
    outputs, made = {}, {}
    for case in layers:
        for mode in case.modes:
            if modes is not None and mode not in modes:
                continue
            key = f"{case.name}_{mode}"
            made[key] = layer = case.factory(mode)
            if case.shape == (K,):
                y = layer(inputs)
            else:
                y = layer(keras.layers.Reshape(case.shape)(inputs))
            if isinstance(y, tuple):  # (output, perplexity)
                y, outputs[f"{key}_perplexity"] = y
                made[f"{key}_perplexity"] = layer
            if len(y.shape) > 2:
                y = keras.layers.Reshape((-1,))(y)
            outputs[key] = y
    model = keras.Model(inputs, outputs)
    model(np.zeros((2, K), "float32"))  # The ONNX exporter needs a call.
    return model, made


RUNNER = textwrap.dedent("""
    import json, sys
    import numpy as np

    # Block keras_gumbel even where it is installed.
    sys.modules["keras_gumbel"] = None
    try:
        import keras_gumbel
        blocked = False
    except ImportError:
        blocked = True
    fmt, path = sys.argv[1], sys.argv[2]

    def session():
        if fmt == "tf_saved_model":
            import tensorflow as tf
            loaded = tf.saved_model.load(path)  # Keeps the variables alive.
            return lambda x: {k: v.numpy() for k, v in
                              loaded.serve(tf.constant(x)).items()}
        if fmt == "onnx":
            import onnxruntime as ort
            s = ort.InferenceSession(path,
                                     providers=["CPUExecutionProvider"])
            name = s.get_inputs()[0].name
            keys = [o.name for o in s.get_outputs()]
            return lambda x: dict(zip(keys, s.run(None, {name: x})))
        from ai_edge_litert.interpreter import Interpreter
        interpreter = Interpreter(model_path=path)
        (signature,) = interpreter.get_signature_list().values()
        runner = interpreter.get_signature_runner()
        name = signature["inputs"][0]
        return lambda x: {k: np.array(v)
                          for k, v in runner(**{name: x}).items()}

    data = np.load("inputs.npz")
    results = {}
    for prefix, run in (("", session()), ("new_", session())):
        results[prefix + "det"] = run(data["x_det"])
        results[prefix + "rep"] = run(data["x_rep"])
        if not prefix:
            results["again"] = run(data["x_rep"])
            results["det_again"] = run(data["x_det"])  # After a resize.
    out = {f"{call}__{key}": value for call, outputs in results.items()
           for key, value in outputs.items()}
    np.savez(f"out_{fmt}.npz", **out)
    print(json.dumps({"blocked": blocked, "modules": sorted(
        m for m, v in sys.modules.items()
        if m.startswith("keras_gumbel") and v is not None)}))
""")

# format -> (file name, modules it needs, how it is exported). SavedModel
# first: its runtime process (which imports TensorFlow) is the slowest.
FORMATS = {
    "tf_saved_model": ("saved_model", (), "model.export"),
    "onnx": ("model.onnx", ("tf2onnx", "onnxruntime"), "model.export"),
    "litert": ("model.tflite", ("ai_edge_litert",), "keras_gumbel.export"),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Exports the model to each format and starts its runtime process."""
    if BACKEND != "tensorflow":
        pytest.skip("TensorFlow is the reference backend for export")
    root = tmp_path_factory.mktemp("formats")
    keras.utils.set_random_seed(0)
    model, layers = build_model()
    rng = np.random.default_rng(0)
    data = {"x_det": (2 * rng.normal(size=(7, K))).astype("float32"),
            "x_rep": np.tile(ROW, (N, 1))}
    np.savez(root / "inputs.npz", **data)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    processes, missing = {}, {}
    for fmt, (name, needs, how) in FORMATS.items():
        absent = [m for m in needs if not _has(m)]
        if absent:
            missing[fmt] = f"{fmt} needs {', '.join(absent)}"
            continue
        if how == "model.export":
            model.export(str(root / name), format=fmt, verbose=False)
        else:
            kg.export.export(model, str(root / name), format=fmt,
                             verbose=False)
        processes[fmt] = subprocess.Popen(
            [sys.executable, "-c", RUNNER, fmt, name], cwd=root, env=env,
            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    keras_det = {k: to_numpy(v)
                 for k, v in model(data["x_det"], training=False).items()}
    results = {}

    def result(fmt):
        if fmt in missing:
            pytest.skip(missing[fmt])
        if fmt not in results:
            stdout, stderr = processes[fmt].communicate(timeout=300)
            assert processes[fmt].returncode == 0, stderr[-3000:]
            info = json.loads(stdout.strip().splitlines()[-1])
            with np.load(root / f"out_{fmt}.npz") as out:
                results[fmt] = info, dict(out)
        return results[fmt]

    yield {"root": root, "layers": layers, "data": data,
           "keras_det": keras_det, "result": result}
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.backends("tensorflow")
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_runs_without_keras_gumbel(exported, fmt):
    info, out = exported["result"](fmt)
    assert info == {"blocked": True, "modules": []}
    assert {key.split("__")[1] for key in out} == set(exported["layers"])
    assert {key.split("__")[0] for key in out} == {
        "det", "rep", "again", "det_again", "new_det", "new_rep"}


@pytest.mark.backends("tensorflow")
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_deterministic_modes_equal_keras(exported, fmt):
    _, out = exported["result"](fmt)
    for key, layer in exported["layers"].items():
        if layer.inference_mode == "sample":
            continue
        np.testing.assert_allclose(out[f"det__{key}"],
                                   exported["keras_det"][key], rtol=0,
                                   atol=1e-5, err_msg=key)


@pytest.mark.backends("tensorflow")
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_sample_mode_valid_fresh_and_replayed(exported, fmt):
    _, out = exported["result"](fmt)
    checks = {f"{case.name}_sample": case.check for case in LAYERS}
    for key, layer in exported["layers"].items():
        if layer.inference_mode != "sample":
            continue
        det = out[f"det__{key}"]
        assert det.shape == (7, K) and np.all(np.isfinite(det)), key
        for call in ("rep", "again"):
            assert out[f"{call}__{key}"].shape == (N, K), key
            checks[key](out[f"{call}__{key}"], layer)
        # Fresh noise on every call, also after a change of batch size.
        assert not np.array_equal(out[f"rep__{key}"], out[f"again__{key}"])
        if not set(np.unique(det)) <= {0.0, 1.0}:  # Relaxed: never equal.
            assert not np.array_equal(det, out[f"det_again__{key}"]), key
        # A new session replays the artifact's stream (the SavedModel's
        # saved generator state, the ONNX nodes' seeds); LiteRT seeds from
        # the system on every allocation.
        replayed = np.array_equal(out[f"new_rep__{key}"], out[f"rep__{key}"])
        assert replayed == (fmt != "litert"), key


@pytest.mark.backends("tensorflow")
def test_onnx_samples_with_the_runtime_random_op(exported):
    exported["result"]("onnx")
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(exported["root"] / "model.onnx")).graph
    ops = collections.Counter(node.op_type for node in graph.node)
    # One draw per sampling layer (Gumbel-Rao's backward noise is pruned).
    samplers = [case for case in LAYERS if "sample" in case.modes]
    assert ops["RandomUniformLike"] == len(samplers), ops
    seeds = [a.f for node in graph.node if node.op_type == "RandomUniformLike"
             for a in node.attribute if a.name == "seed"]
    assert len(set(seeds)) == len(seeds)  # No two layers share a stream.


@pytest.mark.backends("tensorflow")
def test_runtime_ops_only_while_exporting():
    import tensorflow as tf

    from keras_gumbel.backend import tensorflow as tf_backend

    layer = kg.layers.RelaxedBernoulli(seed=1)
    spec = tf.TensorSpec([None, K], tf.float32)
    fn = tf.function(lambda x: layer(x, training=False))

    def op_types():
        graph = fn.get_concrete_function(spec).graph
        types = {op.type for op in graph.get_operations()}
        for function in graph.as_graph_def().library.function:
            types |= {node.op for node in function.node_def}
        return types

    training = op_types()
    assert "StatelessRandomUniformV2" in training
    assert "RandomUniform" not in training
    with kg.export.exporting_to("litert"):
        fn = tf.function(lambda x: layer(x, training=False))
        exporting = op_types()
    assert "RandomUniform" in exporting
    assert not {t for t in exporting if "Stateless" in t}
    assert tf_backend.export_format() is None
    with pytest.raises(ValueError, match="`format`.*Received: format='tflite'"):
        with kg.export.exporting_to("tflite"):
            pass


# The formats each backend other than TensorFlow writes, deterministic modes
# only; `keras_gumbel.export` refuses the others (tests/export/test_refusals.py).
OFF_TF_SERVED = {"jax": "tf_saved_model", "torch": "onnx"}


@pytest.mark.skipif(BACKEND == "tensorflow",
                    reason="the TensorFlow backend exports 'sample' mode")
@pytest.mark.parametrize("case, cls, modes", [
    (CASES["gumbel_softmax_hard"], "GumbelSoftmax", "'argmax', 'softmax'"),
    (CASES["relaxed_bernoulli_hard"], "RelaxedBernoulli",
     "'round', 'sigmoid'")],
    ids=["GumbelSoftmax", "RelaxedBernoulli"])
def test_sample_mode_refused_at_export_off_tensorflow(tmp_path, case, cls,
                                                      modes):
    fmt = OFF_TF_SERVED[BACKEND]
    model, _ = build_model([case], modes=("sample",))
    path = tmp_path / ("m.onnx" if fmt == "onnx" else "saved_model")
    with pytest.raises(
            ValueError, match=rf"layer '\w+' \({cls}\) "
            rf"with inference_mode='sample' to format='{fmt}' from the "
            rf"{BACKEND} backend.*\[{modes}\].*KERAS_BACKEND=tensorflow"):
        kg.export.export(model, str(path), format=fmt)
    assert not path.exists()


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's top_k in a SavedModel")
@pytest.mark.parametrize("mode", ["sample", "top_k"])
def test_top_k_refused_in_saved_model_from_jax(tmp_path, mode):
    model, _ = build_model([CASES["gumbel_top_k_hard"]], modes=(mode,))
    path = tmp_path / "saved_model"
    with pytest.raises(
            ValueError, match=rf"layer '\w+' \(GumbelTopK\) with "
            rf"inference_mode='{mode}' to format='tf_saved_model' from the "
            rf"jax backend.*serves none.*\['sample', 'top_k'\]"):
        kg.export.export(model, str(path))
    assert not path.exists()


OFF_TF_RUNNER = textwrap.dedent("""
    import sys
    import numpy as np
    sys.modules["keras_gumbel"] = None
    x = np.load("x.npy")
    if sys.argv[1] == "onnx":
        import onnxruntime as ort
        s = ort.InferenceSession("model.onnx",
                                 providers=["CPUExecutionProvider"])
        out = dict(zip([o.name for o in s.get_outputs()],
                       s.run(None, {s.get_inputs()[0].name: x})))
    else:
        import tensorflow as tf
        loaded = tf.saved_model.load("saved_model")
        out = {k: v.numpy() for k, v in loaded.serve(tf.constant(x)).items()}
    np.savez("out.npz", **out)
""")

OFF_TF_FORMATS = {"onnx": "model.onnx", "tf_saved_model": "saved_model"}


@pytest.mark.skipif(BACKEND == "tensorflow", reason="covered by the matrix")
@pytest.mark.parametrize("fmt", [
    pytest.param("onnx", marks=pytest.mark.skipif(
        BACKEND != "torch", reason="ONNX off TensorFlow: from torch only")),
    # jax2tf conversion: about 20 s of CPU.
    pytest.param("tf_saved_model", marks=[pytest.mark.slow,
                                          pytest.mark.skipif(
        BACKEND != "jax", reason="SavedModel off TensorFlow: from JAX only")])])
def test_deterministic_modes_export_off_tensorflow(tmp_path, fmt):
    if fmt == "onnx" and not _has("onnxruntime"):
        pytest.skip("needs onnxruntime")
    if fmt == "tf_saved_model" and not _has("tensorflow"):
        pytest.skip("needs tensorflow")
    deterministic = [c for c in LAYERS if set(c.modes) - {"sample"}]
    if fmt == "tf_saved_model":  # Refused from JAX, see above.
        deterministic = [c for c in deterministic
                         if not c.name.startswith("gumbel_top_k")]
    model, layers = build_model(deterministic, modes={
        m for c in deterministic for m in c.modes} - {"sample"})
    kg.export.export(model, str(tmp_path / OFF_TF_FORMATS[fmt]), format=fmt,
                     verbose=False)
    x = (2 * np.random.default_rng(0).normal(size=(7, K))).astype("float32")
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    run = subprocess.run([sys.executable, "-c", OFF_TF_RUNNER, fmt],
                         cwd=tmp_path, env=env, timeout=300,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    expected = {k: to_numpy(v) for k, v in model(x, training=False).items()}
    with np.load(tmp_path / "out.npz") as out:
        # torch.onnx names outputs by number, in the flattened (sorted-key)
        # order of the output dict.
        values = [out[name] for name in
                  (sorted(expected) if set(out) == set(expected) else out)]
    assert len(values) == len(expected)
    for value, key in zip(values, sorted(expected)):
        np.testing.assert_allclose(value, expected[key], rtol=0, atol=1e-5,
                                   err_msg=key)
