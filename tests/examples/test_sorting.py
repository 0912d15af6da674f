"""Smoke test of examples/sorting.py (a few training steps)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow  # two small trainings and their compiles: about a minute
def test_smoke_run_writes_results_and_plot(tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(
                   [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    done = subprocess.run(
        [sys.executable, "-m", "examples.sorting", "--smoke",
         "--output-dir", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Kendall tau" in done.stdout
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    (sorting,) = results["sorting"]
    assert sorting["n"] == 5
    assert 0 <= sorting["prop_wrong"] <= sorting["prop_any_wrong"] <= 1
    assert -1 <= sorting["kendall_tau"] <= 1
    jigsaw = results["jigsaw"]
    assert 0 <= jigsaw["prop_solved"] <= jigsaw["prop_pieces_right"] <= 1
    assert (tmp_path / "permutation.png").read_bytes()[:8] == PNG_SIGNATURE
