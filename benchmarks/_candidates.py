"""The speed benchmarks' one table of candidates, per backend.

`benchmarks.ops` (TensorFlow against TFP and PyTorch), `benchmarks.backends`
(JAX and PyTorch) and `benchmarks.accelerator` (CPU or GPU) time the same
samplers at the same shapes; they take them from here:

- `SHAPES`, `TAU`: the CPU benchmarks' logits shapes and temperature;
- `gumbel_softmax_samplers(backend)`: `{name: sample(x, seed)}`, with
  `ours` / `ours_hard` (`keras_gumbel.ops.gumbel_softmax`, relaxed and
  straight-through), `floor` (one uniform draw and one softmax,
  `softmax(x + u)`: the least a sampler that draws noise and normalises
  must do; the `+` gives it a gradient to the logits), and the references
  of the backend (`tfp` on TensorFlow, `torch` / `torch_hard`:
  `torch.nn.functional.gumbel_softmax` on PyTorch);
- `make_pass(backend, sample, x, w, backward, mode)`: one compiled forward
  or forward + backward pass (the gradient of `sum(y * w)` w.r.t. the
  logits, `w` fixed), called as `fn(seed)`;
- `seed_inputs(backend)`: fresh seeds for `_timing.measure(inputs=...)`,
  tensors made outside the clock (a constant seed would let a compiler fold
  the noise into a constant and time nothing).

Modes: TensorFlow "graph" (`tf.function`) and "xla" (`jit_compile=True`),
JAX "jit", PyTorch "eager" and "compile" (`torch.compile`).
"""

import itertools

import numpy as np

__all__ = ["SHAPES", "TAU", "data", "gumbel_softmax_samplers", "make_pass",
           "seed_inputs"]

SHAPES = ((4096, 1024), (65536, 16), (64, 32768))
TAU = 0.5


def data(shape, seed=0):
    """Float32 NumPy logits `x` (scale 2) and weights `w` of `shape`."""
    rng = np.random.default_rng(seed)
    return ((rng.normal(size=shape) * 2.0).astype(np.float32),
            rng.normal(size=shape).astype(np.float32))


def _floor(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        return lambda x, s: tf.nn.softmax(x + tf.random.stateless_uniform(
            x.shape, s, dtype=x.dtype, alg="philox"))
    if backend == "jax":
        import jax

        return lambda x, s: jax.nn.softmax(x + jax.random.uniform(
            s, x.shape, x.dtype))
    import torch

    return lambda x, s: torch.softmax(x + torch.rand_like(x), -1)


def _references(backend, use_tfp):
    if backend == "tensorflow" and use_tfp:
        import tensorflow as tf
        import tensorflow_probability as tfp

        def tfp_sample(x, s):
            dist = tfp.distributions.RelaxedOneHotCategorical(TAU, logits=x)
            return dist.sample(seed=tf.cast(s, tf.int32))

        return {"tfp": tfp_sample}
    if backend == "torch":
        from torch.nn.functional import gumbel_softmax as f

        return {"torch": lambda x, s: f(x, tau=TAU),
                "torch_hard": lambda x, s: f(x, tau=TAU, hard=True)}
    return {}


def gumbel_softmax_samplers(backend, use_tfp=False):
    """`{name: sample(x, seed)}` on `backend` (see the module docstring)."""
    import keras_gumbel.ops as kops

    samplers = {
        "ours": lambda x, s: kops.gumbel_softmax(x, TAU, seed=s),
        "ours_hard": lambda x, s: kops.gumbel_softmax(x, TAU, hard=True,
                                                      seed=s),
        "floor": _floor(backend),
    }
    samplers.update(_references(backend, use_tfp))
    return samplers


def _tf_pass(sample, x, w, backward, mode):
    import tensorflow as tf

    def fn(s):
        if not backward:
            return sample(x, s)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.cast(sample(x, s), w.dtype) * w)
        return tape.gradient(loss, x)

    return tf.function(fn, jit_compile=(mode == "xla"), autograph=False)


def _jax_pass(sample, x, w, backward):
    import jax
    import jax.numpy as jnp

    if backward:
        step = jax.jit(jax.grad(
            lambda x, s: jnp.sum(sample(x, s).astype(w.dtype) * w)))
    else:
        step = jax.jit(sample)
    return lambda s: step(x, s)


def _torch_pass(sample, x, w, backward, mode):
    import torch

    if mode == "compile":
        sample = torch.compile(sample)
    if not backward:
        def fn(s):
            with torch.no_grad():
                return sample(x, s)
        return fn
    xg = x.detach().clone().requires_grad_(True)

    def fn(s):
        (grad,) = torch.autograd.grad((sample(xg, s) * w).sum(), xg)
        return grad

    return fn


def make_pass(backend, sample, x, w, backward, mode=None):
    """`fn(seed)`: one forward (`backward=False`) or forward + backward pass.

    Args:
      backend: "tensorflow", "jax" or "torch".
      sample: `sample(x, seed)`, as in `gumbel_softmax_samplers`.
      x, w: the backend's logits and weights tensors.
      backward: bool; True returns the gradient of `sum(y * w)` w.r.t. `x`.
      mode: "graph" or "xla" (TensorFlow), "eager" or "compile" (PyTorch);
        JAX is always `jax.jit`.
    """
    if backend == "tensorflow":
        return _tf_pass(sample, x, w, backward, mode)
    if backend == "jax":
        return _jax_pass(sample, x, w, backward)
    return _torch_pass(sample, x, w, backward, mode)


def seed_inputs(backend):
    """`inputs(n)`: `n` fresh seed tensors of `backend`, as 1-tuples."""
    counter = itertools.count(1)
    if backend == "tensorflow":
        import tensorflow as tf

        make = lambda: tf.constant([next(counter), 12345], tf.int64)  # noqa
    elif backend == "jax":
        import jax.numpy as jnp

        make = lambda: jnp.array([next(counter), 7], jnp.uint32)  # noqa
    else:
        import torch

        make = lambda: torch.tensor([next(counter), 7])  # noqa
    return lambda n: [(make(),) for _ in range(n)]
