"""SavedModel export and serving of models with Gumbel layers.

One model with every inference mode is trained briefly (with temperature
annealing), then written four ways: `model.export`, `tf.saved_model.save`,
and a `keras.export.ExportArchive` with a training endpoint, with and without
`experimental_custom_gradients`. A fresh Python process in which
keras_gumbel cannot be imported loads and runs them, while `saved_model_cli
show` and `saved_model_cli run` inspect and run the export; the three
processes run concurrently, each importing TensorFlow once.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gumbel as kg

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

K = 5
FEATURES = 6
TRAIN_BATCH = 8
# Serving samples of one row repeated N times: each frequency below (a
# category's, or of a relaxed Bernoulli value below a threshold) is within
# HOEFFDING_T of its probability except with probability
# 2 exp(-2 N t^2) = 2.2e-9 (Hoeffding); 30 such checks: < 1e-7.
N = 20000
HOEFFDING_T = 0.0227

LOADER = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    # Block keras_gumbel even where it is installed (CI installs it).
    sys.modules["keras_gumbel"] = None
    try:
        import keras_gumbel
        blocked = False
    except ImportError:
        blocked = True
    data = np.load("inputs.npz")
    out, info = {}, {"keras_gumbel_blocked": blocked}

    # ExportArchive with a training endpoint: gradient first, so that the
    # noise state is the one saved (the parent computed the same gradient).
    archive = tf.saved_model.load("archive")
    with tf.GradientTape() as tape:
        y = archive.train(tf.constant(data["x_grad"]))
        loss = tf.reduce_sum(y["sample"] * data["weights"])
    grads = tape.gradient(loss, archive.trainable_variables)
    info["variables"] = [v.name for v in archive.trainable_variables]
    for i, g in enumerate(grads):
        out[f"grad_{i}"] = np.zeros(0) if g is None else g.numpy()

    no_cg = tf.saved_model.load("archive_no_cg")
    try:
        with tf.GradientTape() as tape:
            y = no_cg.train(tf.constant(data["x_grad"]))
            loss = tf.reduce_sum(y["sample"] * data["weights"])
        tape.gradient(loss, no_cg.trainable_variables)
        info["no_cg_error"] = None
    except LookupError as error:
        info["no_cg_error"] = str(error)

    exported = tf.saved_model.load("export")
    for name in ("x_small", "x_many", "x_repeat"):
        for key, value in exported.serve(tf.constant(data[name])).items():
            out[f"export_{name}_{key}"] = value.numpy()
    again = exported.serve(tf.constant(data["x_repeat"]))
    out["export_x_repeat_again_sample"] = again["sample"].numpy()
    out["export_x_repeat_again_bernoulli"] = again["bernoulli"].numpy()

    saved = tf.saved_model.load("tf_save")
    signature = saved.signatures["serving_default"]
    info["tf_save_inputs"] = sorted(
        signature.structured_input_signature[1])
    for key, value in signature(tf.constant(data["x_small"])).items():
        out[f"tf_save_x_small_{key}"] = value.numpy()
    info["keras_gumbel_modules"] = sorted(
        name for name, module in sys.modules.items()
        if name.startswith("keras_gumbel") and module is not None)
    np.savez("outputs.npz", **out)
    print(json.dumps(info))
""")


def build_model():
    inputs = keras.Input((FEATURES,), name="features")
    logits = keras.layers.Dense(K, name="logits")(inputs)
    outputs = {
        "logits": logits,
        "argmax": kg.layers.GumbelSoftmax(
            hard=True, inference_mode="argmax", name="gs_argmax")(logits),
        "softmax": kg.layers.GumbelSoftmax(
            inference_mode="softmax", name="gs_softmax")(logits),
        "sample": kg.layers.GumbelSoftmax(
            hard=True, inference_mode="sample", seed=3,
            name="gs_sample")(logits),
        "round": kg.layers.RelaxedBernoulli(
            inference_mode="round", name="rb_round")(logits),
        "sigmoid": kg.layers.RelaxedBernoulli(
            inference_mode="sigmoid", name="rb_sigmoid")(logits),
        "bernoulli": kg.layers.RelaxedBernoulli(
            temperature=0.5, seed=4, name="rb_sample")(logits),
    }
    return keras.Model(inputs, outputs)


