"""Bias, variance and speed of the hard Gumbel-Softmax gradient estimators.

Part 1: for k = 4 categories with probabilities (0.1, 0.2, 0.3, 0.4), the
exact gradient of E[f(D)] = sum_i softmax(logits)_i f(e_i) (by enumeration)
against each estimator's gradients over N independent samples (one batched
call, N identical rows of logits), for a linear f(D) = b.D and a quadratic
f(D) = D'AD + b.D. Columns: bias = ||mean - exact||, variance =
E||g - mean||^2 (sum over the k coordinates). Then the median wall time of
one compiled gradient step over the N-row batch (round-robin runs,
in-process).

Part 2: the polynomial programming task of Liu et al. 2023 (Section 6.1 and
the authors' `poly/poly_programming.py`): theta in R^{128 x 2}, initialised
U(-0.01, 0.01); X_j = D_j[0] with D_j ~ Categorical(softmax(theta_j));
minimise E[sum_j (X_j - 0.45)^2 / 128] with Adam (lr 1e-3), batch 64. The
optimum is 0.45^2 = 0.2025 (all X_j = 0). Printed: the exact expected loss
after a fixed number of steps, computed from softmax(theta).

Run from the repository root: `python -m benchmarks.estimators`
(about 2-3 minutes on a busy 2-core machine).
"""

if __name__ == "__main__" and not __package__:
    raise SystemExit("error: run this benchmark as a module from the "
                     "repository root: python -m benchmarks.estimators")

import time

import keras
import numpy as np
import tensorflow as tf

from benchmarks import _timing
from keras_gumbel.ops import gumbel_softmax

PROBS = np.array([0.1, 0.2, 0.3, 0.4])
B_LIN = np.array([1.0, -2.0, 3.0, 0.5])
A_QUAD = np.array([[0.0, 1.0, -1.0, 2.0],
                   [1.0, 0.5, 0.0, -1.0],
                   [-1.0, 0.0, -0.5, 1.5],
                   [2.0, -1.0, 1.5, 0.0]])
N = 2**14
TIMED_RUNS = 9
TEMPERATURES = (0.5, 1.0)
ESTIMATORS = (("straight_through", 1), ("gumbel_rao", 1), ("gumbel_rao", 10),
              ("gumbel_rao", 100), ("reinmax", 1))
POLY_STEPS = 1500
POLY_LATENT, POLY_BATCH, POLY_TARGET = 128, 64, 0.45


def label(estimator, samples):
    names = {"straight_through": "ST-GS", "reinmax": "ReinMax"}
    return names.get(estimator, f"GR-MC K={samples}")


def exact_gradient(quadratic):
    values = B_LIN + (np.diag(A_QUAD) if quadratic else 0.0)
    return PROBS * values - PROBS * np.sum(PROBS * values)


def gradient_step(estimator, samples, temperature, quadratic):
    """A compiled function: fresh samples, one gradient per row."""
    x = tf.constant(np.tile(np.log(PROBS), (N, 1)), tf.float32)
    b = tf.constant(B_LIN, tf.float32)
    a = tf.constant(A_QUAD, tf.float32)

    @tf.function
    def step(seed):
        with tf.GradientTape() as tape:
            tape.watch(x)
            d = gumbel_softmax(x, temperature, hard=True, seed=seed,
                               estimator=estimator, estimator_samples=samples)
            value = tf.reduce_sum(d * b)
            if quadratic:
                value += tf.reduce_sum(tf.einsum("ni,ij,nj->n", d, a, d))
        return tape.gradient(value, x)

    return step


def bias_variance_table():
    print(f"Gradient estimators vs the exact gradient, k=4, N={N} samples "
          f"(rows of one batched call); bias = norm(mean - exact), variance "
          f"= E[norm(g - mean)^2]\n")
    print("| f | tau | estimator | bias | variance |")
    print("| --- | --- | --- | --- | --- |")
    for quadratic in (False, True):
        exact = exact_gradient(quadratic)
        for tau in TEMPERATURES:
            for estimator, samples in ESTIMATORS:
                step = gradient_step(estimator, samples, tau, quadratic)
                g = step(tf.constant([1, 2], tf.int64)).numpy()
                g = g.astype(np.float64)
                bias = np.linalg.norm(g.mean(0) - exact)
                variance = np.sum(g.var(0))
                print(f"| {'quadratic' if quadratic else 'linear'} | {tau} | "
                      f"{label(estimator, samples)} | {bias:.4f} | "
                      f"{variance:.4f} |")
    print(f"\nMonte Carlo error of the bias: about sqrt(variance / {N}).")


