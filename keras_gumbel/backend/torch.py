"""PyTorch side of the seam: `torch.Generator` seeds, an autograd Function.

A seed is a non-negative Python int below 2**63 (so it is also a valid
`seed` argument), from which each draw seeds its own
`torch.Generator`. Seeds of Keras' `SeedGenerator` (`[seed, counter]`) and
derived seeds are mixed with a hash, not added: with `first + second`,
`SeedGenerator(5)`'s second draw would equal `seed=6`.
"""

import keras
import numpy as np
import torch

from keras_gumbel._messages import invalid
from keras_gumbel.backend._common import (SEED_EXPECTED, check_int_seed,
                                          gumbel_noise_from_uniform, is_int,
                                          one_hot_argmax, replica_fold_in,
                                          seed_pair, shape_of, static_rank,
                                          sum_to_shape, xlogy)

__all__ = ["custom_gradient", "draw_seed", "fold_in", "gumbel_noise",
           "is_variable", "one_hot_argmax", "replica_fold_in", "shape_of",
           "static_rank", "static_value", "sum_to_shape", "uniform", "xlogy"]

_MASK64 = 2**64 - 1


def _mix(value):
    """SplitMix64's finalizer: a bijective hash of a 64-bit int."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK64
    return value ^ (value >> 31)


def _from_pair(first, second):
    mixed = _mix(_mix(int(first) & _MASK64) ^ (int(second) & _MASK64))
    return mixed >> 1


@torch.compiler.disable
def draw_seed(seed):
    """Returns a Python int in [0, 2**63).

    `None` draws it from torch's global generator (so `torch.manual_seed`
    makes runs repeatable).
    """
    if seed is None:
        return int(torch.randint(0, 2**62, ()).item())
    if isinstance(seed, keras.random.SeedGenerator):
        state = seed.next()
        if state.device.type == "meta":  # Keras' shape inference: no data.
            return 0
        first, second = keras.ops.convert_to_numpy(state).tolist()
        return _from_pair(first, second)
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(invalid("seed", SEED_EXPECTED, seed))
    if is_int(seed):
        return _from_pair(check_int_seed(seed), 0)
    if isinstance(seed, (torch.Tensor, np.ndarray, list, tuple)):
        first, second = keras.ops.convert_to_numpy(seed_pair(seed)).tolist()
        return _from_pair(first, second)
    raise TypeError(invalid("seed", SEED_EXPECTED, seed))


def fold_in(seed, data):
    return _mix(seed ^ _mix(int(data) & _MASK64)) >> 1


@torch.compiler.disable
def uniform(shape, seed, dtype):
    """Uniform noise in [tiny, 1) (torch's values are never 1; tiny for 0)."""
    dtype = getattr(torch, keras.backend.standardize_dtype(dtype))
    device = keras.ops.zeros(()).device
    if device.type == "meta":  # Shape inference: no generator there.
        return torch.rand(shape, dtype=dtype, device=device)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    v = torch.rand(shape, generator=generator, dtype=dtype, device=device)
    return torch.clamp_min(v, torch.finfo(dtype).tiny)


def gumbel_noise(shape, seed, dtype):
    return gumbel_noise_from_uniform(uniform(shape, seed, dtype))


class _CustomGradient(torch.autograd.Function):
    """Runs `fn` without autograd and backpropagates with its `grad`."""

    @staticmethod
    def forward(ctx, fn, *args):
        output, ctx.grad_fn = fn(*args)
        return output

    @staticmethod
    def backward(ctx, upstream):
        grads = ctx.grad_fn(upstream)
        if not isinstance(grads, tuple):
            grads = (grads,)
        return (None,) + grads


def custom_gradient(fn):
    """`fn(*args) -> (output, grad)`, `grad(upstream)` -> one grad per arg."""

    def wrapper(*args):
        return _CustomGradient.apply(fn, *args)

    return wrapper


def static_value(x):
    """The value of a tensor as NumPy (torch tensors are always concrete)."""
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            return None
        return x.detach().cpu().numpy()
    return np.asarray(x)


def is_variable(x):
    return isinstance(x, keras.Variable)
