"""The package's samplers on the CPU or a GPU, against the memory-bandwidth limit.

One script for any machine: it finds the device itself (JAX's default device;
PyTorch's CUDA device when there is one, else the CPU) and runs each backend
in its own process (Keras fixes its backend per process): JAX with `jax.jit`,
PyTorch eager and with `torch.compile`. Per backend, mode, dtype (float32 and
bfloat16) and logits shape, it times, with `benchmarks/_timing.py` (every
candidate of a group in interleaved rounds, blocks of about `--min-block`
seconds, the device synchronised at the end of a block, medians):

- the forward pass (`fwd`) and the forward + backward pass (`fwd+bwd`, the
  gradient of `sum(y * w)` w.r.t. the logits, `w` fixed) of
  `gumbel_softmax` relaxed (`gs`) and hard with the straight-through
  (`gs_st`), Gumbel-Rao K=10 (`gs_rao10`) and ReinMax (`gs_reinmax`)
  estimators, `relaxed_bernoulli`, `relaxed_top_k` (k=4), and the newer ops
  when the package has them (`log_gumbel_softmax`, `hard_concrete`,
  `gumbel_sinkhorn`), tau = 0.5, a fresh seed per call;
- `floor`: the softmax of precomputed noisy logits, `softmax((x + g) /
  tau)` with `g` drawn once: what any Gumbel-Softmax sampler must do
  besides drawing noise;
- `torch_F` / `torch_F_hard`: `torch.nn.functional.gumbel_softmax` on the
  same device (PyTorch process only);
- the achieved memory bandwidth: the bytes that must move at least (forward:
  read the logits, write the sample, 2 N b; forward + backward: read the
  logits and `w`, write the gradient, 3 N b; N elements of b bytes) divided
  by the median time, as a fraction of the device's copy bandwidth (a large
  on-device copy `y = x + 1`, 2 N b bytes, timed in the same process);
- one training step of the categorical VAE (`examples`' model, 784-512-256-
  20x10, batch 100, Adam) and of `GumbelVectorQuantizer` against Hugging
  Face's `Wav2Vec2GumbelVectorQuantizer` (torch, same device, same weights;
  `benchmarks.vq`'s steps), in steps per second.

Writes `accelerator.json` (every figure, the device, versions, load and
command) and `accelerator.md` (the tables) under `--output-dir`.

Usage, from the repository root:
  python -m benchmarks.accelerator                  # CPU: the CPU shapes;
                                                    # GPU: also the GPU sizes
  python -m benchmarks.accelerator --tiny           # seconds: a smoke test
  python -m benchmarks.accelerator --sizes 4096x1024 262144x64 \\
      --backends torch --torch-modes eager --dtypes float32
TensorFlow is not needed (the package imports it only on its backend).
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this benchmark as a module from the "
                     "repository root: python -m benchmarks.accelerator")

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks import _candidates

TAU = 0.5
TOP_K = 4
SINKHORN_N = 8
GPU_SIZES = ((16384, 8192), (262144, 64))
TINY_SIZES = ((16, 32), (64, 8))
BACKENDS = ("jax", "torch")
TORCH_MODES = ("eager", "compile")
DTYPES = ("float32", "bfloat16")
NEWER_OPS = ("log_gumbel_softmax", "hard_concrete", "gumbel_sinkhorn")


def _size(text):
    try:
        rows, cols = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a size is ROWSxCOLS, for example 4096x1024; got {text!r}")
    if rows < 1 or cols < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive: {text!r}")
    return rows, cols


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.accelerator",
                                     description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--sizes", nargs="+", type=_size, default=None,
        help="logits shapes ROWSxCOLS (default: the CPU benchmark's shapes, "
        "plus 16384x8192 and 262144x64 on a GPU)")
    add("--tiny", action="store_true",
        help="tiny shapes and models, 2 rounds: a smoke test in seconds")
    add("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    add("--torch-modes", nargs="+", choices=TORCH_MODES,
        default=list(TORCH_MODES))
    add("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES))
    add("--ops", nargs="+", default=None,
        help="time only these candidates (names as in the table)")
    add("--rounds", type=int, default=None, help="default 7 (tiny: 2)")
    add("--min-block", type=float, default=None,
        help="seconds per timed block (default 0.05; tiny: 0.005)")
    add("--torch-threads", type=int, default=None,
        help="torch.set_num_threads (default: torch's; on a shared CPU "
        "more threads than free cores slow torch many times)")
    add("--no-models", action="store_true",
        help="skip the VAE and vector-quantizer training steps")
    add("--output-dir", default=os.path.join("outputs", "accelerator"))
    add("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 2 if args.tiny else 7
    if args.min_block is None:
        args.min_block = 0.005 if args.tiny else 0.05
    return args


# ----------------------------------------------------------------------------
# Candidates (run inside a backend's process).

def op_samplers(kops, names=None):
    """`{name: sample(x, seed)}` of the package's ops, newer ones if there."""
    gs = kops.gumbel_softmax
    samplers = {
        "gs": lambda x, s: gs(x, TAU, seed=s),
        "gs_st": lambda x, s: gs(x, TAU, hard=True, seed=s),
        "gs_rao10": lambda x, s: gs(x, TAU, hard=True, estimator="gumbel_rao",
                                    estimator_samples=10, seed=s),
        "gs_reinmax": lambda x, s: gs(x, TAU, hard=True, estimator="reinmax",
                                      seed=s),
        "relaxed_bernoulli": lambda x, s: kops.relaxed_bernoulli(x, TAU,
                                                                 seed=s),
        "relaxed_top_k": lambda x, s: kops.relaxed_top_k(
            x, min(TOP_K, x.shape[-1]), TAU, seed=s),
    }
    if hasattr(kops, "log_gumbel_softmax"):
        samplers["log_gumbel_softmax"] = lambda x, s: kops.log_gumbel_softmax(
            x, TAU, seed=s)
    if hasattr(kops, "hard_concrete"):
        samplers["hard_concrete"] = lambda x, s: kops.hard_concrete(x, seed=s)
    if hasattr(kops, "gumbel_sinkhorn"):
        samplers["gumbel_sinkhorn"] = _sinkhorn(kops)
    return {k: v for k, v in samplers.items() if names is None or k in names}


