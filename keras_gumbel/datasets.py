"""Small binary image data sets, in the style of `keras.datasets`.

Each loader returns NumPy arrays `(x_train, x_valid, x_test)`: float32 arrays
of 0s and 1s of shape `(n, pixels)`, ready for a Bernoulli decoder. Nothing
is downloaded: scikit-learn ships the digits, and binarized MNIST is read
from a path the caller gives. Only NumPy is imported here (scikit-learn
lazily, by `load_digits`), so the loaders work on every Keras backend and a
bad path fails in well under a second.

- `load_digits(seed=0)`: scikit-learn's 8x8 digits (1797 images), binarized
  by the fixed threshold `pixel > 7` (of 16), split 1297 / 250 / 250 by a
  seeded permutation.
- `load_binarized_mnist(path)`: the binarized MNIST of Larochelle & Murray
  (2011), 50000 / 10000 / 10000 images of 784 pixels, from either
  `binarized_mnist.npz` (uint8 0/1 arrays `train`, `valid`, `test` of shape
  `(n, 784)`) or the plain-text files `binarized_mnist_{train,valid,test}.amat`
  of the original distribution (one image a line, 784 space-separated 0/1
  values). `path` is the `.npz` file itself or a folder holding either.

Errors are `DataError` (a `ValueError`) with a one-line message that names
the argument and the value.

Example:

```python
from keras_gumbel import datasets

x_train, x_valid, x_test = datasets.load_digits(seed=0)
print(x_train.shape, x_valid.shape, x_test.shape)  # (1297, 64) (250, 64) ...
```

References:
  Larochelle, Murray. The Neural Autoregressive Distribution Estimator.
  AISTATS 2011. http://proceedings.mlr.press/v15/larochelle11a.html
"""

import os
import warnings

import numpy as np

__all__ = ["DataError", "SPLITS", "load_binarized_mnist", "load_digits"]

SPLITS = ("train", "valid", "test")
"""The order of the arrays each loader returns."""
_MNIST_PIXELS = 784
_NPZ_NAME = "binarized_mnist.npz"
_AMAT_NAME = "binarized_mnist_{}.amat"
_DIGITS_THRESHOLD = 7  # binary pixel = digits pixel (0..16) > 7
_DIGITS_SPLIT = (1297, 250, 250)
_INSTALL_HINT = ('pip install scikit-learn (in a checkout of keras_gumbel: '
                 'pip install -e ".[examples]")')


class DataError(ValueError):
    """A data set is missing or malformed; the message is one line."""


def load_digits(seed=0):
    """scikit-learn's 8x8 digits, binarized by `pixel > 7`, split by `seed`.

    Needs scikit-learn (the `examples` extra), which bundles the images: no
    download.

    Args:
      seed: int, seed of the permutation that assigns images to splits.

    Returns:
      Tuple `(x_train, x_valid, x_test)` of float32 arrays of 0s and 1s, of
      shapes `(1297, 64)`, `(250, 64)` and `(250, 64)`.

    Raises:
      ImportError: scikit-learn is not installed (the message says how to
        install it).
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise ImportError("keras_gumbel.datasets.load_digits needs "
                          f"scikit-learn: {_INSTALL_HINT}") from None
    images = sk_load_digits().data
    binary = (images > _DIGITS_THRESHOLD).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(binary))
    n_train, n_valid, _ = _DIGITS_SPLIT
    parts = np.split(order, [n_train, n_train + n_valid])
    return tuple(binary[idx] for idx in parts)


def load_binarized_mnist(path):
    """Binarized MNIST from `path` (an `.npz` file, or a folder).

    A folder is searched for `binarized_mnist.npz` first, then for the three
    `binarized_mnist_{train,valid,test}.amat` files. Any number of images per
    split is accepted; every image must have 784 values, each 0 or 1.

    Args:
      path: the `.npz` file, or a folder holding `binarized_mnist.npz` or the
        three `.amat` files.

    Returns:
      Tuple `(x_train, x_valid, x_test)` of float32 arrays of 0s and 1s of
      shape `(n, 784)`.

    Raises:
      DataError: the path does not exist, is a file other than an `.npz`, or
        the files are missing, unreadable, of the wrong shape, or hold values
        other than 0 and 1.
    """
    path = os.fspath(path)
    if os.path.isfile(path):
        if not path.endswith(".npz"):
            raise DataError(
                "Invalid value received for argument `path`. Expected the "
                f".npz file or a folder holding {_NPZ_NAME} or the "
                f"{_AMAT_NAME.format('{train,valid,test}')} files. Received: "
                f"path={path!r} (a file that is not .npz)")
        return _load_npz(path)
    if not os.path.isdir(path):
        raise DataError(
            "Invalid value received for argument `path`. Expected an existing "
            f"folder or .npz file. Received: path={path!r} (not found)")
    npz_path = os.path.join(path, _NPZ_NAME)
    if os.path.isfile(npz_path):
        return _load_npz(npz_path)
    amat_paths = [os.path.join(path, _AMAT_NAME.format(s)) for s in SPLITS]
    missing = [os.path.basename(p) for p in amat_paths
               if not os.path.isfile(p)]
    if missing:
        raise DataError(
            f"Invalid value received for argument `path`. Expected a folder "
            f"holding {_NPZ_NAME} or the three .amat files. Received: "
            f"path={path!r}, which holds neither (missing: "
            f"{_NPZ_NAME}, {', '.join(missing)})")
    return tuple(_load_amat(p) for p in amat_paths)


def _load_npz(path):
    """Loads and validates an `.npz` with `train`, `valid`, `test` arrays."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [s for s in SPLITS if s not in archive.files]
            if missing:
                raise DataError(f"{path} lacks the array(s) "
                                f"{', '.join(missing)} (it has "
                                f"{', '.join(archive.files) or 'none'})")
            arrays = [archive[s] for s in SPLITS]
    except DataError:
        raise
    except Exception as err:  # zipfile, pickle, OS errors: one line
        raise DataError(f"cannot read {path}: "
                        f"{type(err).__name__}: {err}") from None
    return tuple(_check_binary(a, f"{path}[{s!r}]")
                 for s, a in zip(SPLITS, arrays))


def _load_amat(path):
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
    if not rows or values is None or values.size != len(rows) * _MNIST_PIXELS:
        bad = next((i for i, line in enumerate(rows, 1)
                    if not _is_numbers(line, _MNIST_PIXELS)), None)
        where = f" (line {bad})" if bad else ""
        raise DataError(f"{path}: expected {_MNIST_PIXELS} numbers on each "
                        f"non-empty line{where}")
    return _check_binary(values.reshape(len(rows), _MNIST_PIXELS), path)


def _is_numbers(line, count):
    """Whether `line` holds exactly `count` whitespace-separated numbers."""
    parts = line.split()
    try:
        [float(part) for part in parts]
    except ValueError:
        return False
    return len(parts) == count


def _check_binary(array, name, pixels=_MNIST_PIXELS):
    """Checks shape `(n >= 1, pixels)` and values in {0, 1}; returns float32."""
    array = np.asarray(array)
    if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != pixels:
        raise DataError(f"{name}: expected shape (n, {pixels}) with n >= 1, "
                        f"got {array.shape}")
    if not (np.issubdtype(array.dtype, np.integer)
            or np.issubdtype(array.dtype, np.floating)
            or array.dtype == bool):
        raise DataError(f"{name}: expected numbers, got dtype {array.dtype}")
    bad = ~np.isin(array, (0, 1))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{name}: values must be 0 or 1, got "
                        f"{array[row, col].item()!r} at row {row}, "
                        f"column {col}")
    return array.astype(np.float32)
