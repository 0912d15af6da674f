"""Reproduces the categorical VAE row of Jang et al. 2017, Table 1.

Binarized MNIST (50,000 / 10,000 / 10,000), 20 categorical latent variables
of 10 categories, encoder 784-512-256-(20x10) and the mirrored decoder (ReLU),
Bernoulli likelihood, uniform categorical prior, Adam (lr 1e-3), batch 100,
temperature annealed as `tau = max(0.5, exp(-r t))` every N steps. Reports
the test negative ELBO (nats; one exact categorical sample per test image)
for the Gumbel-Softmax estimator (paper: 101.5) and the straight-through
Gumbel-Softmax estimator (paper: 107.8). The model, training loop and
evaluation are those of `python -m examples.categorical_vae`
(`examples/vae_model.py`, `examples/training.py`).

The data is not downloaded: `--data-dir` is the `binarized_mnist.npz` file,
or a folder with it or with the `binarized_mnist_{train,valid,test}.amat`
files (`keras_gumbel.datasets.load_binarized_mnist`).

Run from the repository root:
  python -m benchmarks.paper_vae --data-dir DIR            # 250 epochs
  python -m benchmarks.paper_vae --data-dir DIR --rows st --max-minutes 60
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this benchmark as a module from the "
                     "repository root: python -m benchmarks.paper_vae")

import argparse
import json
import os
import sys
import time

from examples import cli, training, vae_model

PAPER = {"gs": ("Gumbel-Softmax", False, 101.5),
         "st": ("ST Gumbel-Softmax", True, 107.8)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.paper_vae",
                                     description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--data-dir", required=True,
        help="the binarized_mnist.npz file, or a folder with it or "
        "with the .amat files")
    add("--epochs", type=cli.positive_int, default=250)
    add("--rows", nargs="+", choices=sorted(PAPER), default=["gs", "st"],
        help="gs: Gumbel-Softmax, st: straight-through (both)")
    add("--anneal-rate", type=cli.non_negative_float,
        default=1e-4, help="r (1e-4; the paper tried 1e-5 and 1e-4)")
    add("--anneal-every", type=cli.positive_int, default=500,
        help="N (500; the paper tried 500 and 1000)")
    add("--seed", type=int, default=0)
    add("--max-minutes", type=cli.positive_float,
        help="stop training a row after this many minutes (after the "
        "running epoch); the epochs done are reported")
    add("--output-dir", default=os.path.join("outputs", "paper_vae"),
        help="where paper_vae_<row>.json go (outputs/paper_vae)")
    add("--verbose", type=int, choices=(0, 1, 2), default=2)
    return parser.parse_args(argv)


def run_row(row, data, args):
    """Trains one estimator's VAE and returns its results."""
    import keras

    class TimeLimit(keras.callbacks.Callback):
        """Stops `fit` after the epoch during which the limit passed."""

        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if (args.max_minutes is not None and
                    time.perf_counter() - self.start > 60 * args.max_minutes):
                self.model.stop_training = True

    name, hard, paper = PAPER[row]
    keras.utils.set_random_seed(args.seed)
    vae = vae_model.build_vae(784, 20, 10, (512, 256), hard=hard,
                              seed=args.seed)
    history, seconds = training.train_vae(
        vae, data["train"], data["valid"], args.epochs, batch_size=100,
        learning_rate=1e-3, anneal_rate=args.anneal_rate,
        anneal_every=args.anneal_every, min_temperature=0.5,
        verbose=args.verbose, callbacks=[TimeLimit()])
    result = {
        "row": name, "paper_test_neg_elbo": paper,
        **vae_model.evaluate_vae(vae, data),
        "epochs": len(history.history["loss"]),
        "train_minutes": round(seconds / 60, 1),
        "settings": {"anneal_rate": args.anneal_rate,
                     "anneal_every": args.anneal_every, "seed": args.seed,
                     "batch_size": 100, "learning_rate": 1e-3,
                     "hidden": [512, 256], "latent": "20x10"},
        "history": {k: [float(x) for x in v]
                    for k, v in history.history.items()},
    }
    return result


def main(argv=None):
    args = parse_args(argv)
    try:
        _, data = cli.load_splits(args.data_dir)
        cli.prepare_output_dir(args.output_dir)
    except ValueError as err:
        print(f"python -m benchmarks.paper_vae: error: {err}",
              file=sys.stderr)
        return 2
    for row in args.rows:
        result = run_row(row, data, args)
        path = os.path.join(args.output_dir, f"paper_vae_{row}.json")
        with open(path, "w") as handle:
            json.dump(result, handle, indent=2)
        print("| estimator | test -ELBO (ours) | paper | epochs | steps | "
              "final tau | train time |")
        print(f"| {result['row']} | {result['test_neg_elbo']:.1f} | "
              f"{result['paper_test_neg_elbo']} | {result['epochs']} | "
              f"{result['steps']} | {result['temperature']:.3f} | "
              f"{result['train_minutes']} min |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