def _sinkhorn(kops):
    """Gumbel-Sinkhorn on the logits seen as [-1, n, n] square matrices."""
    n = SINKHORN_N

    def sample(x, s):
        square = x.reshape((-1, n, n))
        return kops.gumbel_sinkhorn(square, TAU, seed=s).reshape(x.shape)

    return sample


def _reference_samplers(backend):
    """The floor (input: precomputed noisy logits) and torch's sampler."""
    if backend == "jax":
        import jax

        return {"floor": lambda g, s: jax.nn.softmax(g / TAU, axis=-1)}
    import torch
    from torch.nn.functional import gumbel_softmax as f

    return {"floor": lambda g, s: torch.softmax(g / TAU, -1),
            "torch_F": lambda x, s: f(x, tau=TAU),
            "torch_F_hard": lambda x, s: f(x, tau=TAU, hard=True)}


def _to_device(backend, array, dtype):
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(array, dtype=getattr(jnp, dtype))
    import keras
    import torch

    device = keras.ops.zeros(()).device  # Keras' default device
    return torch.from_numpy(array).to(device=device,
                                      dtype=getattr(torch, dtype))


def group_candidates(backend, mode, dtype, shape, names=None):
    """`{(name, pass): fn(seed)}` of one (backend, mode, dtype, shape)."""
    import keras_gumbel.ops as kops

    x, w = _candidates.data(shape)
    rng = np.random.default_rng(1)
    noisy = x - np.log(-np.log(rng.uniform(1e-12, 1.0, shape)))
    tensors = {k: _to_device(backend, v, dtype)
               for k, v in (("x", x), ("w", w), ("g", noisy.astype("f4")))}
    samplers = op_samplers(kops, names)
    references = _reference_samplers(backend)
    samplers.update({k: v for k, v in references.items()
                     if names is None or k in names})
    cands = {}
    for name, sample in samplers.items():
        inp = tensors["g" if name == "floor" else "x"]
        for p in ("fwd", "fwd+bwd"):
            cands[(name, p)] = _candidates.make_pass(
                backend, sample, inp, tensors["w"], p == "fwd+bwd", mode)
    return cands


