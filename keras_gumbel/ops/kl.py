"""KL divergence of a categorical distribution to the uniform prior."""

import tensorflow as tf

from keras_gumbel.ops import _checks


def categorical_kl_uniform(logits, axis=-1):
    """`KL(Categorical(softmax(logits)) || Uniform(k))`, the VAE prior term.

    ```
    KL = sum_i q_i log q_i + log k,   q = softmax(logits)
    ```
    Entries with `q_i = 0` (`-inf` logits) contribute 0, not NaN.

    Args:
      logits: float tensor of rank >= 1.
      axis: the axis of the `k` categories; it is reduced.

    Returns:
      One KL value (in nats) per distribution, dtype of `logits`.

    Example:
    >>> categorical_kl_uniform(tf.zeros([2, 5]))  # [0., 0.]
    """
    logits = _checks.convert_logits(logits)
    axis = _checks.normalize_axis(axis, logits.shape.rank)
    x = tf.cast(logits, _checks.compute_dtype(logits.dtype))
    log_q = tf.nn.log_softmax(x, axis=axis)
    k = tf.cast(tf.shape(x)[axis], x.dtype)
    q = tf.exp(log_q)
    # Where q = 0 (-inf logits) use 0 for log q: 0 * -inf would be NaN, in
    # the value and in the gradient.
    neg_entropy = tf.reduce_sum(q * tf.where(q > 0, log_q, 0.0), axis)
    return tf.cast(neg_entropy + tf.math.log(k), logits.dtype)
