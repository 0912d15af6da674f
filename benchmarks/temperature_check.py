"""Cost of the run-time temperature check in TensorFlow graphs.

A temperature tensor computed inside a `tf.function` is checked when the
graph runs (an `Assert` that it is positive and finite, issue 16). This
times `gumbel_softmax` forward + backward with a tensor temperature in
`tf.function`, with the check and with it replaced by the identity, in one
process, alternating, medians of 9 rounds, on a small and a large shape.
(Layers pass their temperature variable, which is not checked: no cost there.)

Usage, from the repository root (TensorFlow backend):
  python -m benchmarks.temperature_check
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this benchmark as a module from the "
                     "repository root: python -m benchmarks.temperature_check")

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_gumbel as kg  # noqa: E402
from benchmarks import _timing  # noqa: E402
from keras_gumbel import backend  # noqa: E402

SHAPES = ((64, 16), (4096, 1024))


def make(shape, check):
    x = tf.constant(np.random.default_rng(0).normal(size=shape)
                    .astype("float32"))

    def step(tau, seed):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = kg.ops.gumbel_softmax(x, tau, seed=seed)
        return tape.gradient(y, x)

    original = backend.check_positive_at_run_time
    if not check:
        backend.check_positive_at_run_time = lambda tau, name: tau
    try:  # Traced now, with or without the check.
        fn = tf.function(step)
        fn.get_concrete_function(tf.constant(0.5),
                                 tf.constant([1, 2], tf.int64))
    finally:
        backend.check_positive_at_run_time = original
    return fn


def main():
    if backend.NAME != "tensorflow":
        raise SystemExit("error: this benchmark times a TensorFlow graph: "
                         "run it with KERAS_BACKEND=tensorflow")
    for shape in SHAPES:
        fns = {check: make(shape, check) for check in (True, False)}
        calls = 200 if shape[0] * shape[1] < 10**5 else 5
        seeds = iter(range(10**9))
        times = _timing.measure(
            fns, 9, calls=calls, warmup=1,
            inputs=lambda n: [(tf.constant(0.5),
                               tf.constant([7, next(seeds)], tf.int64))
                              for _ in range(n)])
        with_check, without = (times[c].wall * 1e6 for c in (True, False))
        print(f"{shape[0]}x{shape[1]}: with the check {with_check:.1f} us, "
              f"without {without:.1f} us, ratio {with_check / without:.3f}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
