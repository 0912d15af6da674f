"""Categorical VAE (Jang et al. 2017): train, anneal, log, plot, export.

Trains a VAE with N categorical latent variables of K categories through a
`keras_gumbel.layers.GumbelSoftmax` layer with `model.fit`, annealing the
temperature with `keras_gumbel.callbacks.TemperatureScheduler` and the
paper's schedule `tau = max(0.5, exp(-r t))` updated every N steps
(`keras_gumbel.schedules.ExponentialDecay`). Then writes to `--output-dir`:

- `logs/`: TensorBoard logs (`tensorboard --logdir <output-dir>/logs`):
  training and validation negative ELBO (`epoch_loss`), its
  `epoch_reconstruction` and `epoch_kl` terms, `epoch_temperature`, and
  validation images over their reconstructions (`reconstructions`);
- `reconstructions.png`, `prior_samples.png`, `curves.png`;
- `metrics.json`: train/valid/test negative ELBO, temperature, estimator,
  epochs, time, settings, the per-epoch history and the environment the
  numbers depend on (library versions, CPU, oneDNN variables);
- `encoder/` (`images` -> one-hot `codes`, `inference_mode="argmax"`) and
  `decoder/` (`codes` -> Bernoulli `probabilities`), two SavedModels, which
  are reloaded with `tf.saved_model.load` and served a validation batch.

The model code is backend-neutral (`keras.ops`); the TensorBoard logs and the
SavedModels need TensorFlow and are skipped with a note without it.

Data: scikit-learn's 8x8 digits by default (offline), or binarized MNIST
with `--data-dir` (a folder or the `.npz` file; see `keras_gumbel.datasets`).

Run from the repository root:
  python -m examples.categorical_vae                  # digits, 200 epochs
  python -m examples.categorical_vae --hard           # ST Gumbel-Softmax
  python -m examples.categorical_vae --data-dir DIR --epochs 50
  python -m examples.categorical_vae --smoke          # seconds, for CI
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this example as a module from the "
                     "repository root: python -m examples.categorical_vae")

import argparse
import json
import math
import os
import sys
import time

import keras

from examples import (cli, determinism, exporting, plotting, training,
                      vae_model)

ESTIMATORS = ("straight_through", "gumbel_rao", "reinmax")

# Defaults for a full run, and for --smoke; an option given explicitly wins.
DEFAULTS = dict(latent_vars=20, categories=10, hidden=(512, 256), epochs=200,
                batch_size=32, learning_rate=1e-3, initial_temperature=1.0,
                anneal_rate=1e-4, anneal_every=500, min_temperature=0.5,
                max_examples=None)
SMOKE = dict(latent_vars=4, categories=5, hidden=(32, 16), epochs=2,
             batch_size=64, anneal_rate=0.05, anneal_every=1,
             max_examples=256)
PROG = "python -m examples.categorical_vae"


def build_parser():
    """The example's `argparse.ArgumentParser`, every option with help."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train a categorical VAE with Gumbel-Softmax latents.")
    add = parser.add_argument
    add("--data-dir", help="binarized MNIST: the binarized_mnist.npz file, or "
        "a folder with it or with the binarized_mnist_{train,valid,test}.amat "
        "files (default: scikit-learn's 8x8 digits, binarized by pixel > 7)")
    add("--latent-vars", type=cli.positive_int,
        help="N latent variables (20)")
    add("--categories", type=cli.int_at_least_2,
        help="K categories per variable (10)")
    add("--hidden", type=cli.hidden_sizes,
        help="encoder hidden sizes, decoder mirrored (512,256)")
    add("--hard", action="store_true",
        help="exact one-hot samples with the --estimator gradient")
    add("--estimator", choices=ESTIMATORS, default="straight_through",
        help="gradient estimator with --hard (straight_through)")
    add("--estimator-samples", type=cli.positive_int, default=1,
        help="conditional samples for gumbel_rao (1)")
    add("--epochs", type=cli.positive_int, help="training epochs (200)")
    add("--batch-size", type=cli.positive_int, help="batch size (32)")
    add("--learning-rate", type=cli.positive_float, help="Adam (1e-3)")
    add("--seed", type=int, default=0, help="seed of data split, weights "
        "and noise (0)")
    add("--initial-temperature", type=cli.positive_float,
        help="tau at step 0 (1)")
    add("--anneal-rate", type=cli.non_negative_float,
        help="r in tau = max(min, initial * exp(-r t)) (1e-4)")
    add("--anneal-every", type=cli.positive_int,
        help="update tau every this many steps (500)")
    add("--min-temperature", type=cli.positive_float,
        help="tau floor (0.5)")
    add("--max-examples", type=cli.positive_int,
        help="use at most this many examples of each split (all)")
    cli.add_output_dir(parser, "categorical_vae",
                       "logs/, plots, metrics.json and SavedModels")
    add("--smoke", action="store_true", help="tiny model, 2 epochs, 256 "
        "examples: a quick end-to-end check (options given still apply)")
    add("--verbose", type=int, choices=(0, 1, 2), default=1,
        help="Keras fit verbosity (1: progress bar)")
    add("--deterministic", action="store_true",
        help="turn on the backend's deterministic kernels (TensorFlow's "
        "enable_op_determinism); the CPU run is repeatable without it, a "
        "GPU run may not be")
    return parser


