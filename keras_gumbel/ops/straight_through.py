"""The straight-through estimator: a hard forward value, an identity gradient."""

from keras_gumbel import _dtypes, _validation
from keras_gumbel.ops._gradients import replace_forward
from keras_gumbel.ops._nonfinite import one_hot_argmax

__all__ = ["straight_through"]


def straight_through(y, axis=-1):
    """Straight-through argmax: `one_hot(argmax(y))` forward, identity backward.

    Ties go to the first maximum (`+inf` and `-inf` are ordinary values
    here); a slice holding a NaN comes out as NaN, on every backend.

    Args:
      y: float tensor of rank >= 1, for example a relaxed Gumbel-Softmax
        sample or a vector of probabilities, with at least one entry along
        `axis`.
      axis: the axis along which to take the argmax.

    Returns:
      An exactly one-hot tensor with the shape and dtype of `y`, whose
      gradient is passed to `y` unchanged.

    Example:
    >>> import numpy as np
    >>> d = straight_through(np.array([[0.2, 0.7, 0.1]], "float32"))
    >>> # d == [[0., 1., 0.]]; d out / d y = identity
    """
    y, axis = _validation.convert_categorical(y, axis, "y")
    return replace_forward(y, one_hot_argmax(y, axis, _dtypes.dtype_of(y)))
