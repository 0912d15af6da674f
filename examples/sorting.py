"""Learning to sort numbers, and to unscramble digit jigsaws, with Gumbel-Sinkhorn.

Sorting (Mena et al. 2018, section 5.1): `N` numbers drawn from U(0, 1). A
small network scores each number against each position, with the same
weights for every number (`Dense(32, relu) -> Dense(N)` applied to each
number alone, as in the reference code google/gumbel_sinkhorn), giving
scores `[N, N]`; a `GumbelSinkhorn` layer turns them into a soft permutation
`P` (rows: numbers, columns: positions). The loss is the squared error
between `P^T x` and the sorted numbers. At test time the layer returns the
exact matching (`inference_mode="matching"`, in the graph), and the paper's
three metrics are reported on 1000 fresh sequences: the proportion of
numbers placed wrongly, the proportion of sequences with any error, and
Kendall's tau between the predicted and the true order.

Jigsaw (a smaller second task): scikit-learn's 8x8 digits cut into a
`grid x grid` puzzle (2x2 pieces of 4x4 pixels by default), shuffled; a
network scores each piece against each place (one shared MLP per piece),
`GumbelSinkhorn` puts the pieces back, the loss is the squared error of the
reassembled image. Reported: the proportion of pieces placed right and of
puzzles solved entirely, on held-out digits.

Training budget: `--steps` Adam steps (learning rate `--lr`) of batch
`--batch-size` per size, temperature 1, 10 Sinkhorn iterations, noise
factor 1 (the reference code's defaults). The default run sorts N in
{5, 10, 15} with 500 steps each and trains the jigsaw for 500 steps
(10 minutes on a shared 2-core machine at load 20, JAX); `--sizes
5,10,15,80,100,120` runs the paper's sizes.

The values of the paper's Table 1 are not printed next to ours: we could not
obtain the paper's table text when writing this example (see
docs/permutations.md).

Usage:
  python -m examples.sorting                        # N = 5, 10, 15 + jigsaw
  python -m examples.sorting --sizes 5,10,15,80,100,120 --steps 2000
  python -m examples.sorting --smoke                # seconds

Writes `results.json` and `permutation.png` (a learned soft permutation
next to the true one) into `--output-dir` (default `outputs/sorting`).
"""

import argparse
import json
import os
import time

import keras
import numpy as np
from scipy import stats

from keras_gumbel.layers import GumbelSinkhorn


def sorting_model(n, units=32, n_iters=10, seed=0):
    """Numbers `[B, n, 1]` -> permutation `[B, n, n]` (numbers x places)."""
    inputs = keras.Input((n, 1))
    hidden = keras.layers.Dense(units, activation="relu")(inputs)
    scores = keras.layers.Dense(n)(hidden)
    perm = GumbelSinkhorn(temperature=1.0, n_iters=n_iters, seed=seed,
                          inference_mode="matching", name="sinkhorn")(scores)
    return keras.Model(inputs, perm)


def reorder(perm, items):
    """`P^T items`: item i goes to the place where row i of P puts it."""
    return keras.ops.matmul(keras.ops.transpose(perm, (0, 2, 1)), items)


