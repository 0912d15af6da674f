"""Concrete autoencoder: unsupervised selection of k pixels (Abid et al. 2019).

A `ConcreteSelect` layer picks `k` of the `d` input pixels; an MLP decoder
reconstructs all `d` pixels from them. The selector's temperature is annealed
exponentially from 10 to 0.01 over training with `TemperatureScheduler` and
`schedules.ExponentialDecay`, as in the paper; at the end every selector row
is one-hot and the layer outputs exactly `x[:, selected_indices()]`.

The selection is then compared with two baselines, `k` random pixels and the
`k` pixels of highest variance, on held-out data:

- reconstruction: mean squared error of all pixels from the `k` selected
  ones, by the trained decoder (concrete autoencoder only) and by a ridge
  regression fitted on the training split (all three selections);
- classification: accuracy of an ExtraTrees classifier trained on the `k`
  selected pixels (when the data has labels).

Data: scikit-learn's 8x8 digits by default (1797 grayscale images scaled to
[0, 1], with labels, offline); `--data-dir` takes the binarized MNIST of the
VAE example (`binarized_mnist.npz`, keys train/valid/test, uint8 (N, 784),
no labels: reconstruction only).

Usage, from the repository root:
  python -m examples.concrete_autoencoder                  # digits, k = 16
  python -m examples.concrete_autoencoder --smoke          # a few seconds
  python -m examples.concrete_autoencoder --data-dir DIR --k 50

Writes `results.json`, `selected_pixels.png` and `reconstructions.png` into
`--output-dir` (default `outputs/concrete_autoencoder/`).
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this example as a module from the "
                     "repository root: python -m examples.concrete_autoencoder")

import argparse
import json
import math
import os
import time

import keras
import numpy as np

import keras_gumbel as kg
from examples import cli

HIDDEN = 320  # the paper's decoder width for MNIST
SELECTION_TITLES = {"concrete": "concrete autoencoder",
                    "random": "random pixels",
                    "variance": "highest variance"}


def load_digits_data(seed):
    """8x8 digits in [0, 1], split 75/25: (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=seed,
        stratify=digits.target)
    return x_train, y_train, x_test, y_test


def load_mnist_data(data_dir):
    """Binarized MNIST from `data_dir` (a folder, the .npz or the .amat files).

    Train on train + valid (60000 images), test on test (10000). No labels.
    Read with `keras_gumbel.datasets.load_binarized_mnist`; a bad path or
    file is a one-line `DataError` that names `--data-dir`.
    """
    _, data = cli.load_splits(data_dir)
    x_train = np.concatenate([data["train"], data["valid"]])
    return x_train, None, data["test"], None


def load_data(args):
    """The data and the settings that depend on it, smoke-sized if asked.

    Returns:
      `(splits, settings)`: `splits` holds `x_train`, `y_train`, `x_test`,
      `y_test` (the labels None for MNIST), `settings` the data's name, image
      `shape`, and `k`, `epochs`, `batch_size`, `trees` (the options given,
      else the data's defaults).
    """
    mnist = args.data_dir is not None
    arrays = (load_mnist_data(args.data_dir) if mnist
              else load_digits_data(args.seed))
    splits = dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays))
    settings = {
        "data": "binarized MNIST" if mnist else "scikit-learn digits 8x8",
        "shape": (28, 28) if mnist else (8, 8),
        "k": args.k or (50 if mnist else 16),
        "epochs": args.epochs or (20 if mnist else 300),
        "batch_size": args.batch_size or (256 if mnist else 64),
        "trees": args.trees,
    }
    if args.smoke:
        splits = {name: None if a is None else a[:512 if "train" in name
                                                 else 256]
                  for name, a in splits.items()}
        settings.update(epochs=2, trees=10)
    return splits, settings


def build_model(d, k, seed):
    """`ConcreteSelect(k)` and the MLP decoder; returns (model, selector)."""
    selector = kg.layers.ConcreteSelect(k, temperature=10.0, seed=seed,
                                        name="select")
    model = keras.Sequential([
        keras.Input((d,)),
        selector,
        keras.layers.Dense(HIDDEN),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Dense(HIDDEN),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Dense(d, activation="sigmoid"),
    ])
    return model, selector


