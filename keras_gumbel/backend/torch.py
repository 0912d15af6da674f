"""PyTorch side of the seam: `torch.Generator` seeds, an autograd Function.

A seed is an int64 tensor of shape [2], like a user's tensor seed and the
state of Keras' `SeedGenerator`, so that `torch.compile` treats it as data
(a Python int would be a constant, compiled again for every new seed). Each
draw seeds its own `torch.Generator` from a hash of the pair: with
`first + second`, as Keras does, `SeedGenerator(5)`'s second draw would
equal `seed=6`. The hashing runs outside `torch.compile` (a generator
cannot be traced).
"""

import keras
import numpy as np
import torch

from keras_gumbel._messages import invalid
from keras_gumbel.backend._common import (MASK64, SEED_EXPECTED,
                                          check_int_seed, splitmix64,
                                          gumbel_noise_from_uniform, is_int,
                                          one_hot_argmax,
                                          seed_pair, shape_of, static_rank,
                                          sum_to_shape, xlogy)

__all__ = ["check_positive_at_run_time", "compile_loops", "custom_gradient", "draw_seed", "fold_in", "gumbel_noise",
           "is_variable", "lgamma", "one_hot_argmax", "row_max", "shape_of",
           "static_rank", "static_value", "sum_to_shape", "uniform", "xlogy"]

def _key(seed):
    """The 63-bit generator seed of a shape-[2] seed tensor."""
    first, second = (int(v) for v in seed.tolist())
    return splitmix64(splitmix64(first & MASK64) ^ (second & MASK64)) >> 1


def _pair(first, second=0):
    return torch.tensor([first, second], dtype=torch.int64)


def draw_seed(seed):
    """Returns an int64 tensor of shape [2].

    `None` draws it from torch's global generator (so `torch.manual_seed`
    makes runs repeatable).
    """
    if seed is None:
        return torch.randint(0, 2**62, (2,), dtype=torch.int64)
    if isinstance(seed, keras.random.SeedGenerator):
        return seed.next().to(torch.int64)
    if isinstance(seed, (bool, np.bool_)):
        raise TypeError(invalid("seed", SEED_EXPECTED, seed))
    if is_int(seed):
        return _pair(check_int_seed(seed))
    if isinstance(seed, (torch.Tensor, np.ndarray, list, tuple)):
        return seed_pair(seed).to(torch.int64)
    raise TypeError(invalid("seed", SEED_EXPECTED, seed))


@torch.compiler.disable
def fold_in(seed, data):
    if seed.device.type == "meta":
        return seed
    return _pair(splitmix64(_key(seed) ^ splitmix64(int(data) & MASK64)) >> 1)


@torch.compiler.disable
def uniform(shape, seed, dtype):
    """Uniform noise in [tiny, 1) (torch's values are never 1; tiny for 0)."""
    dtype = getattr(torch, keras.backend.standardize_dtype(dtype))
    device = keras.ops.zeros(()).device
    if device.type == "meta" or seed.device.type == "meta":
        # Shape inference: no values, and no generator there.
        return torch.rand(shape, dtype=dtype, device="meta")
    generator = torch.Generator(device=device)
    generator.manual_seed(_key(seed))
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


def row_max(x, axis):
    """`max` along `axis`, kept (NaN where a NaN is; empty batches allowed).

    `keras.ops.max` refuses empty tensors.
    """
    return torch.amax(x, dim=axis, keepdim=True)


def lgamma(x):
    """`log |Gamma(x)|` (keras.ops has none)."""
    return torch.lgamma(x)


def custom_gradient(fn):
    """`fn(*args) -> (output, grad)`, `grad(upstream)` -> one grad per arg."""

    def wrapper(*args):
        return _CustomGradient.apply(fn, *args)

    return wrapper


def check_positive_at_run_time(tau, name):
    """Values are checked when known (see `_checks`); inside a traced or
    compiled function there is no way to raise, as under XLA on TF."""
    return tau


def static_value(x):
    """The value of a tensor as NumPy (torch tensors are always concrete)."""
    if isinstance(x, torch.Tensor):
        if x.device.type == "meta":
            return None
        x = x.detach().cpu()
        # NumPy has no bfloat16: widen (exactly) to float32.
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


def is_variable(x):
    return isinstance(x, keras.Variable)


def compile_loops(fn):
    """`fn` run eagerly without recording gradients (for integer results
    computed with `keras.ops` loops)."""
    return torch.no_grad()(fn)
