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

Usage:
  python -m examples.concrete_autoencoder                  # digits, k = 16
  python -m examples.concrete_autoencoder --smoke          # a few seconds
  python -m examples.concrete_autoencoder --data-dir DIR --k 50

Writes `results.json`, `selected_pixels.png` and `reconstructions.png` into
`--output-dir`.
"""

import argparse
import json
import math
import os
import time

import numpy as np

HIDDEN = 320  # the paper's decoder width for MNIST


def load_digits_data(seed):
    """8x8 digits in [0, 1], split 75/25: (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=seed,
        stratify=digits.target)
    return x_train, y_train, x_test, y_test, (8, 8)


def load_mnist_data(data_dir):
    """Binarized MNIST from `data_dir` (a directory or the .npz itself).

    Train on train + valid (60000 images), test on test (10000). No labels.
    """
    path = data_dir
    if os.path.isdir(path):
        path = os.path.join(path, "binarized_mnist.npz")
    with np.load(path) as data:
        x_train = np.concatenate([data["train"], data["valid"]])
        x_test = data["test"]
    return (x_train.astype("float32"), None, x_test.astype("float32"), None,
            (28, 28))


def build_model(d, k, seed):
    import keras

    import keras_gumbel as kg

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
    import keras

    import keras_gumbel as kg

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
    from sklearn.ensemble import ExtraTreesClassifier

    forest = ExtraTreesClassifier(n_estimators=trees, random_state=seed,
                                  n_jobs=1)
    forest.fit(x_train[:, index], y_train)
    return float(forest.score(x_test[:, index], y_test))


def plot(output_dir, shape, x_test, reconstructions, selections):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mean = x_test.mean(0).reshape(shape)
    fig, axes = plt.subplots(1, len(selections),
                             figsize=(3 * len(selections), 3.2))
    for ax, (name, index) in zip(axes, selections.items()):
        ax.imshow(mean, cmap="gray")
        rows, cols = np.unravel_index(index, shape)
        ax.scatter(cols, rows, s=900 / shape[0], c="red", marker="s",
                   alpha=0.8)
        ax.set_title(f"{name} ({len(index)} px)")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "selected_pixels.png"), dpi=100)
    plt.close(fig)

    count = min(10, len(x_test))
    fig, axes = plt.subplots(2, count, figsize=(1.2 * count, 2.6))
    for i in range(count):
        for row, images in enumerate((x_test, reconstructions)):
            axes[row, i].imshow(images[i].reshape(shape), cmap="gray",
                                vmin=0, vmax=1)
            axes[row, i].axis("off")
    axes[0, 0].set_title("input", loc="left", fontsize=8)
    axes[1, 0].set_title("from the selected pixels", loc="left", fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "reconstructions.png"), dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=None,
                        help="pixels to select (default 16 for digits, 50 "
                        "for MNIST)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default 300 for digits, 20 for MNIST")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="default 64 for digits, 256 for MNIST")
    parser.add_argument("--data-dir", default=None,
                        help="directory holding binarized_mnist.npz (or the "
                        "file); default: scikit-learn digits")
    parser.add_argument("--output-dir", default="concrete_autoencoder_out")
    parser.add_argument("--lr", type=float, default=3e-3,
                        help="Adam learning rate (the paper: 1e-3 over many "
                        "more steps)")
    parser.add_argument("--trees", type=int, default=100,
                        help="ExtraTrees size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true",
                        help="a few-second run (tiny data and training)")
    args = parser.parse_args(argv)

    mnist = args.data_dir is not None
    if mnist:
        x_train, y_train, x_test, y_test, shape = load_mnist_data(
            args.data_dir)
    else:
        x_train, y_train, x_test, y_test, shape = load_digits_data(args.seed)
    k = args.k or (50 if mnist else 16)
    epochs = args.epochs or (20 if mnist else 300)
    batch_size = args.batch_size or (256 if mnist else 64)
    trees = args.trees
    if args.smoke:
        x_train, x_test = x_train[:512], x_test[:256]
        y_train = None if y_train is None else y_train[:512]
        y_test = None if y_test is None else y_test[:256]
        epochs, trees = 2, 10
    d = x_train.shape[1]
    if not 1 <= k <= d:
        parser.error(f"--k must be in [1, {d}]; got {k}")
    os.makedirs(args.output_dir, exist_ok=True)

    model, selector, seconds = train(x_train, k, epochs, batch_size,
                                     args.lr, args.seed, verbose=0 if args.smoke
                                     else 2)
    reconstructions = model.predict(x_test, batch_size=1024, verbose=0)
    rng = np.random.default_rng(args.seed)
    selections = {
        "concrete": selector.selected_indices(),
        "random": np.sort(rng.choice(d, size=k, replace=False)),
        "variance": np.sort(np.argsort(-x_train.var(0), kind="stable")[:k]),
    }
    results = {
        "data": "binarized MNIST" if mnist else "scikit-learn digits 8x8",
        "k": k, "epochs": epochs, "batch_size": batch_size, "lr": args.lr,
        "train_size": len(x_train), "test_size": len(x_test),
        "train_seconds": round(seconds, 1),
        "final_temperature": float(np.asarray(
            selector.temperature)),
        "distinct_selected": int(len(set(selections["concrete"].tolist()))),
        "decoder_test_mse": float(np.mean((reconstructions - x_test) ** 2)),
        "selected": {name: index.tolist()
                     for name, index in selections.items()},
        "ridge_test_mse": {}, "extra_trees_accuracy": {},
    }
    for name, index in selections.items():
        results["ridge_test_mse"][name] = ridge_mse(x_train, x_test, index)
        if y_train is not None:
            results["extra_trees_accuracy"][name] = extra_trees_accuracy(
                x_train, y_train, x_test, y_test, index, trees, args.seed)
    if y_train is not None:
        results["extra_trees_accuracy"]["all pixels"] = extra_trees_accuracy(
            x_train, y_train, x_test, y_test, np.arange(d), trees, args.seed)
    else:
        results["extra_trees_accuracy"] = ("no labels in this data set: "
                                           "reconstruction only")
    with open(os.path.join(args.output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    plot(args.output_dir, shape, x_test, reconstructions, selections)

    print(f"{results['data']}: k={k}, {epochs} epochs in {seconds:.1f} s, "
          f"{results['distinct_selected']} distinct pixels selected")
    print(f"decoder test MSE (concrete autoencoder): "
          f"{results['decoder_test_mse']:.4f}")
    print(f"{'selection':<12}{'ridge MSE':>12}{'ExtraTrees acc':>16}")
    for name in selections:
        accuracy = (results["extra_trees_accuracy"].get(name)
                    if y_train is not None else None)
        shown = "-" if accuracy is None else f"{accuracy:.3f}"
        print(f"{name:<12}{results['ridge_test_mse'][name]:>12.4f}"
              f"{shown:>16}")
    if y_train is not None:
        print(f"(all {d} pixels: ExtraTrees accuracy "
              f"{results['extra_trees_accuracy']['all pixels']:.3f})")
    print(f"wrote {args.output_dir}/results.json, selected_pixels.png, "
          f"reconstructions.png")
    return results


if __name__ == "__main__":
    main()
