"""A vector-quantized autoencoder on the digits data, with and without the
diversity loss.

The encoder maps each 8x8 digit to `positions` feature vectors; a
`GumbelVectorQuantizer` (wav2vec 2.0's quantizer: G groups of V codevectors,
straight-through Gumbel-Softmax, temperature annealed 2 -> 0.5) replaces
each vector by one codevector per group; the decoder reconstructs the digit
from the codes alone. The script trains the same model twice, with
`diversity_weight=0` and with wav2vec 2.0's `0.1`, and reports for each run:

- codebook usage: the perplexity of the codes on the test set (inference,
  argmax codes), out of the maximum G * V, and the number of codes used;
- the reconstruction error (mean squared error of pixels in [0, 1]);

and plots how often each code is used into `<output-dir>/code_usage.png`.
The data is scikit-learn's bundled digits (1797 images), so it runs offline,
in about a minute on 2 CPU cores.

Run from the repository root (writes under `outputs/vq_autoencoder/` unless
`--output-dir` says otherwise; `--help` lists every option):
  python -m examples.vq_autoencoder            # about a minute
  python -m examples.vq_autoencoder --smoke    # seconds
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this example as a module from the "
                     "repository root: python -m examples.vq_autoencoder")

import argparse
import json
import math
import os
import time

import keras
import numpy as np

from examples import cli
from keras_gumbel import callbacks, schedules
from keras_gumbel.layers import GumbelVectorQuantizer


def load_data(seed=0):
    """scikit-learn's 8x8 digits scaled to [0, 1]: (x_train, x_test)."""
    from sklearn.datasets import load_digits

    x = load_digits().data.astype("float32") / 16.0
    order = np.random.default_rng(seed).permutation(len(x))
    x = x[order]
    n_test = len(x) // 5
    return x[n_test:], x[:n_test]


def build_model(args, diversity_weight):
    """Encoder, `GumbelVectorQuantizer` and decoder, compiled (MSE, Adam)."""
    inputs = keras.Input((64,))
    h = keras.layers.Dense(128, activation="relu")(inputs)
    h = keras.layers.Dense(args.positions * args.features)(h)
    h = keras.layers.Reshape((args.positions, args.features))(h)
    quantized, perplexity = GumbelVectorQuantizer(
        num_groups=args.groups, num_vars=args.vars,
        codevector_dim=args.codevector_dim, temperature=2.0,
        diversity_weight=diversity_weight, return_perplexity=True,
        seed=args.seed, name="quantizer")(h)
    h = keras.layers.Flatten()(quantized)
    h = keras.layers.Dense(128, activation="relu")(h)
    outputs = keras.layers.Dense(64, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                  loss="mse")
    return model


def code_indices(model, x):
    """The inference code of each position and group, [N, positions, G]
    (`GumbelVectorQuantizer.code_indices` of the features it quantizes)."""
    quantizer = model.get_layer("quantizer")
    encoder = keras.Model(model.inputs,
                          quantizer.input)  # the features it quantizes
    features = encoder.predict(x, verbose=0, batch_size=256)
    return keras.ops.convert_to_numpy(quantizer.code_indices(features))


def group_perplexity(counts):
    """`exp(entropy)` of one group's code counts: 1 to the group's size."""
    p = np.asarray(counts, dtype=float)
    p = p[p > 0] / p.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def perplexity_of(indices, num_groups, num_vars):
    """The quantizer's inference perplexity, from the argmax codes."""
    return sum(group_perplexity(np.bincount(indices[..., g].reshape(-1),
                                            minlength=num_vars))
               for g in range(num_groups))


def train_once(args, x_train, x_test, diversity_weight):
    """Trains one model; returns its test perplexity, usage and error."""
    keras.utils.set_random_seed(args.seed)
    model = build_model(args, diversity_weight)
    steps = args.epochs * math.ceil(len(x_train) / args.batch_size)
    # wav2vec 2.0 anneals max(2 * 0.999995**step, 0.5) over 400k steps;
    # this short run reaches the floor of 0.5 after 60% of its steps.
    schedule = schedules.ExponentialDecay(
        initial=2.0, rate=math.log(4.0) / max(1, int(0.6 * steps)),
        minimum=0.5)
    start = time.perf_counter()
    model.fit(x_train, x_train, batch_size=args.batch_size,
              epochs=args.epochs, verbose=args.verbose, shuffle=True,
              callbacks=[callbacks.TemperatureScheduler(schedule)])
    seconds = time.perf_counter() - start
    reconstruction = model.predict(x_test, verbose=0, batch_size=256)
    indices = code_indices(model, x_test)
    size = args.groups * args.vars
    return {
        "diversity_weight": diversity_weight,
        "codebook_size": size,
        "perplexity": perplexity_of(indices, args.groups, args.vars),
        "codes_used": int(sum(len(np.unique(indices[..., g]))
                              for g in range(args.groups))),
        "reconstruction_mse": float(np.mean((reconstruction - x_test) ** 2)),
        "final_temperature": schedule(steps - 1),
        "train_seconds": seconds,
        "counts": [np.bincount(indices[..., g].reshape(-1),
                               minlength=args.vars).tolist()
                   for g in range(args.groups)],
    }


