"""Forward + backward time of `log_gumbel_softmax` next to `gumbel_softmax`.

Both draw the same noise; the log-space op returns `log_softmax` (automatic
differentiation) where `gumbel_softmax` returns `softmax` (a hand-written
backward pass). Each step computes `sum(w * op(logits, tau))` and its
gradient with respect to the logits, compiled the backend's way
(`tf.function(jit_compile=True)`, `jax.jit`; PyTorch eagerly), at
temperature 0.5, on a small and a large shape. Timing: `benchmarks._timing`
(interleaved rounds, medians of 11 blocks).

Usage, from the repository root, on any backend:
  KERAS_BACKEND=jax python -m benchmarks.log_space
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this benchmark as a module from the "
                     "repository root: python -m benchmarks.log_space")

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gumbel as kg  # noqa: E402
from benchmarks import _timing  # noqa: E402

SHAPES = ((64, 16), (1024, 1024))
TAU = 0.5


def fwd_bwd(op, x, w):
    """A compiled function returning the gradient of `sum(w * op(x))`."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(w * op(x, TAU, seed=0))
            return tape.gradient(loss, x)

        return lambda: step(x)
    if backend == "jax":
        import jax

        step = jax.jit(jax.grad(lambda x: (w * op(x, TAU, seed=0)).sum()))
        return lambda: step(x)
    import torch

    def step():
        leaf = x.detach().requires_grad_(True)
        (w * op(leaf, TAU, seed=0)).sum().backward()
        return leaf.grad

    return step


def main():
    print(f"backend {keras.backend.backend()}, temperature {TAU}, "
          f"load {os.getloadavg()[0]:.1f}")
    for shape in SHAPES:
        rng = np.random.default_rng(0)
        x = keras.ops.convert_to_tensor(rng.normal(size=shape)
                                        .astype("float32"))
        w = keras.ops.convert_to_tensor(rng.normal(size=shape)
                                        .astype("float32"))
        times = _timing.measure({
            "gumbel_softmax": fwd_bwd(kg.ops.gumbel_softmax, x, w),
            "log_gumbel_softmax": fwd_bwd(kg.ops.log_gumbel_softmax, x, w),
        }, rounds=11, min_block=0.05)
        base = times["gumbel_softmax"].wall
        log = times["log_gumbel_softmax"].wall
        print(f"{str(shape):>14}  gumbel_softmax {base * 1e3:8.3f} ms  "
              f"log_gumbel_softmax {log * 1e3:8.3f} ms  "
              f"(log / plain: {log / base:.2f})")


if __name__ == "__main__":
    main()
