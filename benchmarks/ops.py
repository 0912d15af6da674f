"""Speed of `keras_gumbel.ops.gumbel_softmax` against TFP, PyTorch and a floor.

Times, in one process and in alternation (every round calls every candidate
once per shape, in turn; the figures are medians over the rounds), the
forward pass and the forward + backward pass (the gradient of
`sum(y * w)` w.r.t. the logits, `w` a fixed random tensor) of:

- `ours`: `keras_gumbel.ops.gumbel_softmax(logits, tau, seed=s)`, relaxed
  and `hard=True` (straight-through);
- `tfp`: `tfp.distributions.RelaxedOneHotCategorical(tau, logits=logits)
  .sample(seed=s)` (TFP 0.25 has no hard variant);
- `torch`: `torch.nn.functional.gumbel_softmax(logits, tau, hard=...)`,
  eager (PyTorch has no graph mode to match; the same timing is compared with
  both TF modes), with `torch.set_num_threads` = TF's intra-op thread count;
- `floor`: one `tf.random.stateless_uniform` draw (Philox, as ours) plus one
  `tf.nn.softmax`: `softmax(logits + u)`, the least any sampler that draws a
  uniform and normalises must do (the `+` gives it a gradient to the logits).

TF candidates run in `tf.function` ("graph") and `tf.function(jit_compile=
True)` ("xla"). The seed is a function argument that changes on every call:
with a constant seed grappler would fold the stateless random op into a
constant and time nothing.

Usage, from the repository root:
  python -m benchmarks.ops            # the full run (about 40 s on an idle
                                      # 2-core machine, minutes when shared)
  python -m benchmarks.ops --quick    # fewer rounds, for a smoke test
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this benchmark as a module from the "
                     "repository root: python -m benchmarks.ops")

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from benchmarks import _candidates, _timing  # noqa: E402
from benchmarks._candidates import SHAPES, TAU  # noqa: E402

# Each candidate is its own tf.function, traced once: silence the retracing
# warning that counts them together.
tf.get_logger().setLevel("ERROR")

MODES = ("graph", "xla")


def _candidates_of(shape, use_tfp, use_torch):
    """`{(mode, name, pass): fn(seed)}` for one shape."""
    x, w = (tf.constant(v) for v in _candidates.data(shape))
    cands = {}
    samplers = _candidates.gumbel_softmax_samplers("tensorflow", use_tfp)
    for mode in MODES:
        for name, sample in samplers.items():
            for p in ("fwd", "fwd+bwd"):
                cands[(mode, name, p)] = _candidates.make_pass(
                    "tensorflow", sample, x, w, p == "fwd+bwd", mode)
    if use_torch:
        import torch

        xt, wt = (torch.from_numpy(v) for v in _candidates.data(shape))
        samplers = _candidates.gumbel_softmax_samplers("torch")
        for name in ("torch", "torch_hard"):
            for p in ("fwd", "fwd+bwd"):
                cands[("eager", name, p)] = _candidates.make_pass(
                    "torch", samplers[name], xt, wt, p == "fwd+bwd", "eager")
    return cands


def bench_shape(shape, rounds, min_block, use_tfp, use_torch):
    """Median (wall, cpu) seconds per call for every (mode, name, pass).

    TFP under XLA is very slow (its stateless uniform leaves the algorithm
    to TF, whose XLA code for that choice on CPU is far slower than Philox):
    it is timed on one call after the compiling call, outside the rounds.
    """
    cands = _candidates_of(shape, use_tfp, use_torch)
    seeds = _candidates.seed_inputs("tensorflow")
    medians = {}
    for key in [k for k in cands if k[:2] == ("xla", "tfp")]:
        fn = cands.pop(key)
        _timing.time_block(fn, 1, seeds)
        medians[key] = _timing.time_block(fn, 1, seeds)
    timings = _timing.measure(cands, rounds, min_block, inputs=seeds)
    for key, t in timings.items():
        medians[key] = (t.wall, t.cpu)
    return medians


def _ratio(a, b):
    """`a / b`, or None where a candidate did not run (package missing)."""
    return None if a is None or b is None else a / b


def _cell(value):
    return "n/a" if value is None else f"{value:.2f}"


NAMES = ("ours", "ours_hard", "tfp", "torch", "torch_hard", "floor")


def _medians_table(results, shapes, metric):
    """Prints the medians (ms) of every candidate, one row per shape/pass."""
    names = sorted({k[1] for r in results.values() for k in r},
                   key=NAMES.index)
    tf_names = [n for n in names if not n.startswith("torch")]
    torch_names = [n for n in names if n.startswith("torch")]
    print(f"\n### Median {metric} ms per call (float32, tau={TAU})\n")
    header = "| shape | pass | " + " | ".join(
        f"{n} {m}" for m in MODES for n in tf_names)
    header += "".join(f" | {n}" for n in torch_names) + " |"
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for shape in shapes:
        r = results[shape]
        for p in ("fwd", "fwd+bwd"):
            cells = [f"{r[(m, n, p)] * 1e3:.2f}" for m in MODES
                     for n in tf_names if (m, n, p) in r]
            cells += [f"{r[('eager', n, p)] * 1e3:.2f}" for n in torch_names]
            print(f"| {shape[0]}x{shape[1]} | {p} | " + " | ".join(cells)
                  + " |")


def _ratios(r, p, m):
    """The ratios of one shape, pass and TF mode (None: did not run)."""
    g = r.get
    return {
        "torch/ours": _ratio(g(("eager", "torch", p)), g((m, "ours", p))),
        "torch_hard/ours_hard": _ratio(g(("eager", "torch_hard", p)),
                                       g((m, "ours_hard", p))),
        "tfp/ours": _ratio(g((m, "tfp", p)), g((m, "ours", p))),
        "ours/floor": _ratio(g((m, "ours", p)), g((m, "floor", p))),
        "ours_hard/floor": _ratio(g((m, "ours_hard", p)), g((m, "floor", p))),
        "ours xla/graph": _ratio(g(("xla", "ours", p)),
                                 g(("graph", "ours", p))),
    }


def _ratios_table(results, shapes):
    """Prints the ratios; returns the worst of each over the shapes."""
    print("\nRatios (> 1 means ours is faster; 'floor' and 'xla/graph' are "
          "time ratios, < 1 is better)\n")
    print("| shape | pass | mode | torch/ours | torch_hard/ours_hard | "
          "tfp/ours | ours/floor | ours_hard/floor | ours xla/graph |")
    print("|" + " --- |" * 9)
    worst = {}
    for shape in shapes:
        for p in ("fwd", "fwd+bwd"):
            for m in MODES:
                row = _ratios(results[shape], p, m)
                print(f"| {shape[0]}x{shape[1]} | {p} | {m} | "
                      + " | ".join(_cell(v) for v in row.values()) + " |")
                for k, v in row.items():
                    old = worst.get((p, m, k))
                    # "x/ours": bigger is better; the time ratios: smaller.
                    if v is not None and (old is None or (
                            v < old if "/ours" in k else v > old)):
                        worst[(p, m, k)] = v
    return worst


def report(all_results, shapes, metric):
    """Prints the table of medians (ms) and the ratios for one metric."""
    index = {"wall": 0, "cpu": 1}[metric]
    results = {shape: {k: v[index] for k, v in r.items()}
               for shape, r in all_results.items()}
    _medians_table(results, shapes, metric)
    worst = _ratios_table(results, shapes)
    print(f"\nWorst case over the shapes ({metric}, fwd+bwd):")
    for (p, m, k), v in worst.items():
        if p == "fwd+bwd":
            print(f"  {m:5s} {k:22s} {v:.2f}")
    print("  (n/a: the candidate did not run; see the first lines for the "
          "package to install)")


def main():
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ops",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of short blocks (a smoke test)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-tfp", action="store_true")
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 11)
    min_block = 0.02 if args.quick else 0.04

    threads = os.cpu_count()
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch
            torch.set_num_threads(threads)
        except ImportError:
            use_torch = False
            print("torch is not installed: its columns are n/a "
                  "(pip install -e \".[torch]\")")
    use_tfp = not args.no_tfp
    if use_tfp:
        try:
            import tensorflow_probability  # noqa: F401
        except ImportError:
            use_tfp = False
            print("TensorFlow Probability is not installed: its columns are "
                  "n/a (pip install -e \".[test]\")")

    print(f"TF {tf.__version__} (intra-op threads: "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default = ' + str(threads)})"
          + (f", torch {torch.__version__} (threads: {torch.get_num_threads()})"
             if use_torch else ", torch not available")
          + f", {platform.processor() or platform.machine()}, "
          f"{threads} CPUs; rounds={rounds}")
    results = {}
    start = time.perf_counter()
    for shape in SHAPES:
        results[shape] = bench_shape(shape, rounds, min_block, use_tfp,
                                     use_torch)
        print(f"  {shape} done after {time.perf_counter() - start:.0f} s",
              flush=True)
    report(results, SHAPES, "wall")
    report(results, SHAPES, "cpu")
    print("\n'cpu' is the process CPU time per call (all threads): less "
          "sensitive than wall time to other jobs on a shared machine.")


if __name__ == "__main__":
    main()
