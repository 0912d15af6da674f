"""Quick start: sample with the ops, then train a `GumbelSoftmax` layer.

1. Draws a relaxed and a hard (one-hot) Gumbel-Softmax sample and checks
   Gumbel-Max frequencies against the probabilities.
2. Trains a model whose only path from input to output is a hard
   `GumbelSoftmax` layer (exact one-hot samples, straight-through gradient),
   with the temperature annealed by `TemperatureScheduler`: it learns to map
   each of 4 input symbols to another symbol (a fixed permutation). The
   accuracy of the deterministic (`inference_mode="argmax"`) predictions
   goes from chance to 1.

Written with `keras.ops`: runs on any Keras backend the package supports.
Run from the repository root: python -m examples.quickstart (a few seconds;
`--help` lists the options). It writes no files.
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this example as a module from the "
                     "repository root: python -m examples.quickstart")

import argparse

import keras
import numpy as np

import keras_gumbel as kg
from examples import cli

K = 4
PERMUTATION = np.array([2, 0, 3, 1])  # symbol i must become PERMUTATION[i]


def sample():
    """Prints a relaxed and a hard sample and Gumbel-Max frequencies."""
    probs = np.array([[0.1, 0.6, 0.3]], np.float32)
    logits = np.log(probs)
    relaxed = kg.ops.gumbel_softmax(logits, temperature=0.5, seed=0)
    hard = kg.ops.gumbel_softmax(logits, temperature=0.5, hard=True, seed=0)
    print("relaxed sample:", keras.ops.convert_to_numpy(relaxed).round(3))
    print("hard sample:   ", keras.ops.convert_to_numpy(hard))
    draws = kg.ops.gumbel_max(np.repeat(logits, 10000, axis=0), seed=1)
    freqs = keras.ops.convert_to_numpy(keras.ops.mean(draws, axis=0))
    print("Gumbel-Max frequencies over 10000 draws:", freqs.round(3),
          "(probabilities", probs[0], ")")


def train(epochs=30, seed=0):
    """Trains `Dense -> hard GumbelSoftmax`; returns (before, after) accuracy.

    The loss is the squared error between the one-hot sample and the target
    one-hot: the Dense weights learn only through the layer's
    straight-through gradient.
    """
    keras.utils.set_random_seed(seed)
    x = np.eye(K, dtype=np.float32)[np.arange(2048) % K]
    y = np.eye(K, dtype=np.float32)[PERMUTATION[np.arange(2048) % K]]
    layer = kg.layers.GumbelSoftmax(temperature=1.0, hard=True,
                                    inference_mode="argmax", seed=seed)
    model = keras.Sequential([keras.Input((K,)), keras.layers.Dense(K),
                              layer])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")

    def accuracy():
        # inference_mode="argmax": predict() is deterministic.
        predicted = model.predict(np.eye(K, dtype=np.float32), verbose=0)
        return float(np.mean(predicted.argmax(-1) == PERMUTATION))

    before = accuracy()
    schedule = kg.schedules.ExponentialDecay(initial=1.0, rate=1e-2,
                                             minimum=0.5)
    history = model.fit(x, y, batch_size=64, epochs=epochs, verbose=0,
                        callbacks=[kg.callbacks.TemperatureScheduler(schedule)])
    after = accuracy()
    print(f"trained a hard GumbelSoftmax layer for {epochs} epochs: loss "
          f"{history.history['loss'][0]:.3f} -> "
          f"{history.history['loss'][-1]:.3f}, temperature "
          f"{history.history['temperature'][0]:.2f} -> "
          f"{history.history['temperature'][-1]:.2f}, accuracy {before:.2f} "
          f"-> {after:.2f}")
    return before, after


def build_parser():
    """The example's `argparse.ArgumentParser` (`--help` prints it)."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.quickstart",
        description="Sample with the keras_gumbel ops, then train a hard "
        "GumbelSoftmax layer to learn a permutation of 4 symbols.")
    parser.add_argument("--epochs", type=cli.positive_int, default=30,
                        help="training epochs of part 2 (30)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the weights and the noise (0)")
    return parser


def main(argv=None):
    """Runs both parts; returns the accuracy `(before, after)` training."""
    args = build_parser().parse_args(argv)
    sample()
    return train(args.epochs, args.seed)


if __name__ == "__main__":
    main()
