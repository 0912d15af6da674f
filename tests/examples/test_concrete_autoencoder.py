"""Smoke test of examples/concrete_autoencoder.py (seconds of training)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_smoke_run_writes_results_and_plots(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(
                   [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    done = subprocess.run(
        [sys.executable, "-m", "examples.concrete_autoencoder", "--smoke",
         "--k", "8", "--output-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ExtraTrees" in done.stdout
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    assert results["k"] == 8 and results["train_size"] == 512
    for name in ("concrete", "random", "variance"):
        index = results["selected"][name]
        assert len(index) == 8 and all(0 <= i < 64 for i in index)
        assert 0 < results["ridge_test_mse"][name] < 1
        assert 0 <= results["extra_trees_accuracy"][name] <= 1
    assert 0 < results["final_temperature"] < 10
    assert done.stdout.strip().splitlines()[-1] == (
        f"wrote {tmp_path}/: results.json, selected_pixels.png, "
        f"reconstructions.png")
    for name in ("selected_pixels.png", "reconstructions.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE
