"""The examples' command line: argument types, the data and output options,
optional packages and one-line errors.

Shared by the example scripts and the benchmarks that reuse their model
(`python -m benchmarks.paper_vae`). The data loaders are public, in
`keras_gumbel.datasets`; this module adds the command line's wording.
"""

import argparse
import importlib.util
import math
import os
import re

from keras_gumbel import datasets

INSTALL_EXAMPLES = 'pip install -e ".[examples]"'


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
int_at_least_2 = _number(int, 2, True, "an integer >= 2")


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


def default_output_dir(example):
    """`outputs/<example>`: where an example writes unless told otherwise.

    Relative to the working directory (the repository root, where the
    examples run and where `outputs/` is git-ignored).
    """
    return os.path.join("outputs", example)


def add_output_dir(parser, example, what):
    """Adds `--output-dir` (default `outputs/<example>`) to `parser`.

    Args:
      parser: an `argparse.ArgumentParser`.
      example: the example's module name, e.g. `"vq_autoencoder"`.
      what: what the example writes there, for the help text.
    """
    default = default_output_dir(example)
    parser.add_argument("--output-dir", default=default,
                        help=f"where {what} go ({default})")


def require_modules(*names):
    """Raises `ImportError` naming the extra if a module is not installed.

    Called before training, so that a missing plotting library does not
    surface after minutes of work.
    """
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"{', '.join(missing)} is not installed: "
                          f"{INSTALL_EXAMPLES}")


def optional_tensorflow(purpose):
    """The `tensorflow` module, or None after printing what is skipped."""
    try:
        import tensorflow as tf
    except ImportError:
        print(f"note: TensorFlow is not installed; skipping {purpose}")
        return None
    return tf


def load_splits(data_path=None, seed=0, max_examples=None):
    """`(name, {"train", "valid", "test"} arrays)` for the examples.

    `data_path` None: scikit-learn's digits (`keras_gumbel.datasets.
    load_digits(seed)`); else binarized MNIST from that `.npz` file or folder
    (errors start with `--data-dir:`, the option that gives the path).
    `max_examples` keeps the first rows of each split.
    """
    if data_path is None:
        name, arrays = "digits", datasets.load_digits(seed)
    else:
        try:
            arrays = datasets.load_binarized_mnist(data_path)
        except datasets.DataError as err:  # the command line says --data-dir
            raise datasets.DataError(f"--data-dir: {err}") from None
        name = "binarized_mnist"
    data = dict(zip(datasets.SPLITS, arrays))
    if max_examples:
        data = {s: a[:max_examples] for s, a in data.items()}
    return name, data


def prepare_output_dir(path):
    """Creates the output folder; a failure is a one-line `DataError`."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise datasets.DataError(
            f"cannot create output directory {path}: {err.strerror}") from None
    return path


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
