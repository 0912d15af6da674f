"""Smoke run of `python -m examples.vq_autoencoder` (seconds of training).

Moved here from tests/layers/test_vector_quantizer.py: it tests the example.
"""

import json

import numpy as np

from examples import vq_autoencoder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_smoke_run_writes_results_and_says_where(tmp_path, capsys):
    out = tmp_path / "vq"
    results = vq_autoencoder.main(["--smoke", "--output-dir", str(out)])
    assert (out / "code_usage.png").read_bytes()[:8] == PNG_SIGNATURE
    for run in results.values():
        assert 1.0 <= run["perplexity"] <= run["codebook_size"] * (1 + 1e-4)
        assert np.isfinite(run["reconstruction_mse"])
        # The total is the sum of the groups' perplexities (of V each).
        groups = [vq_autoencoder.group_perplexity(c) for c in run["counts"]]
        assert all(1.0 <= p <= 16 * (1 + 1e-9) for p in groups)
        np.testing.assert_allclose(run["perplexity"], sum(groups), rtol=1e-9)
    saved = json.loads((out / "results.json").read_text())
    assert saved["results"].keys() == results.keys()
    # Issue 23: the script says where it wrote.
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"wrote {out}/: code_usage.png, results.json"
