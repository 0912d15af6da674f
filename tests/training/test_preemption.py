"""A run killed mid-epoch and restarted continues its temperature schedule.

tests/preemption_worker.py trains with `keras.callbacks.BackupAndRestore
(save_freq=4)` and `TemperatureScheduler` on data of unknown length (a
filtered `tf.data` pipeline over 4 epochs on TensorFlow, a Python generator
on JAX and torch). The first process dies with `os._exit` at the start of
its 11th batch, in the middle of an epoch, after the backup of batch 8; a
second process with the same backup directory restores the weights and the
optimizer's step and must continue the schedule from that step, not from 0.
About 20 s per process on 2 busy cores.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np

from tests.training.preemption_worker import KILLED, SAVE_FREQ, SCHEDULE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
KILL_AT = 10  # the 11th batch; the last backup was after batch 8 (2 x 4)


def run(backup_dir, log, kill_at=None):
    args = [sys.executable, "-m", "tests.training.preemption_worker", str(backup_dir),
            str(log)]
    if kill_at is not None:
        args += ["--kill-at", str(kill_at)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    # `run` kills the process if it outlives the timeout.
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)


def read(log):
    records = [json.loads(line) for line in log.read_text().splitlines()]
    runs = []
    for record in records:
        if record["event"] == "begin":
            runs.append({"begin": record["step"], "batches": [], "end": None})
        elif record["event"] == "batch":
            runs[-1]["batches"].append(record)
        else:
            runs[-1]["end"] = record["step"]
    return runs


def check_schedule(batches):
    """Each batch's temperature is the schedule at its optimizer step."""
    for record in batches:
        assert record["temperature"] == SCHEDULE(record["step"]), record
        assert record["variable"] == np.float32(SCHEDULE(record["step"]))


def test_preempted_run_continues_its_temperature_schedule(tmp_path):
    backup, log = tmp_path / "backup", tmp_path / "log.jsonl"
    first = run(backup, log, kill_at=KILL_AT)
    assert first.returncode == KILLED, first.stderr[-3000:]
    assert (backup / "training_metadata.json").exists()
    second = run(backup, log)
    assert second.returncode == 0, second.stderr[-3000:]

    killed, resumed = read(log)
    assert killed["begin"] == 0 and killed["end"] is None
    assert len(killed["batches"]) == KILL_AT
    check_schedule(killed["batches"])
    # The backup was written after batch 8 (save_freq=4): its optimizer
    # step is the step at which batch 9 of the first run began.
    last_backup = 2 * SAVE_FREQ
    restored = killed["batches"][last_backup]["step"]
    assert restored >= last_backup
    assert resumed["begin"] == restored
    assert resumed["batches"][0]["step"] == restored
    assert resumed["batches"][0]["temperature"] != SCHEDULE(0)
    check_schedule(resumed["batches"])
    steps = [record["step"] for record in resumed["batches"]]
    if keras.backend.backend() == "tensorflow":
        # Restarted at the beginning of the interrupted epoch (the second).
        assert resumed["batches"][0]["epoch"] == 1
        assert len(steps) == 3 * 6
        # Keras' TF trainer counts one more optimizer step per epoch on data
        # of unknown length (the call that finds the data exhausted).
        gaps = [b - a for a, b in zip(steps, steps[1:])]
        assert gaps == ([1] * 5 + [2]) * 2 + [1] * 5
    else:
        assert len(steps) == 16
        assert steps == list(range(restored, restored + 16))
    assert resumed["end"] == steps[-1] + (
        2 if keras.backend.backend() == "tensorflow" else 1)
