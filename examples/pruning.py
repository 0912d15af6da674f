"""Structured pruning of an MLP's hidden units with hard concrete gates.

A `HardConcreteGate` after each hidden layer of a `64-128-64-10` ReLU MLP
learns which units to keep; `l0_penalty * expected_l0` (Louizos, Welling,
Kingma, ICLR 2018) is added to the cross-entropy. The sweep over
`l0_penalty` traces test accuracy against the fraction of hidden units kept.
At the same sizes (the units kept in each layer by each gated run), the
same MLP trained without gates is pruned by magnitude (the units with the
smallest L2 norm of outgoing weights removed), evaluated as it is and after
`--finetune-epochs` of fine-tuning.

Each gated network is then rebuilt without its closed units: a plain Keras
MLP whose Dense layers hold only the kept units, with the deterministic gate
values folded into the next layer's weights (`(h * g) W = h (diag(g) W)`),
so it computes exactly what the gated network computes at inference. The
run chosen on the validation split (the sparsest within `--tolerance`, 2
points, of the best validation accuracy) is timed against the unpruned
network and exported.

Data: scikit-learn's 8x8 digits (offline): 1797 images, split into 1077
train, 270 validation and 450 test images.

Usage:
  python -m examples.pruning                     # minutes on 2 cores
  python -m examples.pruning --smoke             # seconds
  python -m examples.pruning --penalties 0,1e-3,1e-2 --epochs 100

Writes `results.json`, `accuracy_vs_kept.png`, `gates_over_training.png`
and the exported pruned network into `--output-dir` (outputs/pruning/).
"""

import argparse
import json
import os
import time

import keras
import numpy as np

import keras_gumbel as kg
from examples import cli

PENALTIES = (0.0, 3e-4, 1e-3, 3e-3, 1e-2, 2e-2, 4e-2)


def load_data(seed):
    """Digits in [0, 1]: {"train", "valid", "test"} -> (x, y), stratified."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int32")
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=450, random_state=seed, stratify=y)
    x_train, x_valid, y_train, y_valid = train_test_split(
        x_rest, y_rest, test_size=0.2, random_state=seed, stratify=y_rest)
    return {"train": (x_train, y_train), "valid": (x_valid, y_valid),
            "test": (x_test, y_test)}


def build_mlp(hidden, penalty=None, seed=0):
    """The MLP; with `penalty` not None, a gate after each hidden layer."""
    inputs = keras.Input((64,))
    h = inputs
    for i, units in enumerate(hidden):
        h = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(h)
        if penalty is not None:
            h = kg.layers.HardConcreteGate(l0_penalty=penalty, seed=seed + i,
                                           name=f"gate_{i}")(h)
    outputs = keras.layers.Dense(10, name="logits")(h)
    return keras.Model(inputs, outputs)


def compile_and_fit(model, data, epochs, args, callbacks=()):
    model.compile(keras.optimizers.Adam(args.lr),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    x, y = data["train"]
    model.fit(x, y, batch_size=args.batch_size, epochs=epochs, verbose=0,
              callbacks=list(callbacks))
    return model


def accuracy(model, split):
    x, y = split
    logits = model.predict(x, batch_size=1024, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == y))


class GateRecorder(keras.callbacks.Callback):
    """Records every gate's deterministic value at the end of each epoch."""

    def __init__(self, gates):
        super().__init__()
        self.gates, self.history = gates, []

    def on_epoch_end(self, epoch, logs=None):
        self.history.append(np.concatenate([
            keras.ops.convert_to_numpy(g.deterministic_gate())
            for g in self.gates]))


def dense_layers(model):
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.Dense)]


def rebuild(model, keeps, scales):
    """A plain MLP holding only the kept hidden units of `model`.

    Args:
      model: an MLP (gated or not) built by `build_mlp`.
      keeps: per hidden layer, the indices of the units to keep.
      scales: per hidden layer, a multiplier per unit (the deterministic
        gate values, or ones), folded into the next layer's rows.
    """
    weights = [layer.get_weights() for layer in dense_layers(model)]
    inputs = keras.Input((64,))
    h, rows, new_weights = inputs, np.arange(64), []
    for i, (keep, scale) in enumerate(zip(keeps, scales)):
        kernel, bias = weights[i]
        new_weights.append([kernel[rows][:, keep], bias[keep]])
        h = keras.layers.Dense(len(keep), activation="relu",
                               name=f"dense_{i}")(h)
        weights[i + 1][0] = weights[i + 1][0] * scale[:, None]
        rows = keep
    kernel, bias = weights[-1]
    new_weights.append([kernel[rows], bias])
    pruned = keras.Model(inputs, keras.layers.Dense(10, name="logits")(h))
    for layer, values in zip(dense_layers(pruned), new_weights):
        layer.set_weights(values)
    return pruned


