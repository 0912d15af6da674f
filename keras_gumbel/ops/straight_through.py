"""The straight-through estimator: a hard forward value, an identity gradient."""

import numpy as np
import tensorflow as tf

from keras_gumbel.ops import _checks


def one_hot_argmax(z, axis, dtype):
    """`one_hot(argmax(z, axis))` along `axis` (non-negative), in `dtype`.

    Exactly one entry is 1 even when values tie (the first maximum wins).
    """
    if z.dtype in (tf.float16, tf.bfloat16):
        z = tf.cast(z, tf.float32)
    index = tf.argmax(z, axis=axis, output_type=tf.int32)
    hit = tf.one_hot(index, tf.shape(z)[axis], on_value=True, off_value=False,
                     axis=axis)
    # `z > inf` is always False, so `hit` is unchanged. It is there for XLA:
    # with the arg-max as the only reader of `z`, XLA fuses the computation
    # of `z` (noise generation, logarithms) into the row-wise arg-max loop,
    # which it runs unvectorized on one thread, 3x slower than computing `z`
    # in its own loop; a second, element-wise reader makes XLA compute `z`
    # once in its own loop. (Measured: README "Speed"; it costs about 5% on
    # a hard forward pass without XLA.)
    return tf.cast(hit | (z > np.inf), dtype)


def replace_forward(y, value):
    """Returns `value` in the forward pass and passes gradients to `y` as is.

    Unlike `y + stop_gradient(value - y)`, the forward value is exactly
    `value` (that expression may round, giving 0.99999994 instead of 1).
    """

    @tf.custom_gradient
    def _replace(y):
        def grad(upstream):
            return upstream

        return tf.identity(value), grad

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
    >>> y = tf.constant([[0.2, 0.7, 0.1]])
    >>> straight_through(y)  # [[0., 1., 0.]], d out / d y = identity
    """
    y = _checks.convert_logits(y, "y")
    axis = _checks.normalize_axis(axis, y.shape.rank)
    return replace_forward(y, one_hot_argmax(y, axis, y.dtype))