def write_archive(model, path, **options):
    spec = [tf.TensorSpec([None, FEATURES], tf.float32, name="features")]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("serve", lambda x: model(x, training=False), spec)
    archive.add_endpoint("train", lambda x: model(x, training=True), spec)
    archive.write_out(path, options=tf.saved_model.SaveOptions(**options),
                      verbose=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Trains, exports, and starts the three serving processes."""
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    model = build_model()
    model.compile(optimizer="sgd",
                  loss={"sample": "mse", "bernoulli": "mse"})
    x_train = rng.normal(size=(4 * TRAIN_BATCH, FEATURES)).astype("float32")
    targets = {"sample": np.eye(K, dtype="float32")[np.arange(32) % K],
               "bernoulli": np.ones((32, K), "float32")}
    schedule = kg.schedules.LinearDecay(initial=1.0, final=0.3, steps=6)
    history = model.fit(x_train, targets, batch_size=TRAIN_BATCH, epochs=2,
                        verbose=0, callbacks=[
                            kg.callbacks.TemperatureScheduler(schedule)])

    model.export(str(root / "export"), verbose=False)
    tf.saved_model.save(model, str(root / "tf_save"))
    write_archive(model, str(root / "archive"))
    write_archive(model, str(root / "archive_no_cg"),
                  experimental_custom_gradients=False)

    data = {
        "x_small": rng.normal(size=(3, FEATURES)).astype("float32"),
        "x_many": rng.normal(size=(11, FEATURES)).astype("float32"),
        "x_repeat": np.repeat(rng.normal(size=(1, FEATURES)), N,
                              axis=0).astype("float32"),
        "x_grad": rng.normal(size=(9, FEATURES)).astype("float32"),
        "weights": rng.normal(size=(9, K)).astype("float32"),
    }
    np.savez(root / "inputs.npz", **data)
    np.save(root / "x_small.npy", data["x_small"])

    # The same gradient in this process, after saving: the noise state
    # is the saved one, and this call advances it.
    with tf.GradientTape() as tape:
        y = model(data["x_grad"], training=True)
        loss = tf.reduce_sum(y["sample"] * data["weights"])
    grads = tape.gradient(loss, model.trainable_variables)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")

    def start(args):
        return subprocess.Popen(args, cwd=root, env=env, text=True,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    processes = {
        "loader": start([sys.executable, "-c", LOADER]),
        "show": start([cli, "show", "--dir", "export", "--all"]),
        "run": start([cli, "run", "--dir", "export", "--tag_set", "serve",
                      "--signature_def", "serve",
                      "--inputs", "features=x_small.npy",
                      "--outdir", "cli_out", "--overwrite"]),
    }
    results = {}

    def result(name):
        if name not in results:
            stdout, stderr = processes[name].communicate(timeout=300)
            assert processes[name].returncode == 0, stderr[-3000:]
            results[name] = stdout
        return results[name]

    yield {
        "root": root, "model": model, "data": data, "grads": grads,
        "history": history.history, "result": result,
        "temperature": model.get_layer("gs_softmax").temperature.numpy(),
    }
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def loaded(served):
    info = json.loads(served["result"]("loader").strip().splitlines()[-1])
    with np.load(served["root"] / "outputs.npz") as outputs:
        arrays = dict(outputs)
    return info, arrays


def one_hot_argmax(logits):
    return np.eye(logits.shape[-1], dtype="float32")[logits.argmax(-1)]


def softmax(z):
    z = z - z.max(-1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(-1, keepdims=True)


def test_export_serves_each_inference_mode_without_keras_gumbel(served,
                                                                loaded):
    info, out = loaded
    assert info["keras_gumbel_blocked"]
    assert info["keras_gumbel_modules"] == []
    model, data = served["model"], served["data"]
    # The annealed temperature is what the export uses.
    tau = served["temperature"]
    assert served["history"]["temperature"][-1] == pytest.approx(0.3)
    assert tau == np.float32(0.3)
    for name, batch in (("x_small", 3), ("x_many", 11), ("x_repeat", N)):
        logits = out[f"export_{name}_logits"]
        assert logits.shape == (batch, K)
        np.testing.assert_allclose(
            logits, model(data[name], training=False)["logits"], rtol=1e-5,
            atol=1e-6)
        np.testing.assert_array_equal(out[f"export_{name}_argmax"],
                                      one_hot_argmax(logits))
        np.testing.assert_allclose(out[f"export_{name}_softmax"],
                                   softmax(logits / tau), rtol=1e-5,
                                   atol=1e-7)
        np.testing.assert_array_equal(out[f"export_{name}_round"],
                                      (logits > 0).astype("float32"))
        np.testing.assert_allclose(out[f"export_{name}_sigmoid"],
                                   1 / (1 + np.exp(-logits / tau)), rtol=1e-5)
        sample = out[f"export_{name}_sample"]
        assert set(np.unique(sample)) <= {0.0, 1.0}
        np.testing.assert_array_equal(sample.sum(-1), np.ones(batch))
        bernoulli = out[f"export_{name}_bernoulli"]
        assert np.all((bernoulli >= 0) & (bernoulli <= 1))


def test_export_samples_fresh_noise_from_the_right_distribution(served,
                                                              loaded):
    _, out = loaded
    logits = out["export_x_repeat_logits"][0].astype("float64")
    probabilities = softmax(logits)
    for call in ("", "again_"):
        # Hard Gumbel-Softmax: Categorical(softmax(logits)) at any tau.
        frequencies = out[f"export_x_repeat_{call}sample"].mean(0)
        assert np.all(np.abs(frequencies - probabilities) < HOEFFDING_T), (
            frequencies, probabilities)
        # Relaxed Bernoulli y = sigmoid((l + L) / tau), L ~ Logistic(0, 1):
        # P(y < c) = sigmoid(tau * logit(c) - l), at the annealed tau.
        bernoulli = out[f"export_x_repeat_{call}bernoulli"]
        for c in (0.25, 0.75):
            expected = 1 / (1 + np.exp(-(served["temperature"]
                                         * np.log(c / (1 - c)) - logits)))
            frequencies = (bernoulli < c).mean(0)
            assert np.all(np.abs(frequencies - expected) < HOEFFDING_T), (
                c, frequencies, expected)
    # The check can tell the annealed temperature (0.3) from the initial 1.
    at_one = 1 / (1 + np.exp(-(np.log(0.25 / 0.75) - logits)))
    at_tau = 1 / (1 + np.exp(-(0.3 * np.log(0.25 / 0.75) - logits)))
    assert np.max(np.abs(at_one - at_tau)) > 2 * HOEFFDING_T
    # Fresh noise on every call of the loaded function.
    assert not np.array_equal(out["export_x_repeat_bernoulli"],
                              out["export_x_repeat_again_bernoulli"])


def test_tf_saved_model_save_serves_the_same(loaded):
    info, out = loaded
    assert info["tf_save_inputs"] == ["inputs"]
    for key in ("logits", "argmax", "softmax", "round", "sigmoid"):
        np.testing.assert_allclose(out[f"tf_save_x_small_{key}"],
                                   out[f"export_x_small_{key}"], rtol=1e-6)
    sample = out["tf_save_x_small_sample"]
    np.testing.assert_array_equal(sample.sum(-1), np.ones(3))


def test_straight_through_gradient_survives_loading(served, loaded):
    info, out = loaded
    model = served["model"]
    assert info["variables"] == [v.path + ":0"
                                 for v in model.trainable_variables]
    for i, expected in enumerate(served["grads"]):
        np.testing.assert_allclose(out[f"grad_{i}"], expected, rtol=1e-5,
                                   atol=1e-6)
    kernel = out["grad_0"]  # d loss / d logits kernel: only through ST
    assert kernel.shape == (FEATURES, K) and np.abs(kernel).sum() > 1e-3
    # Without the saved custom gradients the hard sample has no gradient.
    assert "No gradient defined for operation" in info["no_cg_error"]


def test_saved_model_cli_show_and_run(served, loaded):
    shown = served["result"]("show")
    assert "signature_def['serve']" in shown
    assert "inputs['features'] tensor_info" in shown
    assert "shape: (-1, 6)" in shown
    for key in ("argmax", "softmax", "sample", "round", "bernoulli"):
        assert f"outputs['{key}'] tensor_info" in shown
    served["result"]("run")
    cli_out = served["root"] / "cli_out"
    logits = np.load(cli_out / "logits.npy")
    _, out = loaded
    np.testing.assert_allclose(logits, out["export_x_small_logits"],
                               rtol=1e-6)
    np.testing.assert_array_equal(np.load(cli_out / "argmax.npy"),
                                  one_hot_argmax(logits))
    sample = np.load(cli_out / "sample.npy")
    np.testing.assert_array_equal(sample.sum(-1), np.ones(3))