def train(perm_model, features, items, targets, steps, batch_size, lr):
    """Fits `reorder(perm_model(features), items)` to `targets` (MSE)."""
    f_in = keras.Input(features.shape[1:])
    i_in = keras.Input(items.shape[1:])
    trainer = keras.Model([f_in, i_in], reorder(perm_model(f_in), i_in))
    trainer.compile(keras.optimizers.Adam(lr), "mse")
    epochs = max(1, steps * batch_size // len(features))
    history = trainer.fit([features, items], targets, batch_size=batch_size,
                          epochs=epochs, verbose=0)
    return history.history["loss"][-1]


def sorting_metrics(x, perm):
    """The paper's metrics from the numbers and the predicted matchings."""
    predicted = np.argmax(perm, axis=-1)  # the place of each number
    true = np.argsort(np.argsort(x, axis=-1), axis=-1)
    wrong = predicted != true
    taus = [stats.kendalltau(p, t)[0] for p, t in zip(predicted, true)]
    return {"prop_wrong": float(wrong.mean()),
            "prop_any_wrong": float(wrong.any(-1).mean()),
            "kendall_tau": float(np.mean(taus))}


def run_sorting(n, args, rng):
    x = rng.random((args.steps * args.batch_size, n, 1)).astype("float32")
    model = sorting_model(n, seed=args.seed)
    start = time.time()
    loss = train(model, x, x, np.sort(x, axis=1), args.steps,
                 args.batch_size, args.lr)
    test = rng.random((args.test_size, n, 1)).astype("float32")
    perm = keras.ops.convert_to_numpy(model.predict(test, verbose=0))
    result = {"n": n, "train_loss": float(loss),
              "train_seconds": round(time.time() - start, 1),
              **sorting_metrics(test[..., 0], perm)}
    soft = model.get_layer("sinkhorn")
    soft.inference_mode = "sinkhorn"
    example = keras.ops.convert_to_numpy(model(test[:1]))[0]
    soft.inference_mode = "matching"
    return result, example, test[0, :, 0]


def jigsaw_data(grid, rng, size=None):
    """Digits cut into `grid x grid` pieces: (pieces, order), shuffled."""
    from sklearn.datasets import load_digits

    images = load_digits().images.astype("float32") / 16.0
    if size is not None:
        images = images[:size]
    side = 8 // grid
    pieces = images.reshape(-1, grid, side, grid, side).transpose(
        0, 1, 3, 2, 4).reshape(len(images), grid * grid, side * side)
    order = np.stack([rng.permutation(grid * grid) for _ in images])
    shuffled = np.take_along_axis(pieces, order[..., None], axis=1)
    return shuffled, pieces, order


def run_jigsaw(args, rng):
    shuffled, pieces, order = jigsaw_data(
        args.grid, rng, 300 if args.smoke else None)
    split = int(0.8 * len(shuffled))
    n = args.grid ** 2
    inputs = keras.Input(shuffled.shape[1:])
    hidden = keras.layers.Dense(64, activation="relu")(inputs)
    perm = GumbelSinkhorn(temperature=1.0, n_iters=10, seed=args.seed,
                          name="sinkhorn")(keras.layers.Dense(n)(hidden))
    model = keras.Model(inputs, perm)
    reps = max(1, args.steps * args.batch_size // split)
    loss = train(model, np.tile(shuffled[:split], (reps, 1, 1)),
                 np.tile(shuffled[:split], (reps, 1, 1)),
                 np.tile(pieces[:split], (reps, 1, 1)),
                 args.steps, args.batch_size, args.lr)
    predicted = np.argmax(keras.ops.convert_to_numpy(
        model.predict(shuffled[split:], verbose=0)), axis=-1)
    right = predicted == order[split:]
    return {"grid": args.grid, "train_loss": float(loss),
            "prop_pieces_right": float(right.mean()),
            "prop_solved": float(right.all(-1).mean())}


def plot(output_dir, soft, x):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    true = np.eye(len(x))[np.argsort(np.argsort(x))]
    fig, axes = plt.subplots(1, 2, figsize=(8, 4))
    for ax, matrix, title in zip(axes, (soft, true),
                                 ("learned soft permutation", "true")):
        ax.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xlabel("place")
        ax.set_ylabel("number")
    fig.tight_layout()
    fig.savefig(os.path.join(output_dir, "permutation.png"), dpi=100)
    plt.close(fig)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text}")
    return value


def _sizes(text):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated ints >= 2, got {text!r}")
    return sizes


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m examples.sorting",
        description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=_sizes, default=[5, 10, 15],
                        help="comma-separated N, the numbers per sequence "
                        "(paper: 5,10,15,80,100,120)")
    parser.add_argument("--steps", type=_positive_int, default=500,
                        help="training steps per task and size")
    parser.add_argument("--batch-size", type=_positive_int, default=64,
                        help="sequences (or puzzles) per step")
    parser.add_argument("--lr", type=float, default=0.01,
                        help="Adam learning rate")
    parser.add_argument("--test-size", type=_positive_int, default=1000,
                        help="test sequences per size")
    parser.add_argument("--grid", type=int, choices=(2, 4), default=2,
                        help="jigsaw pieces per side of the 8x8 digits")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data, weights and noise")
    parser.add_argument("--smoke", action="store_true",
                        help="N = 5, 20 steps, 50 test sequences: seconds")
    parser.add_argument("--output-dir", default=os.path.join("outputs",
                                                             "sorting"),
                        help="where results.json and permutation.png go")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.steps, args.test_size = [5], 20, 50
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.output_dir, exist_ok=True)
    results = {"backend": keras.backend.backend(), "steps": args.steps,
               "batch_size": args.batch_size, "lr": args.lr, "sorting": []}
    print(f"{'N':>4} {'prop wrong':>11} {'prop any wrong':>15} "
          f"{'Kendall tau':>12} {'train s':>8}")
    for n in args.sizes:
        result, soft, x = run_sorting(n, args, rng)
        results["sorting"].append(result)
        print(f"{n:>4} {result['prop_wrong']:>11.3f} "
              f"{result['prop_any_wrong']:>15.3f} "
              f"{result['kendall_tau']:>12.3f} {result['train_seconds']:>8}")
    plot(args.output_dir, soft, x)
    results["jigsaw"] = run_jigsaw(args, rng)
    print(f"jigsaw {args.grid}x{args.grid}: "
          f"{results['jigsaw']['prop_pieces_right']:.3f} of pieces right, "
          f"{results['jigsaw']['prop_solved']:.3f} of puzzles solved")
    with open(os.path.join(args.output_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"wrote {args.output_dir}/results.json, permutation.png")


if __name__ == "__main__":
    main()
