"""Argument validation and dtype handling shared by the ops.

Every check runs on static information (Python values, static shapes and
dtypes, constant tensors) so that bad input fails when the op is called or
traced, with a message naming the argument and the value received.
"""

import math

import numpy as np
import tensorflow as tf


def invalid(name, expected, received):
    """Builds the package's standard `ValueError` message."""
    return (
        f"Invalid value received for argument `{name}`. Expected {expected}. "
        f"Received: {name}={received!r}"
    )


def unknown_rank(name, expected):
    return (f"Invalid value received for argument `{name}`. Expected "
            f"{expected}. Received a tensor of unknown rank.")


def convert_float_tensor(x, name):
    """Converts `x` to a tensor and checks that its dtype is floating point."""
    x = tf.convert_to_tensor(x)  # Python floats become float32, NumPy keeps.
    if not x.dtype.is_floating:
        raise TypeError(
            f"Invalid dtype for argument `{name}`. Expected a floating-point "
            f"tensor (float16, bfloat16, float32 or float64). "
            f"Received: {name}.dtype={x.dtype.name}"
        )
    return x


def convert_logits(logits, name="logits"):
    """Converts `logits` to a float tensor of known rank >= 1."""
    logits = convert_float_tensor(logits, name)
    rank = logits.shape.rank
    if rank is None:
        raise ValueError(unknown_rank(name, "a tensor of known rank >= 1"))
    if rank < 1:
        raise ValueError(
            invalid(name, "a tensor of rank >= 1 (the last axis, or `axis`, "
                    "holds the categories)", f"<rank-0 tensor {logits}>")
        )
    return logits


def compute_dtype(dtype):
    """float64 stays float64; every other float dtype computes in float32."""
    return tf.float64 if tf.as_dtype(dtype) == tf.float64 else tf.float32


def to_dtype(value, dtype):
    """Casts a tensor, or converts a Python/NumPy value exactly, to `dtype`.

    `tf.cast(0.1, tf.float64)` would first round 0.1 to float32.
    """
    if isinstance(value, (tf.Tensor, tf.Variable)) or _is_keras_variable(value):
        return tf.cast(value, dtype)
    return tf.cast(tf.constant(np.asarray(value, np.float64)), dtype)


def normalize_axis(axis, rank, name="axis"):
    """Returns `axis` as a non-negative int, or raises naming the argument."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(invalid(name, "a Python int", axis))
    if not -rank <= axis < rank:
        raise ValueError(
            invalid(name, f"an integer in [{-rank}, {rank}) for logits of "
                    f"rank {rank}", axis)
        )
    return int(axis) % rank


def check_positive_finite(value, name):
    """Checks a Python number, NumPy value or constant tensor is > 0 and finite.

    Variables (TF or Keras) and symbolic tensors are not checked: their value
    is only known when the step runs.
    """
    if isinstance(value, bool):
        raise TypeError(invalid(name, "a positive float", value))
    if isinstance(value, (int, float, np.number)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(invalid(name, "a positive finite float", value))
        return
    if isinstance(value, tf.Variable) or _is_keras_variable(value):
        return
    if isinstance(value, tf.Tensor):
        dtype = value.dtype
        static = tf.get_static_value(value)
        if static is None:
            return
    else:
        static = np.asarray(value)
        dtype = tf.as_dtype(static.dtype) if static.dtype != object else None
    if dtype is None or not (dtype.is_floating or dtype.is_integer):
        raise TypeError(invalid(name, "a positive float", value))
    static = np.asarray(static).astype(np.float64)
    if not np.all(np.isfinite(static) & (static > 0)):
        shown = static.item() if static.size == 1 else static
        raise ValueError(invalid(name, "positive finite values", shown))


def _is_keras_variable(value):
    import keras  # Local import: keras is heavy and only needed here.

    return isinstance(value, keras.Variable)


def convert_temperature(temperature, dtype, logits_shape, axis,
                        name="temperature"):
    """Checks `temperature` and shapes it to broadcast against the logits.

    A tensor temperature follows TFP's batch convention: it broadcasts to the
    logits' shape with `axis` removed. It is returned with a size-1 dimension
    inserted at `axis`, in `dtype`, so that `logits / temperature` broadcasts.
    With `axis=None` (element-wise ops) it broadcasts to the logits' shape.
    Static dimensions that cannot broadcast raise here, naming the argument.

    Args:
      logits_shape: the static `tf.TensorShape` of the logits (known rank).

    Returns:
      `(tau, is_python_number)`; for Python numbers `tau` is a float.
    """
    check_positive_finite(temperature, name)
    if isinstance(temperature, (int, float, np.number)):
        return float(temperature), True
    tau = to_dtype(temperature, dtype)
    rank = tau.shape.rank
    if rank is None:
        raise ValueError(unknown_rank(name, "a tensor of known rank"))
    dims = list(logits_shape)
    batch = dims if axis is None else dims[:axis] + dims[axis + 1:]
    batch_rank = len(batch)
    fits = rank <= batch_rank and all(
        t is None or b is None or t in (1, b)
        for t, b in zip(tau.shape.as_list()[::-1], batch[::-1]))
    if not fits:
        where = ("the logits' shape" if axis is None else
                 f"the logits' shape with axis {axis} removed")
        raise ValueError(
            invalid(name, f"a scalar or a tensor that broadcasts to {where}, "
                    f"{tf.TensorShape(batch)}", f"<tensor of shape {tau.shape}>")
        )
    if rank == 0 or axis is None:
        return tau, False
    for _ in range(batch_rank - rank):
        tau = tau[tf.newaxis]
    return tf.expand_dims(tau, axis), False


def check_bool(value, name):
    """Checks a Python (or NumPy) bool flag such as `hard`."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(invalid(name, "a Python bool", value))
    return bool(value)


def check_estimator(estimator, estimator_samples, known, hard):
    """Validates the estimator and its sample count.

    An estimator other than straight-through only acts on hard samples;
    asking for one with `hard=False` would be silently ignored, so it is an
    error.
    """
    if estimator not in known:
        raise ValueError(
            invalid("estimator", f"one of {sorted(known)}", estimator)
        )
    if (isinstance(estimator_samples, bool)
            or not isinstance(estimator_samples, (int, np.integer))
            or estimator_samples < 1):
        raise ValueError(
            invalid("estimator_samples", "an integer >= 1", estimator_samples)
        )
    if estimator != "straight_through" and not hard:
        raise ValueError(invalid(
            "estimator", "'straight_through' when hard=False (estimators act "
            "on hard samples; pass hard=True)", estimator))
