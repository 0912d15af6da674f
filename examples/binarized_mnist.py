"""Binary image data sets for the categorical VAE example.

Two sources, both returned as a dict of float32 arrays of 0/1 with keys
`train`, `valid`, `test` and shape `(N, D)`:

- `load_digits(seed)`: scikit-learn's bundled 8x8 digits (offline, no
  download), binarized with the fixed threshold `pixel > 7` (of 16), split
  1297 / 250 / 250 by a seeded permutation.
- `load_binarized_mnist(data_dir)`: binarized MNIST (D = 784) from a folder
  holding `binarized_mnist.npz` (uint8 arrays `train`, `valid`, `test`) or the
  plain-text files `binarized_mnist_{train,valid,test}.amat` of the original
  distribution (one image a line, 784 space-separated 0/1 values).

Only NumPy is imported at module level, so a bad path fails in well under a
second with a `DataError` whose message is one line.
"""

import os
import warnings

import numpy as np

SPLITS = ("train", "valid", "test")
MNIST_PIXELS = 784
NPZ_NAME = "binarized_mnist.npz"
AMAT_NAME = "binarized_mnist_{}.amat"
DIGITS_THRESHOLD = 7  # binary pixel = digits pixel (0..16) > 7
DIGITS_SPLIT = (1297, 250, 250)


class DataError(ValueError):
    """A data set is missing or malformed; the message is one line."""


def load_digits(seed=0):
    """scikit-learn's 8x8 digits, binarized by `pixel > 7`, split by seed.

    Args:
      seed: int, seed of the permutation that assigns images to splits.

    Returns:
      Dict `{"train", "valid", "test"}` of float32 arrays of shape (n, 64).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    images = sk_load_digits().data
    binary = (images > DIGITS_THRESHOLD).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(binary))
    n_train, n_valid, _ = DIGITS_SPLIT
    parts = np.split(order, [n_train, n_train + n_valid])
    return {name: binary[idx] for name, idx in zip(SPLITS, parts)}


def load_binarized_mnist(data_dir):
    """Binarized MNIST from `data_dir` (`.npz` preferred, else `.amat`).

    Args:
      data_dir: folder holding `binarized_mnist.npz` or the three
        `binarized_mnist_{train,valid,test}.amat` files.

    Returns:
      Dict `{"train", "valid", "test"}` of float32 arrays of shape (n, 784).

    Raises:
      DataError: the folder or files are missing, unreadable, of the wrong
        shape, or hold values other than 0 and 1.
    """
    if not os.path.isdir(data_dir):
        raise DataError(f"data directory not found: {data_dir}")
    npz_path = os.path.join(data_dir, NPZ_NAME)
    if os.path.isfile(npz_path):
        return load_npz(npz_path)
    amat_paths = [os.path.join(data_dir, AMAT_NAME.format(s)) for s in SPLITS]
    if all(os.path.isfile(p) for p in amat_paths):
        return {s: load_amat(p) for s, p in zip(SPLITS, amat_paths)}
    missing = [os.path.basename(p) for p in amat_paths
               if not os.path.isfile(p)]
    raise DataError(f"{data_dir} holds neither {NPZ_NAME} nor the .amat "
                    f"files (missing: {', '.join(missing)})")


def load_npz(path):
    """Loads and validates a `.npz` with `train`, `valid`, `test` arrays."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [s for s in SPLITS if s not in archive.files]
            if missing:
                raise DataError(f"{path} lacks the array(s) "
                                f"{', '.join(missing)}")
            arrays = {s: archive[s] for s in SPLITS}
    except DataError:
        raise
    except Exception as err:  # zipfile, pickle, OS errors: one line
        raise DataError(f"cannot read {path}: "
                        f"{type(err).__name__}: {err}") from None
    return {s: check_binary(a, f"{path}[{s!r}]") for s, a in arrays.items()}


def load_amat(path):
    """Loads and validates one `.amat` file: a line per image, 784 values."""
    try:
        with open(path, encoding="ascii") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}") from None
    rows = [line for line in text.splitlines() if line.strip()]
    try:
        with warnings.catch_warnings():
            # A token that is not a number ends the parse: a ValueError in
            # NumPy >= 2.3, a DeprecationWarning and a short array before.
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(text, dtype=np.float32, sep=" ")
    except ValueError:
        values = None
    if not rows or values is None or values.size != len(rows) * MNIST_PIXELS:
        bad = next((i for i, line in enumerate(rows, 1)
                    if not _is_numbers(line, MNIST_PIXELS)), None)
        where = f" (line {bad})" if bad else ""
        raise DataError(f"{path}: expected {MNIST_PIXELS} numbers on each "
                        f"non-empty line{where}")
    return check_binary(values.reshape(len(rows), MNIST_PIXELS), path)


def _is_numbers(line, count):
    """Whether `line` holds exactly `count` whitespace-separated numbers."""
    parts = line.split()
    try:
        [float(part) for part in parts]
    except ValueError:
        return False
    return len(parts) == count


def check_binary(array, name, pixels=MNIST_PIXELS):
    """Checks shape `(n >= 1, pixels)` and values in {0, 1}; returns float32."""
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != pixels:
        raise DataError(f"{name}: expected shape (n, {pixels}), got "
                        f"{array.shape}")
    if not (np.issubdtype(array.dtype, np.integer)
            or np.issubdtype(array.dtype, np.floating)
            or array.dtype == bool):
        raise DataError(f"{name}: expected numbers, got dtype {array.dtype}")
    if not np.isin(array, (0, 1)).all():
        raise DataError(f"{name}: values must be 0 or 1")
    return array.astype(np.float32)
