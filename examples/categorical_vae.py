"""Categorical VAE (Jang et al. 2017): train, anneal, plot, export, serve.

Trains a VAE with N categorical latent variables of K categories through a
`keras_gumbel.layers.GumbelSoftmax` layer with `model.fit`, annealing the
temperature with `keras_gumbel.callbacks.TemperatureScheduler` and the
paper's schedule `tau = max(0.5, exp(-r t))` updated every N steps
(`keras_gumbel.schedules.ExponentialDecay`). Then writes to `--output-dir`:

- `reconstructions.png`, `prior_samples.png`, `curves.png`;
- `metrics.json`: train/valid/test negative ELBO, temperature, epochs, time,
  settings and the per-epoch history;
- `encoder/` (images -> one-hot codes, `inference_mode="argmax"`) and
  `decoder/` (codes -> Bernoulli probabilities), two SavedModels, which are
  reloaded with `tf.saved_model.load` and served a validation batch.

Data: scikit-learn's 8x8 digits by default (offline), or binarized MNIST
with `--data-dir` (see `binarized_mnist.py`).

Run:
  python examples/categorical_vae.py                  # digits, about 1 min
  python examples/categorical_vae.py --hard           # ST Gumbel-Softmax
  python examples/categorical_vae.py --data-dir DIR --epochs 50
  python examples/categorical_vae.py --smoke          # seconds, for CI
"""

import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import binarized_mnist  # noqa: E402  (the examples folder is not a package)

ESTIMATORS = ("straight_through", "gumbel_rao", "reinmax")

# Defaults for a full run, and for --smoke; an option given explicitly wins.
DEFAULTS = dict(latent_vars=20, categories=10, hidden=(512, 256), epochs=200,
                batch_size=32, learning_rate=1e-3, initial_temperature=1.0,
                anneal_rate=1e-4, anneal_every=500, min_temperature=0.5,
                max_examples=None)
SMOKE = dict(latent_vars=4, categories=5, hidden=(32, 16), epochs=2,
             batch_size=64, anneal_rate=0.05, anneal_every=1,
             max_examples=256)


def _number(kind, low, inclusive, what):
    """An argparse `type`: finite `kind` numbers >= `low` (> if exclusive)."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (
                value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return convert


positive_int = _number(int, 1, True, "a positive integer")
positive_float = _number(float, 0.0, False, "a positive number")
non_negative_float = _number(float, 0.0, True, "a non-negative number")


def hidden_sizes(text):
    """Parses `--hidden 512,256`."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, got {text!r}")
    return sizes


def parse_args(argv=None):
    """Parses the command line; argparse exits with status 2 on errors."""
    parser = argparse.ArgumentParser(
        description="Train a categorical VAE with Gumbel-Softmax latents.")
    add = parser.add_argument
    add("--data-dir", help="folder with binarized_mnist.npz or the "
        "binarized_mnist_{train,valid,test}.amat files (default: "
        "scikit-learn's 8x8 digits, binarized by pixel > 7)")
    add("--latent-vars", type=positive_int, help="N latent variables (20)")
    add("--categories", type=_number(int, 2, True, "an integer >= 2"),
        help="K categories per variable (10)")
    add("--hidden", type=hidden_sizes,
        help="encoder hidden sizes, decoder mirrored (512,256)")
    add("--hard", action="store_true",
        help="exact one-hot samples with the --estimator gradient")
    add("--estimator", choices=ESTIMATORS, default="straight_through",
        help="gradient estimator with --hard (straight_through)")
    add("--estimator-samples", type=positive_int, default=1,
        help="conditional samples for gumbel_rao (1)")
    add("--epochs", type=positive_int, help="training epochs (200)")
    add("--batch-size", type=positive_int, help="batch size (32)")
    add("--learning-rate", type=positive_float, help="Adam (1e-3)")
    add("--seed", type=int, default=0, help="seed of data split, weights "
        "and noise (0)")
    add("--initial-temperature", type=positive_float, help="tau at step 0 (1)")
    add("--anneal-rate", type=non_negative_float,
        help="r in tau = max(min, initial * exp(-r t)) (1e-4)")
    add("--anneal-every", type=positive_int,
        help="update tau every this many steps (500)")
    add("--min-temperature", type=positive_float, help="tau floor (0.5)")
    add("--max-examples", type=positive_int,
        help="use at most this many examples of each split (all)")
    add("--output-dir", default=os.path.join("outputs", "categorical_vae"),
        help="where plots, metrics.json and SavedModels go "
        "(outputs/categorical_vae)")
    add("--smoke", action="store_true", help="tiny model, 2 epochs, 256 "
        "examples: a quick end-to-end check (options given still apply)")
    add("--verbose", type=int, choices=(0, 1, 2), default=1,
        help="Keras fit verbosity (1: progress bar)")
    args = parser.parse_args(argv)
    if args.estimator != "straight_through" and not args.hard:
        parser.error("--estimator applies to hard samples; add --hard")
    for name, value in {**DEFAULTS, **(SMOKE if args.smoke else {})}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.min_temperature > args.initial_temperature:
        parser.error(f"--min-temperature {args.min_temperature} is above "
                     f"--initial-temperature {args.initial_temperature}")
    return args


