"""Tests of keras_gumbel.datasets: the loaders, their errors, their imports."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_gumbel import datasets
from keras_gumbel.datasets import DataError

MODULE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "keras_gumbel", "datasets.py")


def _images(n, seed=0):
    return (np.random.default_rng(seed).random((n, 784)) > 0.8).astype(
        np.uint8)


def _splits(sizes=(5, 3, 4)):
    return {s: _images(n, seed) for seed, (s, n) in
            enumerate(zip(datasets.SPLITS, sizes))}


def _write_amat(folder, arrays):
    for split, array in arrays.items():
        text = "\n".join(" ".join(map(str, row)) for row in array)
        (folder / f"binarized_mnist_{split}.amat").write_text(text + "\n\n")


def test_npz_folder_npz_file_and_amat_agree(tmp_path):
    arrays = _splits()
    npz_dir, amat_dir = tmp_path / "npz", tmp_path / "amat"
    npz_dir.mkdir()
    amat_dir.mkdir()
    np.savez(npz_dir / "binarized_mnist.npz", **arrays)
    _write_amat(amat_dir, arrays)
    loaded = [datasets.load_binarized_mnist(npz_dir),
              datasets.load_binarized_mnist(str(npz_dir / "binarized_mnist.npz")),
              datasets.load_binarized_mnist(str(amat_dir))]
    for result in loaded:
        assert len(result) == 3
        for array, expected in zip(result, arrays.values()):
            assert array.dtype == np.float32
            np.testing.assert_array_equal(array, expected)


def _npz(tmp_path, **arrays):
    path = tmp_path / "binarized_mnist.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case, message", [
    ("missing", r"argument `path`.*path='.*nope' \(not found\)"),
    ("empty_dir", r"holds neither.*missing: binarized_mnist.npz, "
     r"binarized_mnist_train.amat"),
    ("other_file", r"argument `path`.*\.npz file or a folder.*a file that "
     r"is not \.npz"),
    ("bad_shape", r"\['valid'\]: expected shape \(n, 784\).*\(3, 783\)"),
    ("no_rows", r"\['train'\]: expected shape .*got \(0, 784\)"),
    ("bad_values", r"\['test'\]: values must be 0 or 1, got 255 at row"),
    ("missing_key", r"lacks the array\(s\) test"),
    ("not_zip", r"cannot read .*binarized_mnist.npz"),
    ("bad_amat", r"binarized_mnist_valid.amat: expected 784 numbers .*line 2"),
    ("amat_values", r"binarized_mnist_test.amat: values must be 0 or 1"),
])
def test_errors_name_the_path_and_the_problem(tmp_path, case, message):
    good = _splits((3, 3, 3))
    path = tmp_path
    if case == "missing":
        path = tmp_path / "nope"
    elif case == "other_file":
        path = tmp_path / "binarized_mnist_train.amat"
        path.write_text("0 1\n")
    elif case == "bad_shape":
        _npz(tmp_path, **{**good, "valid": np.zeros((3, 783), np.uint8)})
    elif case == "no_rows":
        _npz(tmp_path, **{**good, "train": np.zeros((0, 784), np.uint8)})
    elif case == "bad_values":
        _npz(tmp_path, **{**good, "test": good["test"] * 255})
    elif case == "missing_key":
        path = _npz(tmp_path, train=good["train"], valid=good["valid"])
    elif case == "not_zip":
        (tmp_path / "binarized_mnist.npz").write_bytes(b"not a zip archive")
    elif case in ("bad_amat", "amat_values"):
        _write_amat(tmp_path, good)
        lines = (tmp_path / "binarized_mnist_valid.amat").read_text()
        if case == "bad_amat":  # 785 values on line 2
            lines = lines.splitlines()
            lines[1] += " 1"
            (tmp_path / "binarized_mnist_valid.amat").write_text(
                "\n".join(lines) + "\n")
        else:
            (tmp_path / "binarized_mnist_test.amat").write_text(
                "2 " * 784 + "\n")
    with pytest.raises(DataError, match=message) as info:
        datasets.load_binarized_mnist(path)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_amat_with_a_word_names_the_line(tmp_path):
    _write_amat(tmp_path, _splits((2, 2, 2)))
    (tmp_path / "binarized_mnist_train.amat").write_text(
        "0 " * 784 + "\n" + "0 x " + "0 " * 782 + "\n")
    with pytest.raises(DataError, match="train.amat.*line 2"):
        datasets.load_binarized_mnist(tmp_path)


def test_digits_are_binary_disjoint_and_seeded():
    data = datasets.load_digits(seed=3)
    assert [len(x) for x in data] == [1297, 250, 250]
    stacked = np.concatenate(data)
    assert stacked.shape == (1797, 64) and stacked.dtype == np.float32
    assert set(np.unique(stacked)) == {0.0, 1.0}
    again = datasets.load_digits(seed=3)
    other = datasets.load_digits(seed=4)
    np.testing.assert_array_equal(data[2], again[2])
    assert not np.array_equal(data[2], other[2])
    from sklearn.datasets import load_digits

    expected = (load_digits().data > 7).astype(np.float32)
    # Same multiset of images: sort rows of both lexicographically.
    np.testing.assert_array_equal(np.unique(stacked, axis=0),
                                  np.unique(expected, axis=0))


def _run(code):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)],
                          capture_output=True, text=True, env=env, timeout=60)


def test_module_imports_only_numpy():
    # The module file alone, where TensorFlow, Keras and scikit-learn cannot
    # be imported: it loads, and digits says which extra to install.
    done = _run(f"""
        import importlib.util, sys
        for name in ("tensorflow", "keras", "jax", "torch", "sklearn"):
            sys.modules[name] = None
        spec = importlib.util.spec_from_file_location("ds", {MODULE!r})
        ds = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ds)
        try:
            ds.load_digits()
        except ImportError as err:
            print(err)
    """)
    assert done.returncode == 0, done.stderr
    assert "needs scikit-learn" in done.stdout
    assert 'pip install -e ".[examples]"' in done.stdout