# ----------------------------------------------------------------------------
# Measurements (inside a backend's process).

def copy_bandwidth(backend, elements, rounds, min_block):
    """Bytes per second of an on-device `y = x + 1` (read + write), float32,
    into a buffer that exists already (no allocation is timed)."""
    from benchmarks import _timing

    x = _to_device(backend, np.zeros(elements, "f4"), "float32")
    if backend == "jax":
        import jax

        # The donated input's buffer is the output's: x is read and written.
        step = jax.jit(lambda a: a + 1.0, donate_argnums=0)
        state = [x]

        def copy():
            state[0] = step(state[0])
            return state[0]
    else:
        import torch

        y = torch.empty_like(x)
        copy = lambda: torch.add(x, 1.0, out=y)  # noqa: E731
    t = _timing.measure({"copy": copy}, rounds, min_block)
    return 2 * 4 * elements / t["copy"].wall


def bench_group(backend, mode, dtype, shape, args, bandwidth):
    """One record per candidate of the group: medians and bandwidth."""
    from benchmarks import _timing

    cands = group_candidates(backend, mode, dtype, shape, args.ops)
    timings = _timing.measure(cands, args.rounds, args.min_block,
                              inputs=_candidates.seed_inputs(backend))
    elements = shape[0] * shape[1]
    itemsize = 2 if dtype == "bfloat16" else 4
    records = []
    for (name, p), t in timings.items():
        moved = (2 if p == "fwd" else 3) * elements * itemsize
        records.append({
            "backend": backend, "mode": mode, "dtype": dtype,
            "shape": f"{shape[0]}x{shape[1]}", "op": name, "pass": p,
            "median_ms": 1e3 * t.wall, "cpu_ms": 1e3 * t.cpu,
            "calls_per_block": t.calls,
            "bandwidth_fraction": moved / t.wall / bandwidth})
    return records


def _vae_steps(mode, batch):
    import keras

    from examples.vae_model import build_vae

    vae = build_vae(784, 20, 10, (512, 256), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3),
                jit_compile=mode != "eager")
    x = (np.random.default_rng(0).uniform(size=(batch, 784)) < 0.5)
    x = x.astype("float32")
    return {"vae": lambda: vae.train_on_batch(x)}


def _vq_steps(small):
    from benchmarks import vq
    from keras_gumbel.layers import GumbelVectorQuantizer

    sizes = vq.parse_args(["--batch", "2", "--frames", "10", "--features",
                           "16", "--vars", "8", "--codevector-dim", "8"]
                          if small else [])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(sizes.batch, sizes.frames, sizes.features))
    w = rng.normal(size=(sizes.batch, sizes.frames, sizes.codevector_dim))
    layer = GumbelVectorQuantizer(sizes.groups, sizes.vars,
                                  sizes.codevector_dim,
                                  return_perplexity=True, seed=0)
    layer.build((None, None, sizes.features))
    x, w = x.astype("float32"), w.astype("float32")
    steps = {"vq_keras_gumbel": vq.keras_step(layer, x, w)}
    try:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        steps["vq_huggingface"] = vq.hf_step(layer, x, w, device=device)
    except ImportError as err:  # transformers is not installed
        print(f"Hugging Face's quantizer not timed: {err}", file=sys.stderr)
    return steps


