"""What the backend-neutral tests need from each Keras backend.

The suite runs once per backend (`KERAS_BACKEND=tensorflow|jax|torch
python -m pytest -q`). Tests written with these helpers and `keras.ops` run
on all three; tests of TensorFlow-only features (SavedModel, tf.distribute,
XLA via `tf.function`, TF's exact Philox streams) carry the marker
`pytest.mark.backends("tensorflow")` (see conftest.py).
"""

import keras
import numpy as np
import pytest

BACKEND = keras.backend.backend()

def to_numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def value_and_grad(fn, *args):
    """`fn(*args)` and its gradients w.r.t. every arg, with the backend's own
    autodiff (`tf.GradientTape`, `jax.grad`, `torch.autograd`).

    `fn` returns a tensor; it is reduced by `sum` (use weights inside `fn`
    for a vector-Jacobian product). Args may be NumPy arrays.

    Returns:
      `(value, [grad_0, grad_1, ...])` as NumPy arrays.
    """
    if BACKEND == "tensorflow":
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(a) for a in args]
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            out = fn(*tensors)
            total = tf.reduce_sum(out)
        grads = tape.gradient(total, tensors)
        return to_numpy(out), [to_numpy(g) for g in grads]
    if BACKEND == "jax":
        import jax

        def total(*a):
            out = fn(*a)
            return out.sum(), out

        (_, out), grads = jax.value_and_grad(
            total, argnums=tuple(range(len(args))), has_aux=True)(
                *[jax.numpy.asarray(a) for a in args])
        return to_numpy(out), [to_numpy(g) for g in grads]
    import torch

    tensors = [torch.tensor(np.asarray(a), requires_grad=True) for a in args]
    out = fn(*tensors)
    grads = torch.autograd.grad(out.sum(), tensors, allow_unused=True)
    return to_numpy(out.detach()), [
        np.zeros(np.shape(a)) if g is None else to_numpy(g)
        for a, g in zip(args, grads)]


def jit(fn):
    """`fn` compiled the backend's way (`tf.function(jit_compile=True)`,
    `jax.jit`); torch runs eagerly."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if BACKEND == "jax":
        import jax

        return jax.jit(fn)
    return fn
