"""Two training processes on 127.0.0.1, run by `examples/multi_worker.py`.

- TensorFlow: `MultiWorkerMirroredStrategy` and a custom training loop that
  anneals with `keras_gumbel.callbacks.apply_schedule`.
- JAX: processes joined by `jax.distributed.initialize`,
  `keras.distribution.DataParallel` and `fit` with `TemperatureScheduler`.

Each test runs under its own backend's pytest run only (the workers are
processes with that backend). Both take about 45-60 s on 2 busy cores, most
of it starting the two processes.
"""

import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.backend_utils import BACKEND

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TIMEOUT = 150  # seconds for the whole run; the workers wait 60 s for peers


def free_addresses(count):
    """`count` distinct 127.0.0.1:port addresses free at the time of asking.

    The sockets are bound together (port 0: the OS picks a free port) so the
    ports differ, then closed for the workers to bind them.
    """
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(backend, tmp_path, count=2, steps=8):
    """Runs `count` workers to the end; returns their JSON records."""
    workers = ",".join(free_addresses(count))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=ROOT)
    procs, logs = [], []
    try:
        for index in range(count):
            log = open(tmp_path / f"worker{index}.log", "w+")
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "examples.multi_worker",
                 "--worker-index", str(index), "--workers", workers,
                 "--steps", str(steps),
                 "--output", str(tmp_path / f"worker{index}.json")],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        for proc in procs:
            proc.wait(timeout=TIMEOUT)
        for index, (proc, log) in enumerate(zip(procs, logs)):
            log.seek(0)
            assert proc.returncode == 0, (
                f"worker {index} failed:\n{log.read()[-3000:]}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
    return [json.loads((tmp_path / f"worker{index}.json").read_text())
            for index in range(count)]


def check_agreement(records, steps):
    first, second = records
    assert first["replicas"] == second["replicas"] == 2
    # The same weights, step and temperature on both workers, after training
    # on different shards: the gradients were summed over the workers.
    for a, b in zip(first["weights"], second["weights"]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert first["iterations"] == second["iterations"] == steps
    assert first["temperature"] == second["temperature"]
    # The temperature of each step is the schedule's value at the optimizer's
    # step (float32 in the variable).
    for record in records:
        assert [entry["step"] for entry in record["log"]] == list(range(steps))
        for entry in record["log"]:
            assert entry["temperature"] == np.float32(entry["scheduled"])
    # It was annealed: 2.0 exp(-0.1 step).
    assert first["temperature"] == np.float32(2.0 * math.exp(-0.1 * 7))


def check_different_noise(records):
    """Each worker's sample for the same (zero) logits, the same state."""
    first, second = (np.asarray(r["sample"]) for r in records)
    assert first.shape == second.shape
    np.testing.assert_allclose(first.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(second.sum(-1), 1.0, rtol=1e-5)
    # Equal noise would give equal samples, value for value.
    assert not np.any(first == second)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's strategy")
def test_multi_worker_mirrored_strategy_custom_loop(tmp_path):
    records = run_workers("tensorflow", tmp_path)
    check_agreement(records, steps=8)
    # The same input, generator state and seed on both workers, yet
    # different noise: each replica folds its replica id into the seed.
    check_different_noise(records)


@pytest.mark.skipif(BACKEND != "jax", reason="JAX's multi-process runtime")
def test_jax_distributed_data_parallel_fit(tmp_path):
    records = run_workers("jax", tmp_path)
    check_agreement(records, steps=8)
    # Both processes logged the same (global) loss.
    assert records[0]["history"] == records[1]["history"]
    # One draw for the global batch: each process's rows differ.
    check_different_noise(records)