def timing_table():
    """Interleaved timing (`benchmarks/_timing.py`): every round runs each
    estimator once, so load changes on a shared machine hit all of them
    alike; medians quoted."""
    steps = {(estimator, samples): gradient_step(estimator, samples, 1.0,
                                                 False)
             for estimator, samples in ESTIMATORS}
    seeds = iter(range(10**9))
    times = _timing.measure(
        steps, TIMED_RUNS, calls=1, warmup=1,
        inputs=lambda n: [(tf.constant([3, next(seeds)], tf.int64),)
                          for _ in range(n)])
    print()
    print(f"Time of one compiled gradient step (tf.function) over a [{N}, 4] "
          f"batch, median of {TIMED_RUNS} interleaved runs\n")
    print("| estimator | ms / step |")
    print("| --- | --- |")
    for (estimator, samples), t in times.items():
        print(f"| {label(estimator, samples)} | {1e3 * t.wall:.1f} |")


def poly_loss(theta):
    """Exact E[sum_j (X_j - c)^2] / n, X_j = 1 with prob softmax(theta_j)_0,
    one value per independent run (leading axis of `theta`)."""
    q = tf.nn.softmax(theta, -1)[..., 0]
    return tf.reduce_mean(q * (1 - POLY_TARGET) ** 2
                          + (1 - q) * POLY_TARGET ** 2, -1)


def poly_train(estimator, samples, tau, runs, seed=0):
    """Trains `runs` independent copies at once (stacked on a leading axis:
    the loss is their sum and Adam is element-wise, so they do not
    interact); returns the final exact losses and the mean wall time of a
    step after compilation."""
    rng = np.random.default_rng(seed)
    theta = tf.Variable(rng.uniform(-0.01, 0.01, (runs, POLY_LATENT, 2)),
                        dtype=tf.float32)
    optimizer = keras.optimizers.Adam(1e-3)
    generator = tf.random.Generator.from_seed(seed)

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            logits = tf.broadcast_to(theta[:, None],
                                     [runs, POLY_BATCH, POLY_LATENT, 2])
            d = gumbel_softmax(logits, tau, hard=True, seed=generator,
                               estimator=estimator, estimator_samples=samples)
            per_run = tf.reduce_mean(tf.reduce_sum(
                (d[..., 0] - POLY_TARGET) ** 2, -1) / POLY_LATENT, -1)
            loss = tf.reduce_sum(per_run)
        optimizer.apply_gradients([(tape.gradient(loss, theta), theta)])

    step()  # compiles
    seconds = _timing.time_block(step, POLY_STEPS - 1,
                                 sync_fn=lambda _: theta.numpy())[0]
    return poly_loss(theta).numpy(), seconds


def poly_table(runs=2):
    print()
    print(f"Polynomial programming (Liu et al. 2023), n={POLY_LATENT}, "
          f"batch {POLY_BATCH}, Adam 1e-3, {POLY_STEPS} steps, {runs} "
          f"independent runs; exact expected loss at the end (start 0.2525, "
          f"optimum 0.2025)\n")
    print("| tau | estimator | final loss, mean (min-max) | ms / step |")
    print("| --- | --- | --- | --- |")
    for tau in (0.5, 1.0):
        for estimator, samples in (("straight_through", 1),
                                   ("gumbel_rao", 10), ("reinmax", 1)):
            losses, seconds = poly_train(estimator, samples, tau, runs)
            print(f"| {tau} | {label(estimator, samples)} | "
                  f"{losses.mean():.4f} ({losses.min():.4f}-"
                  f"{losses.max():.4f}) | {1e3 * seconds:.1f} |")


if __name__ == "__main__":
    total = time.perf_counter()
    bias_variance_table()
    timing_table()
    poly_table()
    print(f"\ntotal {time.perf_counter() - total:.0f} s")
