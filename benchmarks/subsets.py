"""Speed of `relaxed_top_k` against `k` calls of `gumbel_softmax`.

`relaxed_top_k(logits, k)` runs `k` successive tempered softmaxes, so its
natural yardstick is `k` independent `gumbel_softmax` calls on the same
shape (what a model drawing k one-hot samples would pay). Times, on the
active Keras backend, the forward pass and the forward + backward pass (the
gradient of `sum(y * w)` w.r.t. the logits, `w` fixed) of:

- `relaxed_top_k`: `relaxed_top_k(x, k, tau, seed=s)`;
- `relaxed_top_k_hard`: the same with `hard=True` (exact k-hot forward,
  straight-through gradient);
- `k_gumbel_softmax`: `sum_j gumbel_softmax(x, tau, seed=s + j)`, j < k;
- `gumbel_top_k`: forward only (no gradient), for reference.

Each candidate is compiled the backend's way (TensorFlow: `tf.function`,
also with `jit_compile=True`; JAX: `jax.jit`; PyTorch: eager). The seed is a
tensor argument that changes on every call. In one process and in
alternation (every round times every candidate once per shape, in turn, a
block of about `--min-block` seconds; `benchmarks/_timing.py`), the figures
are medians over the rounds.

Usage:
  python -m benchmarks.subsets            # KERAS_BACKEND picks the backend
  python -m benchmarks.subsets --quick    # fewer rounds, a smoke test
"""

import argparse
import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import _timing  # noqa: E402
from keras_gumbel.ops import (gumbel_softmax, gumbel_top_k,  # noqa: E402
                              relaxed_top_k)

BACKEND = keras.backend.backend()
TAU = 0.5
# (batch, n, k): the concrete autoencoder on MNIST (k = 50 of 784 pixels,
# as a batch of selector rows), the digits example, a wide k-subset.
CASES = ((50, 784, 50), (256, 64, 16), (1024, 1024, 8))


def _candidates(k):
    def relaxed(x, seed):
        return relaxed_top_k(x, k, TAU, seed=seed)

    def relaxed_hard(x, seed):
        return relaxed_top_k(x, k, TAU, hard=True, seed=seed)

    offsets = [keras.ops.convert_to_tensor(np.array([0, j], "int32"))
               for j in range(k)]

    def k_softmax(x, seed):
        total = 0.0
        for offset in offsets:
            total = total + gumbel_softmax(x, TAU, seed=seed + offset)
        return total

    def top_k(x, seed):
        return gumbel_top_k(x, k, seed=seed)

    return {"relaxed_top_k": (relaxed, True),
            "relaxed_top_k_hard": (relaxed_hard, True),
            "k_gumbel_softmax": (k_softmax, True),
            "gumbel_top_k": (top_k, False)}


def _compile(fn, x, w, backward, mode):
    """Returns `run(seed)`, one forward (+ backward) pass (not waited for:
    `_timing` syncs the last result of a block)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        # One tf.function per candidate, traced once: silence the retracing
        # warning that counts them together.
        tf.get_logger().setLevel("ERROR")
        x, w = tf.constant(x), tf.constant(w)

        @tf.function(jit_compile=mode == "xla")
        def step(seed):
            if not backward:
                return fn(x, seed)
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(fn(x, seed) * w)
            return tape.gradient(loss, x)

        return step
    if BACKEND == "jax":
        import jax
        import jax.numpy as jnp

        x, w = jnp.asarray(x), jnp.asarray(w)
        if backward:
            step = jax.jit(jax.grad(lambda x, s: jnp.sum(fn(x, s) * w)))
        else:
            step = jax.jit(fn)
        return lambda seed: step(x, seed)
    import torch

    x, w = torch.tensor(x), torch.tensor(w)

    def run(seed):
        if not backward:
            with torch.no_grad():
                return fn(x, seed)
        xg = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad((fn(xg, seed) * w).sum(), xg)
        return grad

    return run


def _seed_inputs():
    """`inputs(n)` for `_timing`: fresh int32 seed tensors, made off the
    clock."""
    counter = iter(range(1, 10**9))
    return lambda n: [(keras.ops.convert_to_tensor(
        np.array([7, next(counter)], "int32")),) for _ in range(n)]


def bench_case(batch, n, k, modes, rounds, min_block, rng):
    """Median ms per call of every (mode, name, pass) on one case."""
    x = (2.0 * rng.normal(size=(batch, n))).astype("float32")
    w = rng.normal(size=(batch, n)).astype("float32")
    runs = {}
    for mode in modes:
        for name, (fn, differentiable) in _candidates(k).items():
            passes = ("fwd", "fwd+bwd") if differentiable else ("fwd",)
            for which in passes:
                runs[(mode, name, which)] = _compile(
                    fn, x, w, which == "fwd+bwd", mode)
    times = _timing.measure(runs, rounds, min_block, inputs=_seed_inputs())
    return {key: 1e3 * t.wall for key, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--min-block", type=float, default=0.3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch.set_num_threads (on a shared machine "
                        "more threads than free cores slow torch 10x+)")
    args = parser.parse_args(argv)
    if BACKEND == "torch":
        import torch

        torch.set_num_threads(args.torch_threads)
    rounds, min_block = (2, 0.05) if args.quick else (args.rounds,
                                                      args.min_block)
    modes = ("graph", "xla") if BACKEND == "tensorflow" else (
        "jit" if BACKEND == "jax" else "eager",)
    print(f"backend {BACKEND}, keras {keras.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start; tau={TAU}; medians of "
          f"{rounds} alternating rounds, ms per call")
    rng = np.random.default_rng(0)
    results = {}
    for batch, n, k in CASES:
        times = bench_case(batch, n, k, modes, rounds, min_block, rng)
        results.update({(batch, n, k) + key: ms for key, ms in times.items()})
        print(f"\nlogits [{batch}, {n}], k = {k}")
        for mode in modes:
            for which in ("fwd", "fwd+bwd"):
                row = {name: times.get((mode, name, which))
                       for name in _candidates(k)}
                shown = "  ".join(f"{name} {ms:8.3f}" for name, ms in
                                  row.items() if ms is not None)
                ratio = row["relaxed_top_k"] / row["k_gumbel_softmax"]
                print(f"  {mode:<6}{which:<8} {shown}  "
                      f"(relaxed / k softmax: {ratio:.2f})")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    return results


if __name__ == "__main__":
    main()
