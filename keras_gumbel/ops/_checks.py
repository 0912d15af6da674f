"""Argument validation and dtype handling shared by the ops.

Every check runs on static information (Python values, static shapes and
dtypes, constant tensors) so that bad input fails when the op is called or
traced, with a message naming the argument and the value received.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_gumbel import backend
from keras_gumbel._messages import invalid, unknown_rank

__all__ = ["invalid", "unknown_rank"]  # Re-exported for the other modules.

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def dtype_of(x):
    """The standardized dtype name of a tensor (`"float32"`, ...)."""
    return keras.backend.standardize_dtype(x.dtype)


def convert_float_tensor(x, name):
    """Converts `x` to a tensor and checks that its dtype is floating point.

    Python floats become float32; NumPy arrays keep their dtype (float64
    needs `jax_enable_x64` on JAX, as everywhere in JAX).
    """
    x = ops.convert_to_tensor(x)
    if dtype_of(x) not in FLOAT_DTYPES:
        raise TypeError(
            f"Invalid dtype for argument `{name}`. Expected a floating-point "
            f"tensor (float16, bfloat16, float32 or float64). "
            f"Received: {name}.dtype={dtype_of(x)}"
        )
    return x


def known_rank(x, name, minimum=0):
    """Returns the static rank of `x`, or raises naming the argument."""
    rank = backend.static_rank(x)
    if rank is None:
        what = "a tensor of known rank" + (f" >= {minimum}" if minimum else "")
        raise ValueError(unknown_rank(name, what))
    return rank


def convert_logits(logits, name="logits"):
    """Converts `logits` to a float tensor of known rank >= 1."""
    logits = convert_float_tensor(logits, name)
    if known_rank(logits, name, 1) < 1:
        raise ValueError(
            invalid(name, "a tensor of rank >= 1 (the last axis, or `axis`, "
                    "holds the categories)", "<rank-0 tensor>")
        )
    return logits


def compute_dtype(dtype):
    """float64 stays float64; every other float dtype computes in float32."""
    return ("float64" if keras.backend.standardize_dtype(dtype) == "float64"
            else "float32")


def common_compute_dtype(*tensors):
    """float64 if any tensor is float64, else float32."""
    return ("float64" if any(dtype_of(t) == "float64" for t in tensors)
            else "float32")


def to_dtype(value, dtype):
    """Casts a tensor, or converts a Python/NumPy value exactly, to `dtype`.

    Converting 0.1 to float32 first and then to float64 would round it.
    """
    if isinstance(value, (int, float, np.number, np.ndarray, list, tuple)):
        return ops.convert_to_tensor(np.asarray(value, dtype=dtype))
    return ops.cast(value, dtype)


def normalize_axis(axis, rank, name="axis"):
    """Returns `axis` as a non-negative int, or raises naming the argument."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(
            axis, (int, np.integer)):
        raise TypeError(invalid(name, "a Python int", axis))
    if not -rank <= axis < rank:
        raise ValueError(
            invalid(name, f"an integer in [{-rank}, {rank}) for logits of "
                    f"rank {rank}", axis)
        )
    return int(axis) % rank


def check_positive_finite(value, name):
    """Checks a Python number, NumPy value or constant tensor is > 0 and finite.

    Variables and symbolic or traced tensors are not checked here: their
    value is only known when the step runs.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(invalid(name, "a positive float", value))
    if isinstance(value, (int, float, np.number)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(invalid(name, "a positive finite float", value))
        return
    if backend.is_variable(value):
        return
    if isinstance(value, (np.ndarray, list, tuple)):
        static = np.asarray(value)
    else:
        static = backend.static_value(value)
        if static is None:
            return
        static = np.asarray(static)
    if not (np.issubdtype(static.dtype, np.floating)
            or np.issubdtype(static.dtype, np.integer)
            or static.dtype.name == "bfloat16"):
        raise TypeError(invalid(name, "a positive float", value))
    static = static.astype(np.float64)
    if not np.all(np.isfinite(static) & (static > 0)):
        shown = static.item() if static.size == 1 else static
        raise ValueError(invalid(name, "positive finite values", shown))


def convert_temperature(temperature, dtype, logits_shape, axis,
                        name="temperature"):
    """Checks `temperature` and shapes it to broadcast against the logits.

    A tensor temperature follows TFP's batch convention: it broadcasts to the
    logits' shape with `axis` removed. It is returned with a size-1 dimension
    inserted at `axis`, in `dtype`, so that `logits / temperature` broadcasts.
    With `axis=None` (element-wise ops) it broadcasts to the logits' shape.
    Static dimensions that cannot broadcast raise here, naming the argument.

    Args:
      logits_shape: the static shape of the logits (a tuple; `None` for
        unknown dimensions).

    Returns:
      `(tau, is_python_number)`; for Python numbers `tau` is a float.
    """
    check_positive_finite(temperature, name)
    if isinstance(temperature, (int, float, np.number)):
        return float(temperature), True
    tau = to_dtype(temperature, dtype)
    if not backend.is_variable(temperature):
        # A tensor computed in a TF graph: checked when the graph runs.
        tau = backend.check_positive_at_run_time(tau, name)
    rank = known_rank(tau, name)
    tau_dims = list(tau.shape)
    dims = list(logits_shape)
    batch = dims if axis is None else dims[:axis] + dims[axis + 1:]
    batch_rank = len(batch)
    fits = rank <= batch_rank and all(
        t is None or b is None or t in (1, b)
        for t, b in zip(tau_dims[::-1], batch[::-1]))
    if not fits:
        where = ("the logits' shape" if axis is None else
                 f"the logits' shape with axis {axis} removed")
        raise ValueError(
            invalid(name, f"a scalar or a tensor that broadcasts to {where}, "
                    f"{tuple(batch)}", f"<tensor of shape {tuple(tau_dims)}>")
        )
    if rank == 0 or axis is None:
        return tau, False
    for _ in range(batch_rank - rank):
        tau = ops.expand_dims(tau, 0)
    return ops.expand_dims(tau, axis), False


def check_bool(value, name):
    """Checks a Python (or NumPy) bool flag such as `hard`."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(invalid(name, "a Python bool", value))
    return bool(value)


def check_estimator(estimator, estimator_samples, known, hard):
    """Validates the estimator and its sample count.

    An estimator other than straight-through only acts on hard samples, and
    `estimator_samples` only on Gumbel-Rao; asking for either where it would
    be silently ignored is an error.
    """
    if estimator not in known:
        raise ValueError(
            invalid("estimator", f"one of {sorted(known)}", estimator)
        )
    if (isinstance(estimator_samples, (bool, np.bool_))
            or not isinstance(estimator_samples, (int, np.integer))
            or estimator_samples < 1):
        raise ValueError(
            invalid("estimator_samples", "an integer >= 1", estimator_samples)
        )
    if estimator != "straight_through" and not hard:
        raise ValueError(invalid(
            "estimator", "'straight_through' when hard=False (estimators act "
            "on hard samples; pass hard=True)", estimator))
    if estimator != "gumbel_rao" and estimator_samples != 1:
        raise ValueError(invalid(
            "estimator_samples", f"1 with estimator={estimator!r} (only "
            f"'gumbel_rao' draws several samples)", estimator_samples))
