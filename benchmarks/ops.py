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
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_gumbel.ops as kops  # noqa: E402

# Each candidate is its own tf.function, traced once: silence the retracing
# warning that counts them together.
tf.get_logger().setLevel("ERROR")

SHAPES = ((4096, 1024), (65536, 16), (64, 32768))
TAU = 0.5
MODES = ("graph", "xla")


def _tf_candidates(shape, mode, use_tfp):
    """Returns {(name, pass): callable(seed) -> tensor} for one shape/mode."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=shape).astype(np.float32) * 2.0)
    w = tf.constant(rng.normal(size=shape).astype(np.float32))
    samplers = {
        "ours": lambda s: kops.gumbel_softmax(x, TAU, seed=s),
        "ours_hard": lambda s: kops.gumbel_softmax(x, TAU, hard=True, seed=s),
        "floor": lambda s: tf.nn.softmax(
            x + tf.random.stateless_uniform(shape, s, alg="philox")),
    }
    if use_tfp:
        import tensorflow_probability as tfp

        def tfp_sample(s):
            dist = tfp.distributions.RelaxedOneHotCategorical(TAU, logits=x)
            return dist.sample(seed=tf.cast(s, tf.int32))

        samplers["tfp"] = tfp_sample

    def make(sample, backward):
        def fn(s):
            if not backward:
                return sample(s)
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = sample(s)  # The samplers close over the watched `x`.
                loss = tf.reduce_sum(y * w)
            return tape.gradient(loss, x)

        return tf.function(fn, jit_compile=(mode == "xla"), autograph=False)

    out = {}
    for name, sample in samplers.items():
        out[(name, "fwd")] = make(sample, False)
        out[(name, "fwd+bwd")] = make(sample, True)
    return out


def _torch_candidates(shape):
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen) * 2.0
    xg = x.clone().requires_grad_(True)
    w = torch.randn(shape, generator=gen)
    f = torch.nn.functional.gumbel_softmax

    def fwd(hard):
        def fn(_):
            with torch.no_grad():
                return f(x, tau=TAU, hard=hard)
        return fn

    def fwd_bwd(hard):
        def fn(_):
            y = f(xg, tau=TAU, hard=hard)
            (grad,) = torch.autograd.grad((y * w).sum(), xg)
            return grad
        return fn

    return {("torch", "fwd"): fwd(False), ("torch", "fwd+bwd"): fwd_bwd(False),
            ("torch_hard", "fwd"): fwd(True),
            ("torch_hard", "fwd+bwd"): fwd_bwd(True)}


def _block(fn, seeds):
    """Wall and process CPU seconds per call over len(seeds) calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for s in seeds:
        out = fn(s)
    np.asarray(out)  # TF and torch CPU results are ready once converted.
    n = len(seeds)
    return ((time.perf_counter() - wall) / n, (time.process_time() - cpu) / n)


def bench_shape(shape, rounds, min_block, use_tfp, use_torch):
    """Median (wall, cpu) seconds per call for every (mode, name, pass).

    TFP under XLA is very slow (its stateless uniform leaves the algorithm
    to TF, whose XLA code for that choice on CPU is far slower than Philox):
    it is timed on one call after the compiling call, outside the rounds.
    """
    cands = {}
    for mode in MODES:
        for key, fn in _tf_candidates(shape, mode, use_tfp).items():
            cands[(mode,) + key] = fn
    if use_torch:
        for key, fn in _torch_candidates(shape).items():
            cands[("eager",) + key] = fn
    counter = [0]

    def seeds(n):
        out = []
        for _ in range(n):
            counter[0] += 1
            out.append(tf.constant([counter[0], 12345], tf.int64))
        return out

    medians = {}
    for key in [k for k in cands if k[:2] == ("xla", "tfp")]:
        fn = cands.pop(key)
        _block(fn, seeds(1))
        medians[key] = _block(fn, seeds(1))
    # Warm up (traces and compiles), then size each block to ~min_block s.
    reps = {}
    for key, fn in cands.items():
        _block(fn, seeds(2))
        per_call = _block(fn, seeds(2))[0]
        reps[key] = max(1, int(min_block / max(per_call, 1e-6)))
    times = {key: [] for key in cands}
    for _ in range(rounds):
        for key, fn in cands.items():
            times[key].append(_block(fn, seeds(reps[key])))
    for key, v in times.items():
        medians[key] = (statistics.median(t[0] for t in v),
                        statistics.median(t[1] for t in v))
    return medians


def _ratio(a, b):
    """`a / b`, or None where a candidate did not run (package missing)."""
    return None if a is None or b is None else a / b


def _cell(value):
    return "n/a" if value is None else f"{value:.2f}"


def report(all_results, shapes, metric):
    """Prints the table of medians (ms) and the ratios for one metric."""
    index = {"wall": 0, "cpu": 1}[metric]
    results = {shape: {k: v[index] for k, v in r.items()}
               for shape, r in all_results.items()}
    names = sorted({k[1] for r in results.values() for k in r},
                   key=["ours", "ours_hard", "tfp", "torch", "torch_hard",
                        "floor"].index)
    print(f"\n### Median {metric} ms per call (float32, tau={TAU})\n")
    header = "| shape | pass | " + " | ".join(
        f"{n} {m}" if not n.startswith("torch") else n
        for m in MODES for n in names if not n.startswith("torch"))
    torch_names = [n for n in names if n.startswith("torch")]
    header += "".join(f" | {n}" for n in torch_names) + " |"
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for shape in shapes:
        r = results[shape]
        for p in ("fwd", "fwd+bwd"):
            cells = [f"{r[(m, n, p)] * 1e3:.2f}" for m in MODES for n in names
                     if not n.startswith("torch") and (m, n, p) in r]
            cells += [f"{r[('eager', n, p)] * 1e3:.2f}" for n in torch_names]
            print(f"| {shape[0]}x{shape[1]} | {p} | " + " | ".join(cells)
                  + " |")
    print("\nRatios (> 1 means ours is faster; 'floor' and 'xla/graph' are "
          "time ratios, < 1 is better)\n")
    print("| shape | pass | mode | torch/ours | torch_hard/ours_hard | "
          "tfp/ours | ours/floor | ours_hard/floor | ours xla/graph |")
    print("|" + " --- |" * 9)
    worst = {}
    for shape in shapes:
        r = results[shape]
        for p in ("fwd", "fwd+bwd"):
            for m in MODES:
                g = r.get
                row = {
                    "torch/ours": _ratio(g(("eager", "torch", p)),
                                         g((m, "ours", p))),
                    "torch_hard/ours_hard": _ratio(
                        g(("eager", "torch_hard", p)), g((m, "ours_hard", p))),
                    "tfp/ours": _ratio(g((m, "tfp", p)), g((m, "ours", p))),
                    "ours/floor": _ratio(g((m, "ours", p)), g((m, "floor", p))),
                    "ours_hard/floor": _ratio(g((m, "ours_hard", p)),
                                              g((m, "floor", p))),
                    "ours xla/graph": _ratio(g(("xla", "ours", p)),
                                             g(("graph", "ours", p))),
                }
                print(f"| {shape[0]}x{shape[1]} | {p} | {m} | "
                      + " | ".join(_cell(v) for v in row.values()) + " |")
                for k, v in row.items():
                    if v is None:
                        continue
                    bigger_is_better = "/ours" in k
                    key = (p, m, k)
                    old = worst.get(key)
                    if old is None or (v < old if bigger_is_better
                                       else v > old):
                        worst[key] = v
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