def magnitude_keeps(model, sizes):
    """Per hidden layer, the `size` units with the largest L2 norm of their
    outgoing weights."""
    layers = dense_layers(model)
    keeps = []
    for i, size in enumerate(sizes):
        norms = np.linalg.norm(layers[i + 1].get_weights()[0], axis=1)
        keeps.append(np.sort(np.argsort(-norms, kind="stable")[:size]))
    return keeps


def gated_run(penalty, data, args):
    """Trains one gated MLP; returns its numbers and the pruned model."""
    keras.utils.set_random_seed(args.seed)
    model = build_mlp(args.hidden, penalty, args.seed)
    gates = [layer for layer in model.layers
             if isinstance(layer, kg.layers.HardConcreteGate)]
    recorder = GateRecorder(gates)
    start = time.perf_counter()
    compile_and_fit(model, data, args.epochs, args, [recorder])
    seconds = time.perf_counter() - start
    keeps = [np.flatnonzero(keras.ops.convert_to_numpy(g.active_mask()))
             for g in gates]
    scales = [keras.ops.convert_to_numpy(g.deterministic_gate())
              for g in gates]
    sizes = [len(k) for k in keeps]
    result = {"l0_penalty": penalty, "kept": sizes,
              "fraction_kept": sum(sizes) / sum(args.hidden),
              "expected_l0": [float(keras.ops.convert_to_numpy(
                  g.expected_l0())) for g in gates],
              "valid_accuracy": accuracy(model, data["valid"]),
              "test_accuracy": accuracy(model, data["test"]),
              "train_seconds": round(seconds, 1)}
    pruned = None
    if min(sizes) > 0:  # A layer with no unit left predicts a constant.
        pruned = rebuild(model, keeps, scales)
        x = data["test"][0]
        result["pruned_max_abs_difference"] = float(np.max(np.abs(
            pruned.predict(x, verbose=0) - model.predict(x, verbose=0))))
        result["pruned_test_accuracy"] = accuracy(pruned, data["test"])
        result["pruned_parameters"] = int(pruned.count_params())
    return result, pruned, np.array(recorder.history)


def magnitude_runs(data, sizes_list, args):
    """The ungated MLP, then magnitude pruning to each size (and fine-tune)."""
    keras.utils.set_random_seed(args.seed)
    dense = compile_and_fit(build_mlp(args.hidden), data, args.epochs, args)
    runs = []
    for sizes in sizes_list:
        if min(sizes) == 0:
            runs.append(None)
            continue
        keeps = magnitude_keeps(dense, sizes)
        ones = [np.ones(h, "float32") for h in args.hidden]
        pruned = rebuild(dense, keeps, ones)
        run = {"kept": list(sizes), "test_accuracy":
               accuracy(pruned, data["test"])}
        if args.finetune_epochs:
            keras.utils.set_random_seed(args.seed)
            compile_and_fit(pruned, data, args.finetune_epochs, args)
            run["finetuned_test_accuracy"] = accuracy(pruned, data["test"])
        runs.append(run)
    return dense, runs


def time_models(models, x, repeats):
    """Times the models side by side, interleaved, in this process."""
    for model in models.values():
        model.predict_on_batch(x)
    times = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.predict_on_batch(x)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def choose(runs, tolerance):
    """The sparsest run within `tolerance` of the best validation accuracy."""
    usable = [r for r in runs if "pruned_parameters" in r]
    best = max(r["valid_accuracy"] for r in usable)
    near = [r for r in usable if r["valid_accuracy"] >= best - tolerance]
    return min(near, key=lambda r: (r["fraction_kept"], -r["valid_accuracy"]))


