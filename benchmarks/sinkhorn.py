"""Speed of `sinkhorn`, `gumbel_sinkhorn` and the in-graph `matching`.

For a batch of 64 score matrices `[64, n, n]`, n in {8, 32, 128}, on the
active Keras backend, times

- `sinkhorn` fwd+bwd (20 iterations; the gradient of `sum(P * w)` w.r.t.
  the scores) against `plain_loop`: the same 20 iterations written as a
  plain `keras.ops` loop (`x - logsumexp(x)` over rows then columns, what a
  user writes from the paper), fwd+bwd;
- `gumbel_sinkhorn` fwd+bwd (relaxed, and `hard=True`: the exact matching
  of the noisy scores in the forward pass) against `plain_loop` on scores
  plus Gumbel noise (`sample_gumbel`);
- `matching` (forward; compiled) against SciPy's `linear_sum_assignment` on
  the host: the scores copied to NumPy, 64 calls, a permutation matrix back
  as a tensor of the backend.

Compiled the backend's way: TensorFlow `tf.function(jit_compile=True)`,
JAX `jax.jit`, PyTorch eager. Candidates run in alternation in one process
(`benchmarks._timing`); figures are medians over the rounds, with ratios to
the yardstick of each group.

Usage:
  python -m benchmarks.sinkhorn            # KERAS_BACKEND picks the backend
  python -m benchmarks.sinkhorn --quick    # n = 8 only, fewer rounds
"""

import argparse
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from benchmarks import _candidates, _timing  # noqa: E402
from keras_gumbel.ops import (gumbel_sinkhorn, matching,  # noqa: E402
                              sample_gumbel, sinkhorn)

BACKEND = keras.backend.backend()
BATCH, N_ITERS, TAU = 64, 20, 0.5
MODE = {"tensorflow": "xla", "jax": None, "torch": "eager"}[BACKEND]


def plain_loop(x, n_iters=N_ITERS):
    """Sinkhorn as a plain `keras.ops` loop, the yardstick."""
    for _ in range(n_iters):
        x = x - ops.logsumexp(x, axis=2, keepdims=True)
        x = x - ops.logsumexp(x, axis=1, keepdims=True)
    return ops.exp(x)


def scipy_matching(x):
    """`linear_sum_assignment` on the host, one call per matrix."""
    scores = ops.convert_to_numpy(x)
    out = np.zeros_like(scores)
    for b, s in enumerate(scores):
        rows, cols = linear_sum_assignment(s, maximize=True)
        out[b, rows, cols] = 1.0
    return ops.convert_to_tensor(out)


def _groups(n):
    """`{group: (yardstick, {name: (sample(x, seed), backward)})}`."""
    noisy = lambda x, s: plain_loop(  # noqa: E731
        (x + sample_gumbel(ops.shape(x), seed=s)) / TAU)
    return {
        "sinkhorn fwd+bwd": ("plain_loop", {
            "sinkhorn": (lambda x, s: sinkhorn(x, N_ITERS), True),
            "plain_loop": (lambda x, s: plain_loop(x), True)}),
        "gumbel_sinkhorn fwd+bwd": ("plain_loop", {
            "gumbel_sinkhorn": (lambda x, s: gumbel_sinkhorn(
                x, TAU, N_ITERS, seed=s), True),
            "gumbel_sinkhorn_hard": (lambda x, s: gumbel_sinkhorn(
                x, TAU, N_ITERS, hard=True, seed=s), True),
            "plain_loop": (noisy, True)}),
        "matching fwd": ("scipy_host", {
            "matching": (lambda x, s: matching(x), False)}),
    }


def run(n, rounds, min_block):
    x_np, w_np = _candidates.data((BATCH, n, n))
    x, w = ops.convert_to_tensor(x_np), ops.convert_to_tensor(w_np)
    inputs = _candidates.seed_inputs(BACKEND)
    for group, (yardstick, members) in _groups(n).items():
        fns = {name: _candidates.make_pass(BACKEND, sample, x, w, backward,
                                           MODE)
               for name, (sample, backward) in members.items()}
        if yardstick == "scipy_host":
            fns["scipy_host"] = lambda s: scipy_matching(x)
        times = _timing.measure(fns, rounds=rounds, min_block=min_block,
                                warmup=1, inputs=inputs, alternate=True)
        base = times[yardstick].wall
        for name, t in times.items():
            print(f"{BACKEND:>10} n={n:<4} {group:<24} {name:<22} "
                  f"{t.wall * 1e3:10.2f} ms  x{t.wall / base:6.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default="8,32,128")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-block", type=float, default=0.2)
    args = parser.parse_args(argv)
    sizes = [8] if args.quick else [int(s) for s in args.sizes.split(",")]
    rounds = 3 if args.quick else args.rounds
    print(f"# {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          f"batch {BATCH}, {N_ITERS} iterations; backend {BACKEND} "
          f"({MODE or 'jit'}); median ms per call, x: ratio to the "
          f"group's yardstick")
    for n in sizes:
        run(n, rounds, args.min_block)


if __name__ == "__main__":
    main()
