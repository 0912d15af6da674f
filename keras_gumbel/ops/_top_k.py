"""The mask of the k largest entries along an axis, exact under ties."""

import numpy as np
from keras import ops


def top_k_mask(z, k, axis):
    """Boolean mask of the `k` largest entries of `z` along `axis`.

    Exactly `k` entries are true per slice, ties broken by the lower index,
    except that `-inf` entries are never chosen: a slice with `c < k` finite
    entries gets those `c`. Works with unknown (TF graph) dimensions other
    than the static rank, under XLA, and on empty tensors.
    """
    rank = len(z.shape)
    if 0 in tuple(z.shape):
        # An empty batch: nothing to choose (Keras' min of an empty tensor
        # raises on TensorFlow and PyTorch).
        return ops.zeros_like(z, dtype="bool")
    last = axis == rank - 1
    # Non-negative axes: torch.onnx (2.13) writes `movedim`'s -1 as is into
    # an ONNX Transpose permutation, which ONNX Runtime refuses to load.
    values, _ = ops.top_k(z if last else ops.moveaxis(z, axis, rank - 1),
                          k, sorted=False)
    kth = ops.min(values, axis=-1, keepdims=True)  # the k-th largest
    if not last:
        kth = ops.moveaxis(kth, rank - 1, axis)
    above = z > kth
    # Gumbel ties are rare but possible after rounding: fill the remaining
    # places from the entries equal to the k-th value, lowest index first.
    tied = z == kth
    need = k - ops.sum(ops.cast(above, "int32"), axis=axis, keepdims=True)
    order = ops.cumsum(ops.cast(tied, "int32"), axis=axis)
    return (above | (tied & (order <= need))) & (z > -np.inf)