def plot_usage(results, args, path):
    """Writes `usage_figure(results, args)` to `path`."""
    usage_figure(results, args).savefig(path, dpi=100)


def usage_figure(results, args):
    """One bar chart per run and group: the share of each code.

    Each panel says the group's own perplexity out of its `V = --vars`
    codes; the title gives each run's total over the `G` groups (out of
    `G * V`), the number `perplexity` of `results.json`.

    Returns:
      A `matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state

    runs = list(results.items())
    fig = Figure(figsize=(max(8, 4 * args.groups), 2.8 * len(runs) + 0.6))
    axes = fig.subplots(len(runs), args.groups, squeeze=False)
    for row, (name, run) in enumerate(runs):
        for g, counts in enumerate(run["counts"]):
            ax = axes[row, g]
            counts = np.asarray(counts, dtype=float)
            ax.bar(np.arange(args.vars), counts / counts.sum())
            ax.set_xticks(range(0, args.vars, max(1, args.vars // 8)))
            ax.set_title(f"{name}, group {g}: perplexity "
                         f"{group_perplexity(counts):.1f} of {args.vars}",
                         fontsize=9)
            ax.set_xlabel("code")
            ax.set_ylabel("share of test positions")
    totals = "; ".join(f"{name} {run['perplexity']:.1f}"
                       for name, run in runs)
    fig.suptitle(f"Code usage on the test set (argmax codes), {args.groups} "
                 f"groups of {args.vars} codes\nperplexity summed over the "
                 f"groups, of {args.groups * args.vars}: {totals}",
                 fontsize=10)
    fig.tight_layout()
    return fig


def build_parser():
    """The example's `argparse.ArgumentParser`, every option with help."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.vq_autoencoder",
        description=__doc__.split("\n\n")[0].replace("\n", " "))
    add = parser.add_argument
    cli.add_output_dir(parser, "vq_autoencoder",
                       "code_usage.png and results.json")
    add("--epochs", type=cli.positive_int, default=40,
        help="training epochs of each run (40)")
    add("--batch-size", type=cli.positive_int, default=32,
        help="batch size (32)")
    add("--learning-rate", type=cli.positive_float, default=2e-3,
        help="Adam learning rate (2e-3)")
    add("--positions", type=cli.positive_int, default=4,
        help="feature vectors the encoder makes of each image (4)")
    add("--features", type=cli.positive_int, default=32,
        help="size of each feature vector (32)")
    add("--groups", type=cli.positive_int, default=2,
        help="G, codebook groups of the quantizer (2)")
    add("--vars", type=cli.int_at_least_2, default=16,
        help="V, codevectors in each group (16)")
    add("--codevector-dim", type=cli.positive_int, default=16,
        help="size of the concatenated codevector; divisible by --groups "
        "(16)")
    add("--diversity-weight", type=cli.non_negative_float, default=0.1,
        help="weight of the diversity loss in the second run (0.1, "
        "wav2vec 2.0's)")
    add("--seed", type=int, default=0,
        help="seed of the data split, weights and noise (0)")
    add("--verbose", type=int, choices=(0, 1, 2), default=0,
        help="Keras fit verbosity (0: silent)")
    add("--smoke", action="store_true",
        help="a few-second run (1 epoch, 256 images)")
    return parser


def parse_args(argv=None):
    """Parses the command line; argparse exits with status 2 on errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.codevector_dim % args.groups:
        parser.error(f"--codevector-dim {args.codevector_dim} is not "
                     f"divisible by --groups {args.groups}")
    return args


def main(argv=None):
    """Trains both runs, prints and returns the results (a dict)."""
    args = parse_args(argv)
    cli.require_modules("matplotlib", "sklearn")
    x_train, x_test = load_data(args.seed)
    if args.smoke:
        args.epochs = 1
        x_train, x_test = x_train[:256], x_test[:128]
    cli.prepare_output_dir(args.output_dir)
    results = {}
    for name, weight in (("no diversity loss", 0.0),
                         (f"diversity loss {args.diversity_weight:g}",
                          args.diversity_weight)):
        results[name] = run = train_once(args, x_train, x_test, weight)
        print(f"{name:>22}: perplexity {run['perplexity']:6.2f} of "
              f"{run['codebook_size']} ({run['codes_used']} codes used), "
              f"reconstruction MSE {run['reconstruction_mse']:.4f}, "
              f"{run['train_seconds']:.0f} s")
    plot_usage(results, args, os.path.join(args.output_dir, "code_usage.png"))
    with open(os.path.join(args.output_dir, "results.json"), "w") as f:
        json.dump({"backend": keras.backend.backend(), "args": vars(args),
                   "results": results}, f, indent=1)
    print(f"wrote {args.output_dir}/: code_usage.png, results.json")
    return results


if __name__ == "__main__":
    main()
