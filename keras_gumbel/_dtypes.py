"""Dtype handling of the ops: compute in float32, or float64 for float64.

Half-precision inputs are computed in float32 and the result is cast back,
so noise, softmaxes and densities never overflow or underflow in float16 or
bfloat16.
"""

import keras
import numpy as np
from keras import ops

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def dtype_of(x):
    """The standardized dtype name of a tensor (`"float32"`, ...)."""
    return keras.backend.standardize_dtype(x.dtype)


def compute_dtype(dtype):
    """float64 stays float64; every other float dtype computes in float32."""
    return ("float64" if keras.backend.standardize_dtype(dtype) == "float64"
            else "float32")


def common_compute_dtype(*tensors):
    """float64 if any tensor is float64, else float32."""
    return ("float64" if any(dtype_of(t) == "float64" for t in tensors)
            else "float32")


def to_dtype(value, dtype):
    """Casts a tensor, or converts a Python/NumPy value exactly, to `dtype`.

    Converting 0.1 to float32 first and then to float64 would round it.
    """
    if isinstance(value, (int, float, np.number, np.ndarray, list, tuple)):
        return ops.convert_to_tensor(np.asarray(value, dtype=dtype))
    return ops.cast(value, dtype)


def rounding_tolerance(dtype):
    """`sqrt(eps)` of a float dtype: how far from an identity (a sum of
    probabilities equal to 1) a rounded value may be before it is wrong."""
    name = keras.backend.standardize_dtype(dtype)
    eps = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23,
           "float64": 2.0**-52}[name]
    return float(np.sqrt(eps))
