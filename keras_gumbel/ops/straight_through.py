"""The straight-through estimator: a hard forward value, an identity gradient."""

from keras import ops

from keras_gumbel import backend
from keras_gumbel.ops import _checks

__all__ = ["straight_through"]


def one_hot_argmax(z, axis, dtype):
    """`one_hot(argmax(z, axis))` along `axis` (non-negative), in `dtype`.

    Exactly one entry is 1 even when values tie (the first maximum wins).
    """
    return backend.one_hot_argmax(z, axis, dtype)


def replace_forward(y, value):
    """Returns `value` in the forward pass and passes gradients to `y` as is.

    Unlike `y + stop_gradient(value - y)`, the forward value is exactly
    `value` (that expression may round, giving 0.99999994 instead of 1).
    """

    @backend.custom_gradient
    def _replace(y):
        def grad(upstream):
            return upstream

        return ops.copy(value), grad

    return _replace(y)


def straight_through(y, axis=-1):
    """Straight-through argmax: `one_hot(argmax(y))` forward, identity backward.

    Args:
      y: float tensor of rank >= 1, for example a relaxed Gumbel-Softmax
        sample or a vector of probabilities.
      axis: the axis along which to take the argmax.

    Returns:
      An exactly one-hot tensor with the shape and dtype of `y`, whose
      gradient is passed to `y` unchanged.

    Example:
    >>> import numpy as np
    >>> d = straight_through(np.array([[0.2, 0.7, 0.1]], "float32"))
    >>> # d == [[0., 1., 0.]]; d out / d y = identity
    """
    y = _checks.convert_logits(y, "y")
    axis = _checks.normalize_axis(axis, _checks.known_rank(y, "y"))
    return replace_forward(y, one_hot_argmax(y, axis, _checks.dtype_of(y)))
