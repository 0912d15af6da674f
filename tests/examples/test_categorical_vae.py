"""Tests of `python -m examples.categorical_vae`, its shared code
(`examples.cli`, `vae_model`, `training`, `plotting`, `exporting`), its exports and TensorBoard logs, and the quick start.

The data loaders' error paths are tested once, in test_datasets.py.
"""

import glob
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from examples import categorical_vae
from examples import cli, exporting, training, vae_model
from keras_gumbel import datasets

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """Runs the example in smoke mode once (in-process); returns its folder."""
    out = tmp_path_factory.mktemp("vae") / "out"
    status = categorical_vae.main(["--smoke", "--verbose", "0",
                                   "--output-dir", str(out)])
    assert status == 0
    return out


def test_smoke_run_writes_valid_plots(smoke_run):
    import matplotlib.image

    for name in ("reconstructions.png", "prior_samples.png", "curves.png"):
        path = smoke_run / name
        assert path.read_bytes()[:8] == PNG_SIGNATURE, name
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) >= 100, name
        assert image.std() > 0.01, f"{name} is blank"


def _numbers(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _numbers(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _numbers(value)
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield tree


def test_smoke_run_metrics_json(smoke_run):
    metrics = json.loads((smoke_run / "metrics.json").read_text())
    for key in ("train_neg_elbo", "valid_neg_elbo", "test_neg_elbo",
                "test_neg_elbo_relaxed", "temperature", "train_seconds"):
        assert math.isfinite(metrics[key]) and metrics[key] > 0, key
    assert all(math.isfinite(x) for x in _numbers(metrics))
    assert metrics["epochs"] == 2 and metrics["dataset"] == "digits"
    assert metrics["examples"] == {"train": 256, "valid": 250, "test": 250}
    # 256 examples / batch 64 = 4 steps an epoch; smoke schedule r = 0.05,
    # N = 1: the epoch logs carry tau of the epoch's last step (3 and 7).
    assert metrics["steps"] == 8
    np.testing.assert_allclose(metrics["history"]["temperature"],
                               [math.exp(-0.05 * 3), math.exp(-0.05 * 7)],
                               rtol=1e-6)
    assert metrics["temperature"] == pytest.approx(math.exp(-0.05 * 7))
    # Sanity bound: a decoder giving 1/2 to each of the 64 pixels scores
    # 64 log 2, plus a KL of at most 4 log 5; two smoke epochs are not worse.
    assert metrics["test_neg_elbo"] < 64 * math.log(2) + 4 * math.log(5) + 5
    assert metrics["serving"]["ok"] is True
    assert metrics["settings"]["smoke"] is True
    # Issue 16 item 7: the estimator is said once, and truthfully.
    assert metrics["estimator"] == "relaxed (Gumbel-Softmax)"
    assert "estimator" not in metrics["settings"]
    assert "estimator_samples" not in metrics["settings"]
    # Issue 23: what the numbers depend on is recorded with them.
    environment = metrics["environment"]
    assert environment["backend"] == "tensorflow"
    assert environment["keras"] == keras.__version__
    assert environment["backend_version"] and environment["numpy"]
    assert metrics["deterministic"] is None


def test_deterministic_flag_changes_no_number_on_the_cpu(smoke_run,
                                                         tmp_path):
    # In a subprocess: op determinism stays on for the rest of a process.
    # On the CPU the run is repeatable without it (docs/example_vae.md), so
    # it must give the smoke run's numbers to the last digit.
    done = _run("-m", "examples.categorical_vae", "--smoke", "--verbose",
                "0", "--deterministic", "--output-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    ours = json.loads((tmp_path / "metrics.json").read_text())
    theirs = json.loads((smoke_run / "metrics.json").read_text())
    assert ours["deterministic"] == (
        "tf.config.experimental.enable_op_determinism()")
    for key in ("train_neg_elbo", "valid_neg_elbo", "test_neg_elbo",
                "test_neg_elbo_relaxed", "history"):
        assert ours[key] == theirs[key], key


def _event_tags(folder):
    """{tag} of every summary in the TensorBoard event files under `folder`."""
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator)

    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    accumulator.Reload()
    return {tag: [event.step for event in accumulator.Tensors(tag)]
            for tag in accumulator.Tags()["tensors"]}


def test_smoke_run_tensorboard_logs(smoke_run):
    logs = smoke_run / "logs"
    train, validation = _event_tags(logs / "train"), _event_tags(
        logs / "validation")
    # Scalars per epoch (2 smoke epochs): negative ELBO (`loss`), its terms,
    # and the temperature TemperatureScheduler writes into the logs.
    for tag in ("epoch_loss", "epoch_reconstruction", "epoch_kl",
                "epoch_temperature"):
        assert train[tag] == [0, 1], tag
    for tag in ("epoch_loss", "epoch_reconstruction", "epoch_kl"):
        assert validation[tag] == [0, 1], tag
    assert _event_tags(logs / "images")["reconstructions"] == [0, 1]
    # The logged temperatures are the schedule's (smoke: r = 0.05, N = 1).
    import tensorflow as tf
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator)

    accumulator = EventAccumulator(str(logs / "train"))
    accumulator.Reload()
    taus = [float(tf.make_ndarray(e.tensor_proto))
            for e in accumulator.Tensors("epoch_temperature")]
    np.testing.assert_allclose(taus, [math.exp(-0.05 * 3),
                                      math.exp(-0.05 * 7)], rtol=1e-6)


def test_smoke_run_saved_models_serve_without_keras_gumbel(smoke_run):
    # A fresh process in which keras_gumbel cannot be imported.
    code = textwrap.dedent(f"""
        import sys
        sys.modules["keras_gumbel"] = None
        import numpy as np, tensorflow as tf
        enc = tf.saved_model.load({str(smoke_run / "encoder")!r})
        dec = tf.saved_model.load({str(smoke_run / "decoder")!r})
        x = (np.random.default_rng(0).random((7, 64)) > 0.5)
        codes = enc.serve(tf.constant(x, tf.float32))["codes"].numpy()
        probs = dec.serve(tf.constant(codes))["probabilities"].numpy()
        # The signatures name their tensors (saved_model_cli shows them).
        sig = enc.signatures["serving_default"]
        assert list(sig.structured_outputs) == ["codes"]
        assert list(sig.structured_input_signature[1]) == ["images"]
        sig = dec.signatures["serving_default"]
        assert list(sig.structured_outputs) == ["probabilities"]
        assert list(sig.structured_input_signature[1]) == ["codes"]
        assert codes.shape == (7, 4, 5), codes.shape
        assert set(np.unique(codes)) <= {{0.0, 1.0}}
        assert (codes.sum(-1) == 1).all()
        assert probs.shape == (7, 64) and (probs >= 0).all()
        assert (probs <= 1).all()
        print("served")
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, env=env, cwd=smoke_run, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served"


def _run(*command, env=None):
    # TF_CPP_MIN_LOG_LEVEL unset: the example's own default applies.
    env = {**os.environ, **(env or {})}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, *command], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


# What TensorFlow prints when it loads, before its logging is initialised:
# no log level hides these (examples/__init__.py); harmless.
TF_STARTUP = re.compile(r"^(WARNING: All log messages before absl|[IW]0000 |"
                        r"To enable the following instructions)")


def _message_lines(stderr):
    """The lines of `stderr` that are not TensorFlow's start-up lines."""
    return [line for line in stderr.strip().splitlines()
            if not TF_STARTUP.match(line)]


def _images(n, seed=0):
    return (np.random.default_rng(seed).random((n, 784)) > 0.8).astype(
        np.uint8)


@pytest.mark.parametrize("script, module", [
    ("examples/categorical_vae.py", "examples.categorical_vae"),
    ("examples/quickstart.py", "examples.quickstart"),
    ("benchmarks/paper_vae.py", "benchmarks.paper_vae"),
    ("benchmarks/ops.py", "benchmarks.ops"),
    ("benchmarks/estimators.py", "benchmarks.estimators"),
])
def test_old_invocation_points_to_the_module(script, module):
    done = _run(script, "--help")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"python -m {module}"), (
        done.stderr)


def test_bad_data_fails_with_one_line(tmp_path):
    # The loaders' errors are tested in test_datasets.py; here: the command
    # prints one line, no traceback, and exits 2.
    np.savez(tmp_path / "binarized_mnist.npz", train=_images(3),
             valid=_images(3)[:, :783], test=_images(3))
    done = _run("-m", "examples.categorical_vae", "--data-dir",
                str(tmp_path), "--output-dir", str(tmp_path / "out"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = _message_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("python -m examples.categorical_vae: error:")
    assert "expected shape (n, 784)" in lines[0]


def test_data_dir_accepts_the_npz_file(tmp_path, capsys):
    # Issue 16 item 3: the .npz itself, not only its folder.
    npz = tmp_path / "binarized_mnist.npz"
    np.savez(npz, train=_images(64, 1), valid=_images(20, 2),
             test=_images(20, 3))
    out = tmp_path / "out"
    assert categorical_vae.main(["--smoke", "--epochs", "1", "--data-dir",
                                 str(npz), "--verbose", "0", "--output-dir",
                                 str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "binarized_mnist"
    assert metrics["examples"] == {"train": 64, "valid": 20, "test": 20}


@pytest.mark.parametrize("missing", [("matplotlib",),
                                     ("sklearn", "sklearn.datasets")])
def test_missing_extra_names_the_install_command(tmp_path, monkeypatch,
                                                 capsys, missing):
    for name in missing:
        monkeypatch.setitem(sys.modules, name, None)
    status = categorical_vae.main(["--smoke", "--output-dir", str(tmp_path)])
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and 'pip install -e ".[examples]"' in lines[0]
    assert ("matplotlib" if missing[0] == "matplotlib" else "scikit-learn"
            ) in lines[0]


@pytest.mark.parametrize("args", [["--epochs", "0"], ["--batch-size", "-3"],
                                  ["--categories", "1"],
                                  ["--anneal-rate", "nan"],
                                  ["--min-temperature", "0"],
                                  ["--min-temperature", "2"],
                                  ["--hidden", "512,x"],
                                  ["--estimator", "reinmax"],
                                  ["--estimator", "nope", "--hard"],
                                  ["--hard", "--estimator-samples", "3"]])
def test_bad_arguments_exit_with_a_usage_error(args, capsys):
    with pytest.raises(SystemExit) as info:
        categorical_vae.parse_args(args)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err.strip().splitlines()[-1]


def test_output_dir_that_is_a_file_fails_with_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    status = categorical_vae.main(["--smoke", "--output-dir",
                                   str(blocker / "sub")])
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "cannot create output directory" in lines[0]


def test_estimator_choices_match_the_package():
    import keras_gumbel

    assert categorical_vae.ESTIMATORS == tuple(keras_gumbel.ops.ESTIMATORS)


def test_neg_elbo_terms_match_numpy():
    rng = np.random.default_rng(0)
    x = (rng.random((3, 6)) > 0.5).astype(np.float32)
    x_logits = rng.normal(size=(3, 6)).astype(np.float32)
    logits = rng.normal(size=(3, 2, 4)).astype(np.float32)
    reconstruction, kl = vae_model.neg_elbo_terms(x, x_logits, logits)
    p = 1 / (1 + np.exp(-x_logits.astype(np.float64)))
    expected_rec = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(-1)
    q = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected_kl = (q * np.log(q * 4)).sum((-2, -1))
    np.testing.assert_allclose(reconstruction, expected_rec, rtol=1e-5)
    np.testing.assert_allclose(kl, expected_kl, rtol=1e-5)


def test_smoke_run_hard_straight_through(tmp_path):
    status = categorical_vae.main(["--smoke", "--hard", "--verbose", "0",
                                   "--epochs", "1", "--output-dir",
                                   str(tmp_path)])
    assert status == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["estimator"] == "hard (straight_through)"
    assert metrics["test_neg_elbo_relaxed"] is None
    assert math.isfinite(metrics["test_neg_elbo"])
    assert metrics["serving"]["codes_shape"] == [100, 4, 5]


@pytest.mark.parametrize("estimator", ["gumbel_rao", "reinmax"])
def test_other_estimators_train(estimator):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    vae = vae_model.build_vae(
        16, 3, 4, (8,), hard=True, estimator=estimator,
        estimator_samples=2 if estimator == "gumbel_rao" else 1, seed=0)
    x = (np.random.default_rng(0).random((64, 16)) > 0.5).astype(np.float32)
    history, _ = training.train_vae(vae, x, x[:16], epochs=1, batch_size=32,
                                    anneal_every=1, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])
    # The reconstruction term reaches the encoder only through the
    # estimator's gradient (the KL term reaches it directly, so leave it out).
    with tf.GradientTape() as tape:
        x_logits, logits = vae(x, training=True)
        reconstruction, _ = vae_model.neg_elbo_terms(x, x_logits, logits)
        loss = tf.reduce_mean(reconstruction)
    grads = tape.gradient(loss, vae.encoder.trainable_weights)
    assert all(g is not None and np.isfinite(g).all() for g in grads)
    assert np.abs(grads[0]).sum() > 0


def test_one_line_unwraps_keras_layer_errors():
    wrapped = NotImplementedError(
        "Exception encountered when calling GumbelSoftmax.call().\n\n"
        "\x1b[1mestimator='reinmax' is not implemented yet.\x1b[0m\n\n"
        "Arguments received by GumbelSoftmax.call():\n  • training=True")
    assert (cli.one_line(wrapped)
            == "estimator='reinmax' is not implemented yet.")
    assert cli.one_line(ValueError("a\n b")) == "a b"


@pytest.mark.slow
@pytest.mark.parametrize("hard", [False, True])
def test_digits_training_learns(tmp_path, hard):
    # 40 epochs of the default digits run, about 25 s each. A decoder that
    # ignores the codes scores at best the pixels' marginal entropy (25.1
    # nats: the sum of the binary entropies of the per-pixel train means);
    # the VAE must use its codes to beat it. Measured at seed 0: test 22.8
    # (relaxed) and 21.4 (hard). The one-sample estimate over the 250 test
    # images varies with the noise by 0.36 nats (std of 20 evaluations of
    # the relaxed model), so a margin of 0.5 nat leaves more than 6 sigma.
    argv = ["--epochs", "40", "--verbose", "0", "--output-dir", str(tmp_path)]
    assert categorical_vae.main(argv + (["--hard"] if hard else [])) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    train, _, _ = datasets.load_digits(seed=0)
    p = train.mean(0).clip(1e-6, 1 - 1e-6)
    marginal = float(-(p * np.log(p) + (1 - p) * np.log(1 - p)).sum())
    assert metrics["test_neg_elbo"] < marginal - 0.5


def test_paper_benchmark_runs_on_a_tiny_data_set(tmp_path, capsys):
    from benchmarks import paper_vae

    data_dir = tmp_path / "data"
    data_dir.mkdir()
    np.savez(data_dir / "binarized_mnist.npz", train=_images(200, 1),
             valid=_images(50, 2), test=_images(50, 3))
    out = tmp_path / "out"
    assert paper_vae.main(["--data-dir", str(data_dir), "--epochs", "1",
                           "--verbose", "0", "--output-dir", str(out)]) == 0
    for row, paper in (("gs", 101.5), ("st", 107.8)):
        result = json.loads((out / f"paper_vae_{row}.json").read_text())
        assert result["paper_test_neg_elbo"] == paper
        assert result["epochs"] == 1 and result["steps"] == 2
        assert math.isfinite(result["test_neg_elbo"])
    assert "| ST Gumbel-Softmax |" in capsys.readouterr().out
    assert paper_vae.main(["--data-dir", str(tmp_path / "nope")]) == 2


def test_serving_check_catches_a_model_that_differs(smoke_run):
    import keras
    import tensorflow as tf

    # Same shapes as the smoke model, other weights: the reloaded encoder's
    # codes (trained weights) cannot match this model's argmax on all of
    # 250 images x 4 variables.
    keras.utils.set_random_seed(123)
    other = vae_model.build_vae(64, 4, 5, (32, 16), seed=123)
    _, valid, _ = datasets.load_digits(seed=0)
    with pytest.raises(RuntimeError, match="differ"):
        exporting.check_serving(other, smoke_run / "encoder",
                                smoke_run / "decoder", valid, tf)


def test_quickstart_trains_the_layer(capsys):
    from examples import quickstart

    quickstart.sample()
    before, after = quickstart.train()
    # Seeded: the untrained argmax maps 1 symbol of 4 right, the trained all.
    assert before < 1.0 and after == 1.0
    out = capsys.readouterr().out
    assert "hard sample:" in out and "accuracy" in out
