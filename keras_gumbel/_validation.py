"""Argument validation for the whole package: one home, one policy.

- A wrong type raises `TypeError`, a wrong value `ValueError`; both name the
  argument and the value received, in Keras' form:
  ```text
  ValueError: Invalid value received for argument `temperature`. Expected a
  positive finite float. Received: temperature=0
  ```
- Checks run on static information (Python values, static shapes and
  dtypes, constant tensors) so that bad input fails when a function or a
  constructor is called, or an op traced. Values only known when a compiled
  step runs are not checked here (see `backend.check_positive_at_run_time`).

Used by the ops, the layers, the schedules, the callback and export.
"""

import math
import numbers

import numpy as np
from keras import ops

from keras_gumbel import backend
from keras_gumbel._messages import invalid, unknown_rank
from keras_gumbel._dtypes import (FLOAT_DTYPES, common_compute_dtype,
                                  dtype_of, to_dtype)

__all__ = []  # Internal: the package's modules import what they need.


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _expected(kind, minimum, maximum, exclusive_minimum):
    """"a positive int", "a non-negative finite float", "an int >= 3", ..."""
    if maximum is None and minimum == 0:
        return f"a {'positive' if exclusive_minimum else 'non-negative'} {kind}"
    if maximum is None and minimum == 1 and kind == "int":
        return "a positive int"
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{article} {kind}" + (f" {' and '.join(parts)}" if parts else "")


def check_bool(value, name):
    """Returns a Python or NumPy bool as `bool`; `TypeError` otherwise."""
    if not _is_bool(value):
        raise TypeError(invalid(name, "a Python bool", value))
    return bool(value)


def check_int(value, name, minimum=None, maximum=None, allow_none=False):
    """Returns a Python or NumPy integer (not a bool) as `int`.

    `TypeError` for another type; `ValueError` outside `[minimum, maximum]`.
    """
    if value is None and allow_none:
        return None
    expected = _expected("int", minimum, maximum, False) + (
        " or None" if allow_none else "")
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(invalid(name, expected, value))
    if ((minimum is not None and value < minimum)
            or (maximum is not None and value > maximum)):
        raise ValueError(invalid(name, expected, value))
    return int(value)


def check_float(value, name, minimum=None, maximum=None,
                exclusive_minimum=False, allow_none=False):
    """Returns a finite real Python or NumPy number as `float`.

    `TypeError` for another type (bools included); `ValueError` for NaN,
    infinities and values outside the bounds (`minimum` exclusive when
    `exclusive_minimum`).
    """
    if value is None and allow_none:
        return None
    expected = _expected("finite float", minimum, maximum,
                         exclusive_minimum) + (
        " or None" if allow_none else "")
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(invalid(name, expected, value))
    number = float(value)
    low_ok = minimum is None or (number > minimum if exclusive_minimum
                                 else number >= minimum)
    high_ok = maximum is None or number <= maximum
    if not (math.isfinite(number) and low_ok and high_ok):
        raise ValueError(invalid(name, expected, number))
    return number


def check_positive_float(value, name):
    """Returns a positive finite real number as `float` (see `check_float`)."""
    return check_float(value, name, minimum=0, exclusive_minimum=True)


def check_choice(value, name, choices):
    """Returns `value` if it is one of `choices`; `ValueError` otherwise."""
    if isinstance(value, str) and value in choices:
        return value
    raise ValueError(invalid(name, f"one of {tuple(choices)}", value))


def check_stretch_limits(limits, name="limits"):
    """Returns the stretch interval `(gamma, zeta)` of a hard concrete gate.

    A pair of finite real numbers with `gamma < 0 < 1 < zeta` (so that both
    0 and 1 carry mass), as a tuple of floats; `TypeError` for another type,
    `ValueError` for other values.
    """
    expected = "a pair (gamma, zeta) of finite floats with gamma < 0 < 1 < zeta"
    if isinstance(limits, np.ndarray):
        limits = limits.tolist()
    if not isinstance(limits, (list, tuple)) or any(
            _is_bool(v) or not isinstance(v, numbers.Real) for v in limits):
        raise TypeError(invalid(name, expected, limits))
    if len(limits) != 2 or not all(math.isfinite(v) for v in limits):
        raise ValueError(invalid(name, expected, limits))
    gamma, zeta = float(limits[0]), float(limits[1])
    if not gamma < 0.0 < 1.0 < zeta:
        raise ValueError(invalid(name, expected, limits))
    return gamma, zeta


def _expected_float(name, received):
    return (f"Invalid dtype for argument `{name}`. Expected a floating-point "
            f"tensor (float16, bfloat16, float32 or float64). "
            f"Received: {name}.dtype={received}")


