"""The Gumbel-Max trick: exact categorical samples as one-hot vectors."""

from keras import ops

from keras_gumbel import backend
from keras_gumbel import _dtypes, _validation
from keras_gumbel.ops._nonfinite import Slices

__all__ = ["gumbel_max"]


def gumbel_max(logits, axis=-1, seed=None):
    """Draws an exact one-hot sample of `Categorical(softmax(logits))`.

    ```
    index = argmax_i(logits_i + g_i),   g_i ~ Gumbel(0, 1) i.i.d.
    ```
    Entries with `logits = -inf` (probability zero) are never drawn; a
    `+inf` entry is drawn with probability 1, uniformly among the `+inf`
    entries of its slice when there are several. A slice with a NaN logit,
    or with only `-inf` logits, has no distribution: its output is NaN, on
    every backend.

    Args:
      logits: float tensor of rank >= 1, unnormalized log-probabilities,
        with at least one category along `axis`.
      axis: the axis of the categories.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A one-hot tensor with the shape and dtype of `logits`. It carries no
      gradient; use `gumbel_softmax(..., hard=True)` for one that does.

    Example:
    >>> import numpy as np
    >>> d = gumbel_max(np.log([[0.2, 0.3, 0.5]]), seed=0)
    """
    logits, axis = _validation.convert_categorical(logits, axis)
    slices = Slices(ops.cast(logits, _dtypes.compute_dtype(logits.dtype)),
                    axis)
    x = slices.categorical_logits()
    z = x + backend.gumbel_noise(backend.shape_of(x), backend.draw_seed(seed),
                                 _dtypes.dtype_of(x))
    sample = slices.mark_undefined(
        backend.one_hot_argmax(z, axis, _dtypes.dtype_of(x)))
    return ops.stop_gradient(ops.cast(sample, logits.dtype))
