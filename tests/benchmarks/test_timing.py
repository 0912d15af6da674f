"""The benchmarks' timing helper: block sizes, medians, order, sync."""

import time

import keras

from benchmarks import _timing
from tests.backend_utils import BACKEND


def test_blocks_last_min_block_and_medians_are_per_call():
    # A candidate that sleeps 2 ms per call: blocks of ~20 ms hold about 10
    # calls, and the median per-call wall time is at least the 2 ms slept.
    timings = _timing.measure({"sleep": lambda: time.sleep(0.002)}, rounds=3,
                              min_block=0.02)
    t = timings["sleep"]
    assert 1 <= t.calls <= 10
    assert len(t.walls) == len(t.cpus) == 3
    assert t.wall >= 0.002
    assert t.cpu < t.wall  # sleeping costs no CPU time


def test_rounds_interleave_and_alternate_with_fixed_calls():
    order = []
    candidates = {name: (lambda name=name: order.append(name))
                  for name in "abc"}
    _timing.measure(candidates, rounds=2, calls=1, warmup=1, alternate=True)
    assert order[3:] == list("abc") + list("cba")


def test_inputs_are_made_before_each_block_and_passed():
    seen = []
    made = iter(range(100))
    _timing.measure({"f": seen.append}, rounds=2, calls=3, warmup=1,
                    inputs=lambda n: [(next(made),) for _ in range(n)])
    assert seen == list(range(7))


def test_sync_calls_the_backends_sync_on_every_tensor(monkeypatch):
    x = keras.ops.ones((64, 64))
    y = keras.ops.matmul(x, x)
    root = type(y).__module__.split(".")[0]
    assert root in _timing._SYNCS, f"no sync for {BACKEND} tensors ({root})"
    synced = []
    monkeypatch.setitem(_timing._SYNCS, root, synced.append)
    _timing.sync({"y": [y, (y, 1.0)], "n": None})
    assert len(synced) == 2 and all(s is y for s in synced)


def test_the_real_sync_returns_a_ready_value():
    x = keras.ops.ones((64, 64))
    y = keras.ops.matmul(x, x)
    _timing.sync(y)
    assert float(keras.ops.convert_to_numpy(y)[0, 0]) == 64.0