def bench_models(backend, mode, args):
    """Steps per second of the VAE and the quantizers (medians)."""
    from benchmarks import _timing

    steps = _vae_steps(mode, 8 if args.tiny else 100)
    if mode != "compile":  # fit's default route on each backend
        steps.update(_vq_steps(args.tiny))
    timings = _timing.measure(steps, args.rounds, args.min_block)
    return [{"backend": backend, "mode": mode, "model": name,
             "steps_per_second": 1.0 / t.wall, "median_ms": 1e3 * t.wall}
            for name, t in timings.items()]


def device_info(backend):
    """The device the backend computes on, and the library versions."""
    import keras

    info = {"keras": keras.__version__, "numpy": np.__version__}
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        info.update(jax=jax.__version__, platform=device.platform,
                    device=getattr(device, "device_kind", str(device)))
    else:
        import torch

        info.update(torch=torch.__version__, cuda=torch.version.cuda,
                    torch_threads=torch.get_num_threads())
        if torch.cuda.is_available():
            info.update(platform="gpu",
                        device=torch.cuda.get_device_name(0))
        else:
            info.update(platform="cpu", device="cpu")
    if info["platform"] == "cpu":
        info["device"] = (f"{platform.processor() or platform.machine()}, "
                          f"{os.cpu_count()} CPUs")
    info["driver"] = _nvidia_driver()
    return info


def _nvidia_driver():
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version",
             "--format=csv,noheader"], capture_output=True, text=True,
            timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def default_sizes(args, on_gpu):
    if args.sizes:
        return [tuple(s) for s in args.sizes]
    if args.tiny:
        return list(TINY_SIZES)
    return list(_candidates.SHAPES) + (list(GPU_SIZES) if on_gpu else [])


def child_main(args):
    """Times the backend KERAS_BACKEND names; writes its JSON to args.child."""
    import keras

    backend = keras.backend.backend()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    info = device_info(backend)
    modes = ["jit"] if backend == "jax" else args.torch_modes
    sizes = default_sizes(args, info["platform"] == "gpu")
    elements = max(1 << 16 if args.tiny else 1 << 26,
                   max(r * c for r, c in sizes))
    bandwidth = copy_bandwidth(backend, elements, args.rounds, args.min_block)
    result = {"backend": backend, "info": info, "modes": modes,
              "sizes": [f"{r}x{c}" for r, c in sizes],
              "copy_bandwidth_gb_s": bandwidth / 1e9, "ops": [],
              "models": []}
    for mode in modes:
        for dtype in args.dtypes:
            for shape in sizes:
                result["ops"] += bench_group(backend, mode, dtype, shape,
                                             args, bandwidth)
                print(f"{backend} {mode} {dtype} {shape} done", flush=True)
        if not args.no_models:
            result["models"] += bench_models(backend, mode, args)
    result["tensorflow_imported"] = "tensorflow" in sys.modules
    with open(args.child, "w") as handle:
        json.dump(result, handle)


# ----------------------------------------------------------------------------
# The parent process: one child per backend, then the JSON and the tables.