def train(x_train, k, epochs, batch_size, lr, seed, verbose):
    """Fits the concrete autoencoder; returns (model, selector, seconds)."""
    keras.utils.set_random_seed(seed)
    model, selector = build_model(x_train.shape[1], k, seed)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse")
    steps = epochs * math.ceil(len(x_train) / batch_size)
    # 10 -> 0.01 over all training steps: tau(t) = 10 * exp(-rate * t).
    schedule = kg.schedules.ExponentialDecay(
        initial=10.0, rate=math.log(10.0 / 0.01) / max(steps - 1, 1),
        minimum=0.01)
    start = time.perf_counter()
    model.fit(x_train, x_train, batch_size=batch_size, epochs=epochs,
              verbose=verbose, shuffle=True,
              callbacks=[kg.callbacks.TemperatureScheduler(schedule)])
    return model, selector, time.perf_counter() - start


def ridge_mse(x_train, x_test, index, alpha=1e-3):
    """Test MSE of all pixels reconstructed linearly from `index` pixels."""
    from sklearn.linear_model import Ridge

    index = np.unique(index)  # a duplicate pick adds no information
    ridge = Ridge(alpha=alpha).fit(x_train[:, index], x_train)
    return float(np.mean((ridge.predict(x_test[:, index]) - x_test) ** 2))


def extra_trees_accuracy(x_train, y_train, x_test, y_test, index, trees,
                         seed):
    """Test accuracy of an ExtraTrees classifier on the `index` pixels."""
    from sklearn.ensemble import ExtraTreesClassifier

    forest = ExtraTreesClassifier(n_estimators=trees, random_state=seed,
                                  n_jobs=1)
    forest.fit(x_train[:, index], y_train)
    return float(forest.score(x_test[:, index], y_test))


def plot_selections(output_dir, shape, x_test, selections):
    """Writes `selection_figure(...)` as `selected_pixels.png`."""
    path = os.path.join(output_dir, "selected_pixels.png")
    selection_figure(shape, x_test, selections).savefig(path, dpi=100)
    return path


def selection_figure(shape, x_test, selections):
    """Each selection's pixels (red) over the mean test image, one panel each.

    Returns:
      A `matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state

    mean = x_test.mean(0).reshape(shape)
    fig = Figure(figsize=(3.2 * len(selections), 3.6))
    k = len(next(iter(selections.values())))
    fig.suptitle(f"k = {k} selected pixels (red) over the mean test image",
                 fontsize=11)
    axes = fig.subplots(1, len(selections))
    for ax, (name, index) in zip(axes, selections.items()):
        ax.imshow(mean, cmap="gray")
        rows, cols = np.unravel_index(index, shape)
        ax.scatter(cols, rows, s=900 / shape[0], c="red", marker="s",
                   alpha=0.8)
        ax.set_title(f"{SELECTION_TITLES[name]}: "
                     f"{len(np.unique(index))} distinct", fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_reconstructions(output_dir, shape, x_test, reconstructions):
    """`reconstructions.png`: test images over their decoder outputs."""
    from matplotlib.figure import Figure

    count = min(10, len(x_test))
    fig = Figure(figsize=(1.2 * count, 2.8))
    axes = fig.subplots(2, count, squeeze=False)
    for i in range(count):
        for row, images in enumerate((x_test, reconstructions)):
            axes[row, i].imshow(images[i].reshape(shape), cmap="gray",
                                vmin=0, vmax=1)
            axes[row, i].axis("off")
    axes[0, 0].set_title("test images", loc="left", fontsize=9)
    axes[1, 0].set_title("decoded from the selected pixels", loc="left",
                         fontsize=9)
    fig.tight_layout()
    path = os.path.join(output_dir, "reconstructions.png")
    fig.savefig(path, dpi=100)
    return path


def build_parser():
    """The example's `argparse.ArgumentParser`, every option with help."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.concrete_autoencoder",
        description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--k", type=cli.positive_int, default=None,
        help="pixels to select (default 16 for digits, 50 for MNIST)")
    add("--epochs", type=cli.positive_int, default=None,
        help="default 300 for digits, 20 for MNIST")
    add("--batch-size", type=cli.positive_int, default=None,
        help="default 64 for digits, 256 for MNIST")
    add("--data-dir", default=None,
        help="binarized MNIST: the binarized_mnist.npz file or a folder with "
        "it (or with the .amat files); default: scikit-learn digits")
    cli.add_output_dir(parser, "concrete_autoencoder",
                       "results.json, selected_pixels.png and "
                       "reconstructions.png")
    add("--lr", type=cli.positive_float, default=3e-3,
        help="Adam learning rate (3e-3; the paper: 1e-3 over many more "
        "steps)")
    add("--trees", type=cli.positive_int, default=100,
        help="ExtraTrees size (100)")
    add("--seed", type=int, default=0,
        help="seed of the split, weights, noise and baselines (0)")
    add("--smoke", action="store_true",
        help="a few-second run (tiny data and training)")
    return parser


