"""Speed of `gumbel_softmax` on the JAX and PyTorch backends.

Keras fixes its backend per process, so each backend is timed in its own
process; within one process every candidate runs in alternation (every
round calls each candidate once per shape, in turn) and the figures are
medians over the rounds (`benchmarks/_timing.py`; the candidates are
`benchmarks/_candidates.py`'s, shared with `benchmarks.ops`). Timed: forward + backward, the gradient of
`sum(y * w)` w.r.t. the logits (`w` fixed), relaxed and hard
(straight-through), float32, tau = 0.5, the shapes of `benchmarks.ops`.

- JAX: `ours` is `keras_gumbel.ops.gumbel_softmax` under `jax.jit`, the seed
  (a JAX key) an argument that changes on every call; `floor` is the least a
  sampler can do: `jax.random.uniform` + `jax.nn.softmax` under `jax.jit`.
- torch: `ours` eager (a fresh int64 seed tensor per call) against
  `torch.nn.functional.gumbel_softmax` (eager, `hard=` as ours), both with
  torch's default threads.
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
import subprocess
import sys

from benchmarks import _candidates, _timing
from benchmarks._candidates import SHAPES

BACKENDS = ("tensorflow", "jax", "torch")
# What each backend times (fwd+bwd): (mode, sampler) -> the column's name.
COLUMNS = {
    "jax": {(None, "ours"): "ours", (None, "ours_hard"): "ours_hard",
            (None, "floor"): "floor"},
    "torch": {("eager", "ours"): "ours", ("eager", "ours_hard"): "ours_hard",
              ("eager", "torch"): "torch",
              ("eager", "torch_hard"): "torch_hard"},
    "tensorflow": {(m, n): f"{n} {m}" for n in ("ours", "ours_hard")
                   for m in ("graph", "xla")},
}


def _tensors(backend, shape):
    x, w = _candidates.data(shape)
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(x), jnp.asarray(w)
    if backend == "torch":
        import torch

        return torch.from_numpy(x), torch.from_numpy(w)
    import tensorflow as tf

    return tf.constant(x), tf.constant(w)


def run_backend(rounds, min_block):
    """Times the active backend; returns {shape: {name: seconds}}."""
    import keras

    backend = keras.backend.backend()
    samplers = _candidates.gumbel_softmax_samplers(backend)
    results = {}
    for shape in SHAPES:
        x, w = _tensors(backend, shape)
        cands = {column: _candidates.make_pass(backend, samplers[name], x, w,
                                               True, mode)
                 for (mode, name), column in COLUMNS[backend].items()}
        timings = _timing.measure(cands, rounds, min_block,
                                  inputs=_candidates.seed_inputs(backend))
        results["x".join(map(str, shape))] = {
            name: t.wall for name, t in timings.items()}
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