def _host_dtype_kind(x):
    """The NumPy dtype kind of Python/NumPy input, or None for a tensor.

    Strings, bytes, objects and None are refused before any backend sees
    them (JAX and torch would raise their own, unrelated errors).
    """
    if x is None or isinstance(x, (str, bytes)):
        return "O"
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype.kind
    if isinstance(x, (list, tuple)):
        try:
            return np.asarray(x).dtype.kind
        except ValueError:  # Ragged nesting.
            return "O"
    return None


def check_host_input(x, name):
    """`TypeError` for Python/NumPy input that is not numeric (strings,
    None, objects, complex); tensors and numbers pass unchecked."""
    kind = _host_dtype_kind(x)
    if kind is not None and kind not in "biuf":
        shown = type(x).__name__ if kind == "O" else np.asarray(x).dtype
        raise TypeError(_expected_float(name, shown))


def convert_float_tensor(x, name):
    """Converts `x` to a tensor and checks that its dtype is floating point.

    Python floats become float32; NumPy arrays keep their dtype (float64
    needs `jax_enable_x64` on JAX, as everywhere in JAX). Anything else
    (ints, bools, strings, None, complex numbers) raises `TypeError` naming
    the argument, on every backend.
    """
    check_host_input(x, name)
    try:
        x = ops.convert_to_tensor(x)
    except (TypeError, ValueError) as error:
        raise TypeError(_expected_float(name, type(x).__name__)) from error
    if dtype_of(x) not in FLOAT_DTYPES:
        raise TypeError(_expected_float(name, dtype_of(x)))
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


def normalize_axis(axis, rank, name="axis"):
    """Returns `axis` as a non-negative int, or raises naming the argument."""
    axis = check_int(axis, name)
    if not -rank <= axis < rank:
        raise ValueError(
            invalid(name, f"an integer in [{-rank}, {rank}) for logits of "
                    f"rank {rank}", axis)
        )
    return axis % rank


def check_categories(shape, axis, name="logits"):
    """Raises `ValueError` if dimension `axis` of `shape` is 0.

    A distribution over zero categories has nothing to draw; the backends
    would return an empty tensor, or fail in their own `argmax`. Unknown
    (None) dimensions are not checked.
    """
    shape = tuple(shape)
    if shape[axis] is not None and shape[axis] == 0:
        raise ValueError(invalid(
            name, f"at least one category along axis {axis}",
            f"<tensor of shape {shape}>"))


def convert_categorical(logits, axis, name="logits"):
    """`convert_logits`, `normalize_axis` and `check_categories` in one.

    Returns:
      `(logits, axis)`: the float tensor and the non-negative axis.
    """
    logits = convert_logits(logits, name)
    axis = normalize_axis(axis, known_rank(logits, name))
    check_categories(logits.shape, axis, name)
    return logits, axis


def check_shape(shape, name="shape"):
    """Checks a sample shape: a sequence of ints >= 0 or a 1-D int tensor.

    Returns:
      A tuple of Python ints, or the integer tensor itself when its values
      are only known when a TF graph runs.
    """
    expected = "a list or tuple of ints >= 0, or a 1-D integer tensor"
    if isinstance(shape, (list, tuple)):
        for dim in shape:
            if _is_bool(dim) or not isinstance(dim, numbers.Integral):
                raise TypeError(invalid(name, expected, shape))
            if dim < 0:
                raise ValueError(invalid(name, expected, shape))
        return tuple(int(d) for d in shape)
    if (not hasattr(shape, "dtype") and hasattr(shape, "__iter__")
            and not isinstance(shape, (str, bytes, dict))):
        return check_shape(list(shape), name)  # e.g. a `tf.TensorShape`
    if not hasattr(shape, "dtype") or isinstance(shape, np.generic):
        raise TypeError(invalid(name, expected, shape))
    if "int" not in str(dtype_of(shape)) or len(shape.shape) != 1:
        raise TypeError(invalid(
            name, expected, f"<{dtype_of(shape)} tensor of shape "
            f"{tuple(shape.shape)}>"))
    static = (shape if isinstance(shape, np.ndarray)
              else backend.static_value(shape))
    if static is None:
        return shape
    return check_shape([int(d) for d in np.asarray(static)], name)