def load_data(args):
    """The train/valid/test splits the arguments ask for."""
    if args.data_dir is None:
        name, data = "digits", binarized_mnist.load_digits(args.seed)
    else:
        name = "binarized_mnist"
        data = binarized_mnist.load_binarized_mnist(args.data_dir)
    if args.max_examples:
        data = {s: a[:args.max_examples] for s, a in data.items()}
    return name, data


def prepare_output_dir(path):
    """Creates the output folder; a failure is a one-line `DataError`."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise binarized_mnist.DataError(
            f"cannot create output directory {path}: {err.strerror}") from None
    return path


def image_grid(images, side, columns):
    """Tiles `[n, side*side]` images into one array, `columns` per row."""
    rows = -(-len(images) // columns)
    grid = np.full((rows * (side + 1) - 1, columns * (side + 1) - 1), 0.3)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (side + 1):r * (side + 1) + side,
             c * (side + 1):c * (side + 1) + side] = image.reshape(side, side)
    return grid


def save_plots(encoder, decoder, valid, history, out_dir, seed):
    """Writes reconstructions.png, prior_samples.png and curves.png.

    `encoder` maps images to one-hot codes `[B, N, K]`, `decoder` maps codes
    to Bernoulli probabilities (the serving models).
    """
    from matplotlib.figure import Figure  # no pyplot: no global state

    side = math.isqrt(valid.shape[1])
    n = min(10, len(valid))
    codes = np.asarray(encoder(valid[:n]))
    recon = np.asarray(decoder(codes))
    latent_vars, k = codes.shape[1:]
    rng = np.random.default_rng(seed)
    prior = np.eye(k, dtype=np.float32)[
        rng.integers(0, k, size=(40, latent_vars))]
    samples = np.asarray(decoder(prior))

    paths = []
    fig = Figure(figsize=(n, 2.4))
    axes = fig.subplots(2, 1)
    for ax, images, title in ((axes[0], valid[:n], "validation images"),
                              (axes[1], recon, "reconstructions (argmax "
                               "codes, Bernoulli means)")):
        ax.imshow(image_grid(images, side, n), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    paths.append(_save(fig, out_dir, "reconstructions.png"))

    fig = Figure(figsize=(10, 4.4))
    ax = fig.subplots()
    ax.imshow(image_grid(samples, side, 10), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title("decoded samples from the uniform prior (Bernoulli means)",
                 fontsize=9)
    ax.axis("off")
    paths.append(_save(fig, out_dir, "prior_samples.png"))

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig = Figure(figsize=(10, 3.6))
    left, right = fig.subplots(1, 2)
    left.plot(epochs, history["loss"], label="train (training sample)")
    left.plot(epochs, history["val_loss"], label="valid (exact sample)")
    left.set_xlabel("epoch")
    left.set_ylabel("negative ELBO (nats)")
    left.legend()
    right.plot(epochs, history["temperature"], color="C3")
    right.set_xlabel("epoch")
    right.set_ylabel("temperature at epoch end")
    paths.append(_save(fig, out_dir, "curves.png"))
    return paths


def _save(fig, out_dir, name):
    """Saves `fig` as `out_dir/name` and returns the path."""
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def run(args, dataset, data, out_dir):
    """Trains, evaluates, plots, exports and checks serving; returns metrics."""
    import keras

    import vae_model

    keras.utils.set_random_seed(args.seed)
    vae = vae_model.build_vae(
        data["train"].shape[1], args.latent_vars, args.categories,
        args.hidden, hard=args.hard, estimator=args.estimator,
        estimator_samples=args.estimator_samples,
        temperature=args.initial_temperature, seed=args.seed)
    history, seconds = vae_model.train_vae(
        vae, data["train"], data["valid"], args.epochs, args.batch_size,
        args.learning_rate, args.initial_temperature, args.anneal_rate,
        args.anneal_every, args.min_temperature, verbose=args.verbose)
    history = {key: [float(v) for v in values]
               for key, values in history.history.items()}
    metrics = {
        "dataset": dataset,
        "estimator": (f"hard ({args.estimator})" if args.hard
                      else "relaxed (Gumbel-Softmax)"),
        **vae_model.evaluate_vae(vae, data),
        "epochs": len(history["loss"]),
        "train_seconds": round(seconds, 2),
        "examples": {s: int(len(a)) for s, a in data.items()},
        "settings": {k: (list(v) if isinstance(v, tuple) else v)
                     for k, v in sorted(vars(args).items())},
        "history": history,
    }
    if not all(math.isfinite(metrics[f"{s}_neg_elbo"])
               for s in binarized_mnist.SPLITS):
        raise RuntimeError("training diverged: the negative ELBO is not "
                           "finite")
    encoder, decoder = vae_model.serving_models(vae)
    metrics["plots"] = save_plots(encoder, decoder, data["valid"], history,
                                  out_dir, args.seed)
    encoder_path = os.path.join(out_dir, "encoder")
    decoder_path = os.path.join(out_dir, "decoder")
    encoder.export(encoder_path, verbose=False)
    decoder.export(decoder_path, verbose=False)
    metrics["saved_models"] = {"encoder": encoder_path,
                               "decoder": decoder_path}
    metrics["serving"] = vae_model.check_serving(
        vae, encoder_path, decoder_path, data["valid"][:100])
    with open(os.path.join(out_dir, "metrics.json"), "w") as handle:
        json.dump(metrics, handle, indent=2)
    return metrics


def one_line(err):
    """The gist of an exception message on one line.

    Keras wraps errors raised inside a layer's `call` in a message of several
    lines (a header, the original message in ANSI bold, the arguments); keep
    only the original message.
    """
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines()
    if lines and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
        lines = lines[:next((i for i, line in enumerate(lines)
                             if line.startswith("Arguments received")),
                            len(lines))]
    return " ".join(line.strip() for line in lines if line.strip())


def main(argv=None):
    """Runs the example; returns the process exit status."""
    start = time.perf_counter()
    args = parse_args(argv)
    try:
        dataset, data = load_data(args)
        out_dir = prepare_output_dir(args.output_dir)
    except binarized_mnist.DataError as err:
        print(f"categorical_vae.py: error: {err}", file=sys.stderr)
        return 2
    print(f"data: {dataset}, " + ", ".join(
        f"{s} {a.shape}" for s, a in data.items()))
    try:
        metrics = run(args, dataset, data, out_dir)
    except (RuntimeError, NotImplementedError) as err:
        print(f"categorical_vae.py: error: {one_line(err)}", file=sys.stderr)
        return 1
    serving = metrics["serving"]
    print(f"negative ELBO (nats, exact categorical samples): train "
          f"{metrics['train_neg_elbo']:.2f}, valid "
          f"{metrics['valid_neg_elbo']:.2f}, test "
          f"{metrics['test_neg_elbo']:.2f}; temperature "
          f"{metrics['temperature']:.3f} after {metrics['steps']} steps, "
          f"{metrics['train_seconds']:.0f} s of training")
    print(f"serving check OK: reloaded encoder maps {serving['batch']} "
          f"validation images to one-hot codes {serving['codes_shape']}, "
          f"reloaded decoder to probabilities in [0, 1] "
          f"{serving['probabilities_shape']}")
    print(f"wrote {out_dir}/: metrics.json, "
          + ", ".join(os.path.basename(p) for p in metrics["plots"])
          + f", encoder/, decoder/ ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
