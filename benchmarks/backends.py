"""Speed of `gumbel_softmax` on the JAX and PyTorch backends.

Keras fixes its backend per process, so each backend is timed in its own
process; within one process every candidate runs in alternation (every
round calls each candidate once per shape, in turn) and the figures are
medians over the rounds. Timed: forward + backward, the gradient of
`sum(y * w)` w.r.t. the logits (`w` fixed), relaxed and hard
(straight-through), float32, tau = 0.5, the shapes of `benchmarks.ops`.

- JAX: `ours` is `keras_gumbel.ops.gumbel_softmax` under `jax.jit`, the seed
  (a JAX key) an argument that changes on every call; `floor` is the least a
  sampler can do: `jax.random.uniform` + `jax.nn.softmax` under `jax.jit`.
- torch: `ours` eager against `torch.nn.functional.gumbel_softmax` (eager,
  `hard=` as ours), both with torch's default threads.
- TensorFlow: `ours` in `tf.function` ("graph") and with `jit_compile=True`
  ("xla"), as in `benchmarks.ops`, so JAX can be read against it.

Usage, from the repository root:
  python -m benchmarks.backends              # every installed backend
  python -m benchmarks.backends --quick      # fewer rounds (a smoke test)
  python -m benchmarks.backends --backend jax
On a GPU, run the same commands on a machine with jax[cuda] / CUDA torch /
TF with a GPU: the candidates run on Keras' default device.
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this benchmark as a module from the "
                     "repository root: python -m benchmarks.backends")

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = ((4096, 1024), (65536, 16), (64, 32768))
TAU = 0.5
BACKENDS = ("tensorflow", "jax", "torch")


def _jax_candidates(shape):
    import jax
    import jax.numpy as jnp

    import keras_gumbel as kg

    rng = jax.random.PRNGKey(0)
    x = jax.random.normal(rng, shape) * 2.0
    w = jax.random.normal(jax.random.PRNGKey(1), shape)

    def grad_of(sample):
        loss = lambda x, key: jnp.sum(sample(x, key) * w)  # noqa: E731
        return jax.jit(jax.grad(loss))

    floor = grad_of(lambda x, key: jax.nn.softmax(
        x + jax.random.uniform(key, shape)))
    ours = grad_of(lambda x, key: kg.ops.gumbel_softmax(x, TAU, seed=key))
    hard = grad_of(lambda x, key: kg.ops.gumbel_softmax(x, TAU, hard=True,
                                                        seed=key))
    keys = iter(range(1, 10**9))

    def call(fn):
        return lambda: fn(x, jnp.array([next(keys), 7], jnp.uint32))

    return {"ours": call(ours), "ours_hard": call(hard),
            "floor": call(floor)}, lambda out: out.block_until_ready()


def _torch_candidates(shape):
    import torch

    import keras_gumbel as kg

    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=gen) * 2.0).requires_grad_(True)
    w = torch.randn(shape, generator=gen)
    f = torch.nn.functional.gumbel_softmax

    def grad_of(sample):
        def fn():
            (grad,) = torch.autograd.grad((sample(x) * w).sum(), x)
            return grad
        return fn

    return {
        "ours": grad_of(lambda v: kg.ops.gumbel_softmax(v, TAU)),
        "ours_hard": grad_of(lambda v: kg.ops.gumbel_softmax(v, TAU,
                                                             hard=True)),
        "torch": grad_of(lambda v: f(v, tau=TAU)),
        "torch_hard": grad_of(lambda v: f(v, tau=TAU, hard=True)),
    }, lambda out: out


def _tf_candidates(shape):
    import numpy as np
    import tensorflow as tf

    import keras_gumbel as kg

    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape).astype(np.float32) * 2.0)
    w = tf.constant(rng.normal(size=shape).astype(np.float32))
    counter = iter(range(1, 10**9))

    def grad_of(hard, xla):
        def fn(s):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = kg.ops.gumbel_softmax(x, TAU, hard=hard, seed=s)
                loss = tf.reduce_sum(y * w)
            return tape.gradient(loss, x)
        fn = tf.function(fn, jit_compile=xla, autograph=False)
        return lambda: fn(tf.constant([next(counter), 7], tf.int64))

    return {"ours graph": grad_of(False, False),
            "ours_hard graph": grad_of(True, False),
            "ours xla": grad_of(False, True),
            "ours_hard xla": grad_of(True, True)}, lambda out: out.numpy()


def _median_times(cands, ready, rounds, min_block):
    def block(fn, n):
        start = time.perf_counter()
        for _ in range(n):
            out = fn()
        ready(out)
        return (time.perf_counter() - start) / n

    reps = {}
    for name, fn in cands.items():
        block(fn, 2)  # trace and compile
        reps[name] = max(1, int(min_block / max(block(fn, 2), 1e-6)))
    times = {name: [] for name in cands}
    for _ in range(rounds):
        for name, fn in cands.items():
            times[name].append(block(fn, reps[name]))
    return {name: statistics.median(v) for name, v in times.items()}


def run_backend(rounds, min_block):
    """Times the active backend; returns {shape: {name: seconds}}."""
    import keras

    backend = keras.backend.backend()
    make = {"jax": _jax_candidates, "torch": _torch_candidates,
            "tensorflow": _tf_candidates}[backend]
    results = {}
    for shape in SHAPES:
        cands, ready = make(shape)
        results["x".join(map(str, shape))] = _median_times(
            cands, ready, rounds, min_block)
    return results


def report(all_results):
    for backend, results in all_results.items():
        names = list(next(iter(results.values())))
        print(f"\n### {backend}: median ms per fwd+bwd call\n")
        print("| shape | " + " | ".join(names) + " |")
        print("|" + " --- |" * (len(names) + 1))
        for shape, r in results.items():
            print(f"| {shape} | "
                  + " | ".join(f"{r[n] * 1e3:.2f}" for n in names) + " |")
        if backend == "jax":
            for name in ("ours", "ours_hard"):
                worst = max(r[name] / r["floor"] for r in results.values())
                print(f"\nworst {name}/floor over the shapes: {worst:.2f} "
                      f"(target <= 1.5)")
        if backend == "torch":
            for ours, ref in (("ours", "torch"), ("ours_hard", "torch_hard")):
                worst = min(r[ref] / r[ours] for r in results.values())
                print(f"\nworst {ref}/{ours} over the shapes: {worst:.2f} "
                      f"(target >= 1: not slower)")
    if "jax" in all_results and "tensorflow" in all_results:
        print("\n### JAX against TensorFlow (ratio of medians, > 1: JAX "
              "faster; two processes run back to back)\n")
        print("| shape | tf graph / jax | tf xla / jax | "
              "tf graph hard / jax hard | tf xla hard / jax hard |")
        print("|" + " --- |" * 5)
        for shape, j in all_results["jax"].items():
            t = all_results["tensorflow"][shape]
            print(f"| {shape} | {t['ours graph'] / j['ours']:.2f} | "
                  f"{t['ours xla'] / j['ours']:.2f} | "
                  f"{t['ours_hard graph'] / j['ours_hard']:.2f} | "
                  f"{t['ours_hard xla'] / j['ours_hard']:.2f} |")


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of short blocks (a smoke test)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="time one backend (default: every installed one)")
    parser.add_argument("--json", action="store_true",
                        help="print the raw results as JSON (used internally)")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 11)
    min_block = 0.02 if args.quick else 0.1

    if args.json:  # A child process: time the backend KERAS_BACKEND names.
        print(json.dumps(run_backend(rounds, min_block)))
        return
    all_results = {}
    for backend in [args.backend] if args.backend else BACKENDS:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        command = [sys.executable, "-m", "benchmarks.backends", "--json",
                   "--rounds", str(rounds)] + (["--quick"] if args.quick
                                               else [])
        done = subprocess.run(command, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"{backend}: n/a ({last}; install it with "
                  f"pip install -e \".[{backend}]\")")
            continue
        all_results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{backend} done", flush=True)
    report(all_results)
    print(f"\n{os.cpu_count()} CPUs; rounds={rounds}; load average "
          f"{os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