def check_real(value, name):
    """Checks a location-like argument: a finite number, or a real tensor.

    Python and NumPy numbers must be finite (`ValueError`); strings, None
    and complex values raise `TypeError`. Tensor values are not checked.
    """
    if isinstance(value, (numbers.Number, np.generic)) and not isinstance(
            value, (str, bytes)):
        return check_float(value, name)
    kind = _host_dtype_kind(value)
    if kind is None:
        kind = "f" if dtype_of(value) in FLOAT_DTYPES or "int" in str(
            dtype_of(value)) else "O"
    if kind not in "iuf":
        raise TypeError(invalid(name, "a real number or tensor", value))
    return value


def check_positive_finite(value, name):
    """Checks a Python number, NumPy value or constant tensor is > 0 and finite.

    Variables and symbolic or traced tensors are not checked here: their
    value is only known when the step runs.
    """
    if _is_bool(value):
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


def check_estimator(estimator, estimator_samples, known, hard):
    """Validates the estimator and its sample count.

    An estimator other than straight-through only acts on hard samples, and
    `estimator_samples` only on Gumbel-Rao; asking for either where it would
    be silently ignored is an error.
    """
    check_choice(estimator, "estimator", known)
    estimator_samples = check_int(estimator_samples, "estimator_samples",
                                  minimum=1)
    if estimator != "straight_through" and not hard:
        raise ValueError(invalid(
            "estimator", "'straight_through' when hard=False (estimators act "
            "on hard samples; pass hard=True)", estimator))
    if estimator != "gumbel_rao" and estimator_samples != 1:
        raise ValueError(invalid(
            "estimator_samples", f"1 with estimator={estimator!r} (only "
            f"'gumbel_rao' draws several samples)", estimator_samples))
    return estimator_samples


def _static_shape(x):
    shape = getattr(x, "shape", None)
    return tuple(np.shape(x)) if shape is None else tuple(shape)


def check_broadcast(x, name, other, other_name):
    """Checks that the static shapes of `x` and `other` broadcast.

    Raises a `ValueError` naming `name` (and `other_name`) when two known
    dimensions differ and neither is 1, so that every backend fails the same
    way, when the op is called or traced. Unknown (TF graph) dimensions are
    not checked.
    """
    shape, other_shape = _static_shape(x), _static_shape(other)
    for a, b in zip(shape[::-1], other_shape[::-1]):
        if a is not None and b is not None and a != b and 1 not in (a, b):
            raise ValueError(invalid(
                name, f"a tensor whose shape broadcasts with the shape of "
                f"`{other_name}`, {other_shape}", f"<tensor of shape {shape}>"))


def convert_square_matrices(x, name="log_alpha"):
    """Converts `x` to a float tensor `[..., n, n]` (rank >= 2, square).

    The last two dimensions must be equal where both are static; `n` itself
    may be unknown in a TensorFlow graph.
    """
    x = convert_float_tensor(x, name)
    rank = known_rank(x, name, 2)
    if rank < 2:
        raise ValueError(invalid(
            name, "a tensor of rank >= 2 (square matrices in the last two "
            "axes)", f"<tensor of shape {tuple(x.shape)}>"))
    rows, columns = x.shape[-2], x.shape[-1]
    if rows is not None and columns is not None and rows != columns:
        raise ValueError(invalid(
            name, "square matrices in the last two axes ([..., n, n])",
            f"<tensor of shape {tuple(x.shape)}>"))
    return x


def convert_density_arguments(points, name, logits, temperature, axis=None):
    """Checks and converts the arguments of a relaxed density.

    Args:
      points: where the density is evaluated, named `name`; its static shape
        must broadcast with the logits' (sample dimensions in front allowed).
      logits: float logits; of rank >= 1 when `axis` is given.
      temperature: checked as in `convert_temperature`.
      axis: the category axis of `logits`, or None for element-wise densities.

    Returns:
      `(points, logits, tau, cdt, axis, points_axis)`: the two float tensors
      in their own dtypes, the temperature in the common compute dtype `cdt`,
      the non-negative `axis` and the same axis counted in the broadcast of
      `points` (both None for element-wise densities).
    """
    if axis is None:
        logits = convert_float_tensor(logits, "logits")
        known_rank(logits, "logits")
    else:
        logits = convert_logits(logits)
    points = convert_float_tensor(points, name)
    check_broadcast(points, name, logits, "logits")
    points_axis = None
    if axis is not None:
        points_rank = known_rank(points, name)
        rank = known_rank(logits, "logits")
        axis = normalize_axis(axis, rank)
        points_axis = axis + max(points_rank - rank, 0)
    cdt = common_compute_dtype(points, logits)
    tau, _ = convert_temperature(temperature, cdt, tuple(logits.shape), axis)
    return points, logits, to_dtype(tau, cdt), cdt, axis, points_axis