def plot(output_dir, runs, magnitude, dense_accuracy, histories, hidden):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    pairs = [(r, m) for r, m in zip(runs, magnitude) if m is not None]
    frac = [r["fraction_kept"] for r, _ in pairs]
    ax.plot(frac, [r["test_accuracy"] for r, _ in pairs], "o-",
            label="hard concrete gates + L0")
    ax.plot(frac, [m["test_accuracy"] for _, m in pairs], "s--",
            label="magnitude pruning")
    if pairs and "finetuned_test_accuracy" in pairs[0][1]:
        ax.plot(frac, [m["finetuned_test_accuracy"] for _, m in pairs],
                "^:", label="magnitude pruning + fine-tuning")
    ax.axhline(dense_accuracy, color="gray", lw=0.8, label="unpruned MLP")
    ax.set_xlabel(f"fraction of the {sum(hidden)} hidden units kept")
    ax.set_ylabel("test accuracy")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "accuracy_vs_kept.png"), dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(histories), figsize=(
        3.6 * len(histories) + 1.2, 3.6), squeeze=False,
        layout="constrained")
    for ax, (penalty, history) in zip(axes[0], histories):
        order = np.argsort(history[-1], kind="stable")
        image = ax.imshow(history[:, order].T, aspect="auto", vmin=0, vmax=1,
                          cmap="viridis", interpolation="nearest")
        ax.set_title(f"l0_penalty = {penalty:g}")
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("hidden unit (sorted by final gate)")
    fig.colorbar(image, ax=axes[0].tolist(), label="deterministic gate")
    fig.savefig(os.path.join(output_dir, "gates_over_training.png"), dpi=100)
    plt.close(fig)


def export(model, output_dir):
    """Exports the pruned MLP in the backend's format; returns the path."""
    fmt = "onnx" if kg.backend.NAME == "torch" else "tf_saved_model"
    path = os.path.join(output_dir, "pruned.onnx" if fmt == "onnx"
                        else "pruned_saved_model")
    kg.export.export(model, path, format=fmt, verbose=False)
    return path


def build_parser():
    """The example's `argparse.ArgumentParser`, every option with help."""
    parser = argparse.ArgumentParser(prog="python -m examples.pruning",
                                     description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--hidden", type=cli.hidden_sizes, default=(128, 64),
        help="hidden layer sizes (128,64)")
    add("--penalties", default=",".join(f"{p:g}" for p in PENALTIES),
        help="comma-separated l0_penalty values of the sweep")
    add("--epochs", type=cli.positive_int, default=150,
        help="training epochs of each network (150)")
    add("--finetune-epochs", type=_non_negative_int, default=30,
        help="fine-tuning epochs after magnitude pruning (30; 0: none)")
    add("--batch-size", type=cli.positive_int, default=64,
        help="batch size (64)")
    add("--lr", type=cli.positive_float, default=3e-3,
        help="Adam learning rate of the weights and log_alpha (3e-3)")
    add("--tolerance", type=cli.non_negative_float, default=0.02,
        help="the run to time and export: the sparsest within this much "
        "of the best validation accuracy (0.02)")
    add("--timing-batch", type=cli.positive_int, default=65536,
        help="rows per timed predict call (65536)")
    add("--timing-repeats", type=cli.positive_int, default=50,
        help="timed calls per network; medians are reported (50)")
    cli.add_output_dir(parser, "pruning", "results.json, the plots and the "
                       "exported pruned network")
    add("--seed", type=int, default=0, help="random seed (0)")
    add("--no-export", action="store_true",
        help="do not export the pruned network")
    add("--smoke", action="store_true",
        help="a few-second run (tiny network and training)")
    return parser


