"""KL divergence of a categorical distribution to the uniform prior."""

from keras import ops

from keras_gumbel import _dtypes, _validation

__all__ = ["categorical_kl_uniform"]


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
    >>> import numpy as np
    >>> kl = categorical_kl_uniform(np.zeros([2, 5], "float32"))  # [0., 0.]
    """
    logits = _validation.convert_logits(logits)
    axis = _validation.normalize_axis(axis, _validation.known_rank(logits, "logits"))
    x = ops.cast(logits, _dtypes.compute_dtype(logits.dtype))
    log_q = ops.log_softmax(x, axis=axis)
    k = ops.cast(ops.shape(x)[axis], x.dtype)
    q = ops.exp(log_q)
    # Where q = 0 (-inf logits) use 0 for log q: 0 * -inf would be NaN, in
    # the value and in the gradient.
    neg_entropy = ops.sum(q * ops.where(q > 0, log_q, 0.0), axis)
    return ops.cast(neg_entropy + ops.log(k), logits.dtype)
