"""KL divergence of a categorical distribution to the uniform prior."""

from keras import ops

from keras_gumbel import _dtypes, _validation
from keras_gumbel.ops._nonfinite import Slices

__all__ = ["categorical_kl_uniform"]


def categorical_kl_uniform(logits, axis=-1):
    """`KL(Categorical(softmax(logits)) || Uniform(k))`, the VAE prior term.

    ```
    KL = sum_i q_i log q_i + log k,   q = softmax(logits)
    ```
    Entries with `q_i = 0` (`-inf` logits) contribute 0, not NaN. `+inf`
    logits share the whole mass (`KL = log k - log(number of +inf)`); a
    slice with a NaN logit, or with only `-inf` logits, gives NaN.

    Args:
      logits: float tensor of rank >= 1, with at least one category along
        `axis`.
      axis: the axis of the `k` categories; it is reduced.

    Returns:
      One KL value (in nats) per distribution, dtype of `logits`.

    Example:
    >>> import numpy as np
    >>> kl = categorical_kl_uniform(np.zeros([2, 5], "float32"))  # [0., 0.]
    """
    logits, axis = _validation.convert_categorical(logits, axis)
    slices = Slices(ops.cast(logits, _dtypes.compute_dtype(logits.dtype)),
                    axis)
    x = slices.categorical_logits()
    log_q = ops.log_softmax(x, axis=axis)
    k = ops.cast(ops.shape(x)[axis], x.dtype)
    q = ops.exp(log_q)
    # Where q = 0 (-inf logits) use 0 for log q: 0 * -inf would be NaN, in
    # the value and in the gradient.
    neg_entropy = ops.sum(q * ops.where(q > 0, log_q, 0.0), axis)
    kl = slices.mark_undefined(neg_entropy + ops.log(k), reduced=True)
    return ops.cast(kl, logits.dtype)
