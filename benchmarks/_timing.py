"""The benchmarks' one timing method: interleaved rounds, medians.

Every benchmark times its candidates the same way, in one process:

1. warm-up: each candidate runs `warmup` calls (traces, compiles, allocates);
2. block size: each candidate runs one more block of `warmup` calls, and its
   block gets `max(1, int(min_block / seconds_per_call))` calls, so that a
   block lasts about `min_block` seconds (or exactly `calls` calls);
3. rounds: every round runs one block (or `repeat` blocks) of every
   candidate, in turn, so that a change of load on a shared machine hits
   all candidates alike;
4. a block's time is its wall (and process CPU) seconds divided by its
   calls, taken after `sync` made the block's last result ready (JAX, and
   PyTorch or TensorFlow on a GPU, return before the work is done);
5. the figure of a candidate is the median of its blocks' times.

Example:
  ```python
  from benchmarks import _timing
  t = _timing.measure({"a": fn_a, "b": fn_b}, rounds=11, min_block=0.04)
  print(t["a"].wall / t["b"].wall)          # median seconds per call
  ```
"""

import collections
import statistics
import time

__all__ = ["Timing", "measure", "sync", "time_block"]

Timing = collections.namedtuple("Timing", "wall cpu walls cpus calls")
Timing.__doc__ = """Medians (`wall`, `cpu`: seconds per call) of one candidate,
the per-block samples they come from (`walls`, `cpus`) and the calls per
block (`calls`)."""


def _sync_tensorflow(value):
    # `np.asarray` waits for the value (and copies it to the host on a GPU):
    # TensorFlow has no cheaper public way to wait for one tensor.
    import numpy as np

    np.asarray(value)


def _sync_jax(value):
    value.block_until_ready()


def _sync_torch(value):
    if value.is_cuda:  # CPU tensors are ready when the call returns.
        import torch

        torch.cuda.synchronize(value.device)


# The backend of a value is read from its type's module: no library is
# imported that the benchmark did not import already.
_SYNCS = {"tensorflow": _sync_tensorflow, "jax": _sync_jax, "jaxlib":
          _sync_jax, "torch": _sync_torch}


def sync(value):
    """Waits until `value` (a tensor, or a list, tuple or dict of them) is
    computed, with the sync function of the tensor's backend. Python and
    NumPy values are ready already."""
    if isinstance(value, (list, tuple)):
        for item in value:
            sync(item)
    elif isinstance(value, dict):
        for item in value.values():
            sync(item)
    else:
        root = type(value).__module__.split(".")[0]
        if root in _SYNCS:
            _SYNCS[root](value)


def time_block(fn, calls, inputs=None, sync_fn=sync):
    """Wall and process CPU seconds per call over `calls` calls of `fn`.

    Args:
      fn: the candidate; called as `fn(*args)`.
      calls: int, calls in the block.
      inputs: None (`fn()`), or `inputs(n)` returning a list of `n` argument
        tuples, made before the clock starts (fresh seeds, for example).
      sync_fn: waits for the block's last result (default: `sync`).

    Returns:
      `(wall, cpu)` seconds per call.
    """
    args = inputs(calls) if inputs else [()] * calls
    wall, cpu = time.perf_counter(), time.process_time()
    for a in args:
        out = fn(*a)
    sync_fn(out)
    return ((time.perf_counter() - wall) / calls,
            (time.process_time() - cpu) / calls)


def block_calls(fn, min_block, warmup=2, inputs=None, sync_fn=sync):
    """Warms `fn` up and returns the calls of a block of ~`min_block` s."""
    time_block(fn, warmup, inputs, sync_fn)
    per_call = time_block(fn, warmup, inputs, sync_fn)[0]
    return max(1, int(min_block / max(per_call, 1e-6)))


def measure(candidates, rounds, min_block=0.0, calls=None, repeat=1,
            warmup=2, warm_calls=0, inputs=None, sync_fn=sync,
            alternate=False):
    """Times `candidates` in interleaved rounds; returns their medians.

    Args:
      candidates: `{key: fn}`; each `fn` returns a result to `sync_fn`.
      rounds: int, rounds of blocks.
      min_block: float, seconds a block should last (sizes the blocks).
      calls: int or None, fixed calls per block (then the warm-up still
        runs but `min_block` is not used).
      repeat: int, consecutive blocks of a candidate per round.
      warmup: int, calls of the warm-up (and of the sizing block).
      warm_calls: int, untimed calls before each block (wakes the runtime's
        threads after another candidate ran, as a server under load).
      inputs: as in `time_block`, for every candidate.
      sync_fn: as in `time_block`.
      alternate: bool, reverse the candidates' order on odd rounds.

    Returns:
      `{key: Timing}`.
    """
    sizes = {}
    for key, fn in candidates.items():
        if calls is None:
            sizes[key] = block_calls(fn, min_block, warmup, inputs, sync_fn)
        else:
            time_block(fn, warmup, inputs, sync_fn)
            sizes[key] = calls
    samples = {key: [] for key in candidates}
    order = list(candidates.items())
    for r in range(rounds):
        for key, fn in (order[::-1] if alternate and r % 2 else order):
            for _ in range(repeat):
                if warm_calls:
                    time_block(fn, warm_calls, inputs, sync_fn)
                samples[key].append(time_block(fn, sizes[key], inputs,
                                               sync_fn))
    return {key: Timing(statistics.median(s[0] for s in v),
                        statistics.median(s[1] for s in v),
                        [s[0] for s in v], [s[1] for s in v], sizes[key])
            for key, v in samples.items()}
