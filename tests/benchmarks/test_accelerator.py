"""`python -m benchmarks.accelerator` runs on tiny shapes, so it cannot rot.

The script times JAX and PyTorch (each in its own process); each backend's
suite runs its own child, with TensorFlow made unimportable, as on a GPU
machine that has none.
"""

import json
import math
import os
import subprocess
import sys

import pytest

from tests.backend_utils import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

pytestmark = pytest.mark.backends("jax", "torch")


def _run(tmp_path, *flags):
    """Runs the script without TensorFlow; returns (report, markdown)."""
    blocker = tmp_path / "no_tensorflow" / "tensorflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ImportError('TensorFlow is not installed (test)')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(blocker.parent), ROOT]))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.accelerator", "--tiny",
         "--backends", BACKEND, "--output-dir", str(out), *flags],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / "accelerator.json").read_text())
    return report, (out / "accelerator.md").read_text()


def _check_ops(result, dtype, names):
    assert "error" not in result, result.get("error")
    assert result["info"]["platform"] in ("cpu", "gpu")
    assert result["tensorflow_imported"] is False
    assert result["copy_bandwidth_gb_s"] > 0
    seen = {(r["op"], r["pass"]) for r in result["ops"]}
    assert seen == {(op, p) for op in names for p in ("fwd", "fwd+bwd")}
    for r in result["ops"]:
        assert (r["dtype"], r["shape"]) == (dtype, "8x16")
        assert math.isfinite(r["median_ms"]) and r["median_ms"] > 0, r
        assert r["bandwidth_fraction"] > 0, r


def test_tiny_run_times_the_references(tmp_path):
    # A few candidates (compiling each costs about a second on 2 cores);
    # the slow test below times all of them and the training steps.
    names = {"gs_st", "floor"} | (
        {"torch_F_hard"} if BACKEND == "torch" else set())
    report, text = _run(tmp_path, "--dtypes", "bfloat16", "--sizes", "8x16",
                        "--torch-modes", "eager", "--no-models",
                        "--ops", *sorted(names))
    _check_ops(report["backends"][BACKEND], "bfloat16", names)
    assert "| 8x16 | gs_st |" in text


@pytest.mark.slow
def test_tiny_run_times_every_candidate(tmp_path):
    import keras_gumbel.ops as kops
    from benchmarks import accelerator

    report, text = _run(tmp_path, "--dtypes", "float32", "--sizes", "8x16",
                        "--torch-modes", "eager")
    names = set(accelerator.op_samplers(kops)) | {"floor"}
    if BACKEND == "torch":
        names |= {"torch_F", "torch_F_hard"}
    result = report["backends"][BACKEND]
    _check_ops(result, "float32", names)
    models = {r["model"]: r for r in result["models"]}
    assert set(models) == {"vae", "vq_keras_gumbel", "vq_huggingface"}
    assert all(r["steps_per_second"] > 0 for r in models.values())
    assert "| vq_huggingface |" in text


@pytest.mark.slow
@pytest.mark.backends("torch")  # torch.compile is PyTorch's
def test_torch_compile_mode_and_float32(tmp_path):
    report, _ = _run(tmp_path, "--dtypes", "float32", "--sizes", "8x16",
                     "--torch-modes", "compile", "--ops", "gs", "floor",
                     "--no-models")
    result = report["backends"]["torch"]
    assert "error" not in result, result.get("error")
    assert {(r["mode"], r["op"]) for r in result["ops"]} == {
        ("compile", "gs"), ("compile", "floor")}


def test_bad_size_is_rejected_naming_the_value():
    from benchmarks import accelerator

    with pytest.raises(SystemExit):
        accelerator.parse_args(["--sizes", "16by32"])
