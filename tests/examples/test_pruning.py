"""Tests of examples/pruning.py: the rebuild of a pruned MLP; a smoke run."""

import json
import os

import keras
import numpy as np
import pytest

from examples import pruning
from tests.backend_utils import BACKEND, to_numpy

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_rebuilt_mlp_computes_what_the_gated_one_does():
    keras.utils.set_random_seed(0)
    model = pruning.build_mlp((6, 4), penalty=0.1, seed=0)
    gates = [layer for layer in model.layers
             if hasattr(layer, "active_mask")]
    # Closed (-9), open (9) and partly open (0.5) gates.
    gates[0].log_alpha.assign(np.float32([-9, 9, 0.5, -9, 9, 9]))
    gates[1].log_alpha.assign(np.float32([9, -9, 0.5, 9]))
    keeps = [np.flatnonzero(to_numpy(g.active_mask())) for g in gates]
    np.testing.assert_array_equal(keeps[0], [1, 2, 4, 5])
    np.testing.assert_array_equal(keeps[1], [0, 2, 3])
    scales = [to_numpy(g.deterministic_gate()) for g in gates]
    pruned = pruning.rebuild(model, keeps, scales)
    units = [layer.units for layer in pruning.dense_layers(pruned)]
    assert units == [4, 3, 10]
    assert pruned.count_params() == 64 * 4 + 4 + 4 * 3 + 3 + 3 * 10 + 10
    x = np.random.default_rng(0).uniform(size=(16, 64)).astype("float32")
    np.testing.assert_allclose(to_numpy(pruned(x)),
                               to_numpy(model(x, training=False)),
                               rtol=1e-5, atol=1e-5)


def test_magnitude_keeps_the_largest_outgoing_norms():
    keras.utils.set_random_seed(0)
    model = pruning.build_mlp((5, 3))
    layers = pruning.dense_layers(model)
    kernel, bias = layers[1].get_weights()
    kernel[:] = np.arange(1, 6, dtype="float32")[:, None] * [[1, 0, 0]]
    layers[1].set_weights([kernel, bias])
    keeps = pruning.magnitude_keeps(model, [2, 3])
    np.testing.assert_array_equal(keeps[0], [3, 4])
    assert len(keeps[1]) == 3


def test_smoke_run_writes_results_plots_and_export(tmp_path, capsys):
    # `python -m examples.pruning --smoke`, in this process (seconds). From
    # JAX the SavedModel export goes through jax2tf (about 20 s of CPU):
    # exported there by the slow test below.
    jax = BACKEND == "jax"
    pruning.main(["--smoke", "--output-dir", str(tmp_path)]
                 + ["--no-export"] * jax)
    assert "chosen" in capsys.readouterr().out
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    assert results["hidden"] == [16, 8]
    assert results["sizes"] == {"train": 1077, "valid": 270, "test": 450}
    (run,) = results["gated"]
    assert run["pruned_max_abs_difference"] < 1e-4
    k1, k2 = run["kept"]
    assert run["pruned_parameters"] == 65 * k1 + (k1 + 1) * k2 + 10 * k2 + 10
    assert 0 <= run["test_accuracy"] <= 1
    assert results["timing"]["pruned_ms"] > 0
    assert jax or os.path.exists(results["exported"])
    for name in ("accuracy_vs_kept.png", "gates_over_training.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.slow
@pytest.mark.skipif(BACKEND != "jax", reason="the default smoke run exports")
def test_smoke_run_exports_from_jax(tmp_path):
    results = pruning.main(["--smoke", "--output-dir", str(tmp_path)])
    assert os.path.isdir(results["exported"])