def compare(splits, k, selector, seed, trees):
    """The three selections and their ridge MSE and ExtraTrees accuracy.

    Returns:
      `(selections, scores)`: `{name: sorted pixel indices}` and the
      `ridge_test_mse` and `extra_trees_accuracy` entries of results.json.
    """
    x_train, y_train = splits["x_train"], splits["y_train"]
    x_test, y_test = splits["x_test"], splits["y_test"]
    d = x_train.shape[1]
    rng = np.random.default_rng(seed)
    selections = {
        "concrete": selector.selected_indices(),
        "random": np.sort(rng.choice(d, size=k, replace=False)),
        "variance": np.sort(np.argsort(-x_train.var(0), kind="stable")[:k]),
    }
    ridge = {name: ridge_mse(x_train, x_test, index)
             for name, index in selections.items()}
    if y_train is None:
        return selections, {"ridge_test_mse": ridge, "extra_trees_accuracy":
                            "no labels in this data set: reconstruction only"}
    accuracy = {name: extra_trees_accuracy(x_train, y_train, x_test, y_test,
                                           index, trees, seed)
                for name, index in {**selections,
                                    "all pixels": np.arange(d)}.items()}
    return selections, {"ridge_test_mse": ridge,
                        "extra_trees_accuracy": accuracy}


def print_results(results, output_dir):
    """The summary lines and the table of the three selections."""
    accuracy = results["extra_trees_accuracy"]
    labels = isinstance(accuracy, dict)
    print(f"{results['data']}: k={results['k']}, {results['epochs']} epochs "
          f"in {results['train_seconds']:.1f} s, "
          f"{results['distinct_selected']} distinct pixels selected")
    print(f"decoder test MSE (concrete autoencoder): "
          f"{results['decoder_test_mse']:.4f}")
    print(f"{'selection':<12}{'ridge MSE':>12}{'ExtraTrees acc':>16}")
    for name, mse in results["ridge_test_mse"].items():
        shown = f"{accuracy[name]:.3f}" if labels else "-"
        print(f"{name:<12}{mse:>12.4f}{shown:>16}")
    if labels:
        print(f"(all {results['pixels']} pixels: ExtraTrees accuracy "
              f"{accuracy['all pixels']:.3f})")
    print(f"wrote {output_dir}/: results.json, selected_pixels.png, "
          f"reconstructions.png")


def main(argv=None):
    """Trains, compares, writes and prints; returns the results (a dict)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cli.require_modules("matplotlib", "sklearn")
        splits, settings = load_data(args)
        output_dir = cli.prepare_output_dir(args.output_dir)
    except (ImportError, ValueError) as err:
        parser.exit(2, f"{parser.prog}: error: {cli.one_line(err)}\n")
    x_train, x_test = splits["x_train"], splits["x_test"]
    d, k = x_train.shape[1], settings["k"]
    if k > d:
        parser.error(f"--k must be in [1, {d}]; got {k}")
    model, selector, seconds = train(
        x_train, k, settings["epochs"], settings["batch_size"], args.lr,
        args.seed, verbose=0 if args.smoke else 2)
    reconstructions = model.predict(x_test, batch_size=1024, verbose=0)
    selections, scores = compare(splits, k, selector, args.seed,
                                 settings["trees"])
    results = {
        "data": settings["data"], "k": k, "epochs": settings["epochs"],
        "batch_size": settings["batch_size"], "lr": args.lr,
        "train_size": len(x_train), "test_size": len(x_test), "pixels": d,
        "train_seconds": round(seconds, 1),
        "final_temperature": float(keras.ops.convert_to_numpy(
            selector.temperature)),
        "distinct_selected": int(len(set(selections["concrete"].tolist()))),
        "decoder_test_mse": float(np.mean((reconstructions - x_test) ** 2)),
        "selected": {name: index.tolist()
                     for name, index in selections.items()},
        **scores,
    }
    with open(os.path.join(output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    plot_selections(output_dir, settings["shape"], x_test, selections)
    plot_reconstructions(output_dir, settings["shape"], x_test,
                         reconstructions)
    print_results(results, output_dir)
    return results


if __name__ == "__main__":
    main()