def run_child(backend, argv, path):
    """Runs one backend's child; returns its result, or `{"error": ...}`."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               # Let torch (Hugging Face's module) share the GPU with JAX.
               XLA_PYTHON_CLIENT_PREALLOCATE="false")
    command = [sys.executable, "-m", "benchmarks.accelerator",
               *argv, "--child", path]
    # The child's progress lines pass through; its stderr is kept for errors.
    done = subprocess.run(command, env=env, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return {"backend": backend, "error": tail or f"exit {done.returncode}"}
    with open(path) as handle:
        return json.load(handle)


def _ratio(records, key, num, den):
    """`num / den` of median times in the same group and pass, or None."""
    a, b = records.get(key + (num,)), records.get(key + (den,))
    return None if a is None or b is None else a["median_ms"] / b["median_ms"]


def _cell(value, fmt="{:.2f}"):
    return "n/a" if value is None else fmt.format(value)


def _ops_table(result, mode, dtype):
    """Markdown rows of one backend, mode and dtype."""
    records = {(r["shape"], r["pass"], r["op"]): r for r in result["ops"]
               if r["mode"] == mode and r["dtype"] == dtype}
    shapes = list(dict.fromkeys(k[0] for k in records))
    names = list(dict.fromkeys(k[2] for k in records))
    lines = [f"\n#### {result['backend']} ({mode}), {dtype}\n",
             "| shape | op | fwd ms | fwd+bwd ms | fwd / floor | "
             "fwd+bwd / floor | torch F / ours (fwd+bwd) | bandwidth fwd | "
             "bandwidth fwd+bwd |", "|" + " --- |" * 9]
    torch_of = {"gs": "torch_F", "gs_st": "torch_F_hard"}
    for shape in shapes:
        for name in names:
            fwd = records.get((shape, "fwd", name))
            bwd = records.get((shape, "fwd+bwd", name))
            if fwd is None or bwd is None:
                continue
            cells = [f"{fwd['median_ms']:.3f}", f"{bwd['median_ms']:.3f}",
                     _cell(_ratio(records, (shape, "fwd"), name, "floor")),
                     _cell(_ratio(records, (shape, "fwd+bwd"), name,
                                  "floor")),
                     _cell(_ratio(records, (shape, "fwd+bwd"),
                                  torch_of.get(name), name)),
                     f"{fwd['bandwidth_fraction']:.1%}",
                     f"{bwd['bandwidth_fraction']:.1%}"]
            lines.append(f"| {shape} | {name} | " + " | ".join(cells) + " |")
    return lines


def _models_table(results):
    rows = [r for result in results.values() for r in result.get("models", ())]
    if not rows:
        return []
    lines = ["\n### Training steps\n",
             "| backend | mode | model | steps / s | ms / step |",
             "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['mode']} | {r['model']} | "
                     f"{r['steps_per_second']:.1f} | {r['median_ms']:.2f} |")
    return lines


def markdown(report):
    """The report's tables, as Markdown."""
    lines = [f"# `{report['command']}`\n",
             f"Machine: {report['machine']}; load average (1 min) "
             f"{report['load_average']['before'][0]:.2f} before, "
             f"{report['load_average']['after'][0]:.2f} after; tau={TAU}; "
             "medians of interleaved rounds. Ratios to the floor are time "
             "ratios (> 1: slower than the floor); bandwidth is the least "
             "traffic (fwd 2 N b, fwd+bwd 3 N b) per second over the "
             "device's copy bandwidth."]
    for backend, result in report["backends"].items():
        if "error" in result:
            lines.append(f"\n### {backend}: failed\n\n```\n{result['error']}"
                         "\n```")
            continue
        info = result["info"]
        lines.append(f"\n### {backend} on {info['device']}\n\n"
                     f"Versions: {json.dumps(info)}; copy bandwidth "
                     f"{result['copy_bandwidth_gb_s']:.1f} GB/s (read + "
                     f"write); TensorFlow imported: "
                     f"{result['tensorflow_imported']}.")
        dtypes = list(dict.fromkeys(r["dtype"] for r in result["ops"]))
        for mode in result["modes"]:
            for dtype in dtypes:
                lines += _ops_table(result, mode, dtype)
    lines += _models_table(report["backends"])
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return 0
    os.makedirs(args.output_dir, exist_ok=True)
    before, start = os.getloadavg(), time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends:
            results[backend] = run_child(backend, argv,
                                         os.path.join(tmp, f"{backend}.json"))
            status = "failed" if "error" in results[backend] else "done"
            print(f"{backend} {status} after "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    report = {"command": " ".join(["python -m benchmarks.accelerator"]
                                  + argv),
              "machine": f"{platform.node()}, {platform.platform()}, "
                         f"{os.cpu_count()} CPUs",
              "load_average": {"before": before, "after": os.getloadavg()},
              "seconds": time.perf_counter() - start, "backends": results}
    with open(os.path.join(args.output_dir, "accelerator.json"), "w") as f:
        json.dump(report, f, indent=1)
    text = markdown(report)
    with open(os.path.join(args.output_dir, "accelerator.md"), "w") as f:
        f.write(text)
    print(text)
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