def parse_args(argv=None):
    """Parses the command line; argparse exits with status 2 on errors."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.estimator != "straight_through" and not args.hard:
        parser.error("--estimator applies to hard samples; add --hard")
    if args.estimator_samples != 1 and args.estimator != "gumbel_rao":
        parser.error("--estimator-samples applies to --estimator gumbel_rao")
    for name, value in {**DEFAULTS, **(SMOKE if args.smoke else {})}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.min_temperature > args.initial_temperature:
        parser.error(f"--min-temperature {args.min_temperature} is above "
                     f"--initial-temperature {args.initial_temperature}")
    return args


def estimator_name(args):
    """What trains the encoder, in words (the one `estimator` of metrics)."""
    if not args.hard:
        return "relaxed (Gumbel-Softmax)"
    if args.estimator == "gumbel_rao":
        return f"hard (gumbel_rao, {args.estimator_samples} samples)"
    return f"hard ({args.estimator})"


def settings(args):
    """The run's options for metrics.json; the estimator is said once."""
    skip = ("estimator", "estimator_samples")
    return {k: (list(v) if isinstance(v, tuple) else v)
            for k, v in sorted(vars(args).items()) if k not in skip}


def train(args, data, out_dir):
    """Builds and trains the VAE; returns `(vae, history, seconds)`.

    `history` holds per-epoch lists of Python floats; the TensorBoard logs
    go to `out_dir/logs` (where TensorFlow is installed).
    """
    keras.utils.set_random_seed(args.seed)
    vae = vae_model.build_vae(
        data["train"].shape[1], args.latent_vars, args.categories,
        args.hidden, hard=args.hard, estimator=args.estimator,
        estimator_samples=args.estimator_samples,
        temperature=args.initial_temperature, seed=args.seed)
    history, seconds = training.train_vae(
        vae, data["train"], data["valid"], args.epochs, args.batch_size,
        args.learning_rate, args.initial_temperature, args.anneal_rate,
        args.anneal_every, args.min_temperature, verbose=args.verbose,
        callbacks=training.tensorboard_callbacks(
            os.path.join(out_dir, "logs"), data["valid"][:10]))
    history = {key: [float(v) for v in values]
               for key, values in history.history.items()}
    return vae, history, seconds


def run(args, dataset, data, out_dir):
    """Trains, evaluates, logs, plots, exports and checks serving.

    Returns:
      The metrics written to `out_dir/metrics.json`.
    """
    deterministic = (determinism.enable_op_determinism()
                     if args.deterministic else None)
    vae, history, seconds = train(args, data, out_dir)
    metrics = {
        "dataset": dataset,
        "estimator": estimator_name(args),
        "backend": keras.backend.backend(),
        "environment": determinism.environment(),
        "deterministic": deterministic,
        **vae_model.evaluate_vae(vae, data),
        "epochs": len(history["loss"]),
        "train_seconds": round(seconds, 2),
        "examples": {s: int(len(a)) for s, a in data.items()},
        "settings": settings(args),
        "history": history,
    }
    if not all(math.isfinite(metrics[f"{s}_neg_elbo"]) for s in data):
        raise RuntimeError("training diverged: the negative ELBO is not "
                           "finite")
    encoder, decoder = exporting.serving_models(vae)
    metrics["plots"] = plotting.save_plots(
        encoder, decoder, data["valid"], history, out_dir, args.seed,
        title=f"categorical VAE on {dataset}, {metrics['estimator']}")
    log_dir = os.path.join(out_dir, "logs")
    metrics["logs"] = log_dir if os.path.isdir(log_dir) else None
    metrics["saved_models"], metrics["serving"] = exporting.export_and_check(
        vae, encoder, decoder, out_dir, data["valid"][:100])
    with open(os.path.join(out_dir, "metrics.json"), "w") as handle:
        json.dump(metrics, handle, indent=2)
    return metrics


def error(message, status):
    """Prints `<prog>: error: message` on one line; returns `status`."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return status


def print_summary(metrics, out_dir, start):
    """Prints the final numbers, the serving check and what was written."""
    print(f"negative ELBO (nats, exact categorical samples): train "
          f"{metrics['train_neg_elbo']:.2f}, valid "
          f"{metrics['valid_neg_elbo']:.2f}, test "
          f"{metrics['test_neg_elbo']:.2f}; temperature "
          f"{metrics['temperature']:.3f} after {metrics['steps']} steps, "
          f"{metrics['train_seconds']:.0f} s of training")
    serving = metrics["serving"]
    if serving:
        print(f"serving check OK: reloaded encoder maps {serving['batch']} "
              f"validation images to one-hot codes {serving['codes_shape']}, "
              f"reloaded decoder to probabilities in [0, 1] "
              f"{serving['probabilities_shape']}")
    written = ["metrics.json", *(os.path.basename(p)
                                 for p in metrics["plots"])]
    written += ["logs/"] if metrics["logs"] else []
    written += ["encoder/", "decoder/"] if metrics["saved_models"] else []
    print(f"wrote {out_dir}/: {', '.join(written)} "
          f"({time.perf_counter() - start:.0f} s in all)")
    if metrics["logs"]:
        print(f"TensorBoard: tensorboard --logdir {metrics['logs']}")


def main(argv=None):
    """Runs the example; returns the process exit status."""
    start = time.perf_counter()
    args = parse_args(argv)
    try:
        cli.require_modules("matplotlib")
        dataset, data = cli.load_splits(args.data_dir, args.seed,
                                        args.max_examples)
        out_dir = cli.prepare_output_dir(args.output_dir)
    except (ImportError, ValueError) as err:
        return error(cli.one_line(err), 2)
    print(f"data: {dataset}, " + ", ".join(
        f"{s} {a.shape}" for s, a in data.items()))
    try:
        metrics = run(args, dataset, data, out_dir)
    except (RuntimeError, NotImplementedError) as err:
        return error(cli.one_line(err), 1)
    print_summary(metrics, out_dir, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