def _non_negative_int(text):
    """An argparse `type`: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected a non-negative integer, got {text!r}")
    return value


def parse_args(argv, parser=None):
    parser = parser or build_parser()
    args = parser.parse_args(argv)
    try:
        args.penalties = [float(p) for p in args.penalties.split(",")]
    except ValueError:
        parser.error(f"--penalties: expected numbers, got {args.penalties!r}")
    if not all(p >= 0 for p in args.penalties):  # NaN included
        parser.error(f"--penalties must be >= 0, got {args.penalties}")
    if args.smoke:
        args.hidden, args.penalties = (16, 8), [3e-2]
        args.epochs, args.finetune_epochs, args.timing_repeats = 2, 1, 3
        args.timing_batch = 1024
    return args


def report(results):
    print(f"unpruned MLP {results['hidden']}: test accuracy "
          f"{results['dense_test_accuracy']:.3f}")
    print(f"{'l0_penalty':>10} {'kept':>10} {'frac':>6} {'gated':>7} "
          f"{'magnitude':>10} {'+finetune':>10}")
    for run, mag in zip(results["gated"], results["magnitude"]):
        m = mag or {}
        print(f"{run['l0_penalty']:>10g} {str(run['kept']):>10} "
              f"{run['fraction_kept']:>6.2f} {run['test_accuracy']:>7.3f} "
              f"{m.get('test_accuracy', float('nan')):>10.3f} "
              f"{m.get('finetuned_test_accuracy', float('nan')):>10.3f}")
    chosen = results["chosen"]
    print(f"chosen (sparsest within {results['tolerance']:g} of the best "
          f"validation accuracy): l0_penalty={chosen['l0_penalty']:g}, kept "
          f"{chosen['kept']} of {results['hidden']}, "
          f"{chosen['pruned_parameters']} parameters (unpruned "
          f"{results['dense_parameters']}), test accuracy "
          f"{chosen['pruned_test_accuracy']:.3f}")
    speed = results["timing"]
    print(f"predict on {speed['batch']} rows, median of {speed['repeats']}: "
          f"unpruned {speed['unpruned_ms']:.3f} ms, pruned "
          f"{speed['pruned_ms']:.3f} ms (x{speed['speedup']:.2f})")


def main(argv=None):
    """Sweeps, compares, rebuilds, times, exports; returns the results."""
    parser = build_parser()
    args = parse_args(argv, parser)
    try:
        cli.require_modules("sklearn", "matplotlib")
        cli.prepare_output_dir(args.output_dir)
    except (ImportError, ValueError) as err:
        parser.exit(2, f"{parser.prog}: error: {cli.one_line(err)}\n")
    data = load_data(args.seed)
    runs, prunes, histories = [], [], []
    for penalty in args.penalties:
        result, pruned, history = gated_run(penalty, data, args)
        runs.append(result)
        prunes.append(pruned)
        histories.append((penalty, history))
        print(f"l0_penalty={penalty:g}: kept {result['kept']}, test "
              f"accuracy {result['test_accuracy']:.3f} "
              f"({result['train_seconds']} s)", flush=True)
    dense, magnitude = magnitude_runs(data, [r["kept"] for r in runs], args)
    chosen = choose(runs, args.tolerance)
    pruned = prunes[runs.index(chosen)]
    x = np.resize(data["test"][0], (args.timing_batch, 64))
    seconds = time_models({"unpruned": dense, "pruned": pruned}, x,
                          args.timing_repeats)
    results = {
        "data": "scikit-learn digits 8x8", "backend": kg.backend.NAME,
        "hidden": list(args.hidden), "epochs": args.epochs,
        "finetune_epochs": args.finetune_epochs, "lr": args.lr,
        "batch_size": args.batch_size, "seed": args.seed,
        "tolerance": args.tolerance,
        "sizes": {k: len(v[0]) for k, v in data.items()},
        "dense_test_accuracy": accuracy(dense, data["test"]),
        "dense_parameters": int(dense.count_params()),
        "gated": runs, "magnitude": magnitude, "chosen": chosen,
        "timing": {"batch": len(x), "repeats": args.timing_repeats,
                   "unpruned_ms": 1e3 * seconds["unpruned"],
                   "pruned_ms": 1e3 * seconds["pruned"],
                   "speedup": seconds["unpruned"] / seconds["pruned"],
                   "load_average": list(os.getloadavg())},
    }
    if not args.no_export:
        results["exported"] = export(pruned, args.output_dir)
    with open(os.path.join(args.output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    middle = [histories[0], histories[len(histories) // 2], histories[-1]]
    plot(args.output_dir, runs, magnitude, results["dense_test_accuracy"],
         middle if len(histories) > 2 else histories, args.hidden)
    report(results)
    print(f"wrote {args.output_dir}/results.json, accuracy_vs_kept.png, "
          f"gates_over_training.png" + (f", {results['exported']}"
                                        if "exported" in results else ""))
    return results


if __name__ == "__main__":
    main()
