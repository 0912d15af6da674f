"""Reshapes that keep the leading (batch) dimensions, static or dynamic."""

from keras import ops

from keras_gumbel import backend


def reshape_tail(x, drop, tail, like=None):
    """Reshapes `x` to `like`'s shape with its last `drop` axes replaced by
    `tail` (`like` defaults to `x`).

    Uses the static leading shape where at most one dimension is unknown
    (always on JAX and PyTorch), else the dynamic one (TensorFlow graphs with
    unknown batch and time).
    """
    like = x if like is None else like
    lead = tuple(like.shape)[:-drop]
    if sum(d is None for d in lead) <= 1:
        return ops.reshape(x, tuple(-1 if d is None else d for d in lead)
                           + tuple(tail))
    shape = backend.shape_of(like)
    new_shape = ops.concatenate(
        [shape[:-drop], ops.convert_to_tensor(tail, dtype=shape.dtype)],
        axis=0)
    return ops.reshape(x, new_shape)
