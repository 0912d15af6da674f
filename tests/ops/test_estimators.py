"""Tests for the Gumbel-Rao and ReinMax estimators of gumbel_softmax(hard=True).

The reference is the exact gradient of `E[f(D)] = sum_i softmax(logits)_i
f(e_i)` by enumeration over the k categories, for a linear and a quadratic
`f`. Each estimator's gradients are drawn in one batched call: `N` identical
rows of logits, one independent sample per row.

Bounds (each test fails with probability < 1e-6 for a correct
implementation):
- Means: Hoeffding, with the range of the per-row gradient bounded from the
  formulas. For the softmax Jacobian `J(p)(v)_i = p_i (v_i - p.v)
  = p_i (1 - p_i) (v_i - w)` with `w` a weighted mean of the other `v_j`, so
  `|J(p)(v)_i| <= range(v) / 4`. Hence `|ST-GS / GR gradient_i| <=
  R / (4 tau)` and `|ReinMax gradient_i| <= (2 + 1/2) R / 4`, where `R` bounds
  `max_j u_j - min_j u_j` of the upstream gradient `u = grad f(D)`.
- Forward distributions: the chi-square quantile at 1e-7 per test.
- Conditional noise marginals: the DKW inequality.
"""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from keras_gumbel.ops import _estimators as estimators, gumbel_softmax
from keras_gumbel.backend import draw_seed

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

PROBS = np.array([0.1, 0.2, 0.3, 0.4])
LOGITS = np.log(PROBS)
CLASSES = PROBS.size
B_LIN = np.array([1.0, -2.0, 3.0, 0.5])
A_QUAD = np.array([[0.0, 1.0, -1.0, 2.0],
                   [1.0, 0.5, 0.0, -1.0],
                   [-1.0, 0.0, -0.5, 1.5],
                   [2.0, -1.0, 1.5, 0.0]])  # symmetric
N = 2**18
DELTA = 1e-7  # per union-bound term; at most 8 terms per test


def samples_for(estimator, samples):
    """Only Gumbel-Rao takes more than one sample (others reject it)."""
    return samples if estimator == "gumbel_rao" else 1


def _f(d, quadratic):
    """f(D) = b.D (+ D'AD), summed over rows; upstream u = b (+ 2AD)."""
    value = tf.reduce_sum(d * B_LIN.astype(np.float32), -1)
    if quadratic:
        value += tf.einsum("ni,ij,nj->n", d, A_QUAD.astype(np.float32), d)
    return tf.reduce_sum(value)


def _upstream_range(quadratic):
    """max over D of (max_j u_j - min_j u_j), u the upstream gradient."""
    us = [B_LIN + (2.0 * A_QUAD @ e if quadratic else 0.0)
          for e in np.eye(CLASSES)]
    return max(u.max() - u.min() for u in us)


def _jacobian(p, v):
    return p * v - p * np.sum(p * v, -1, keepdims=True)


def _exact_gradient(quadratic):
    """d/dlogits sum_i softmax_i f(e_i) = J(pi)(f(e_1), ..., f(e_k))."""
    values = B_LIN + (np.diag(A_QUAD) if quadratic else 0.0)
    return _jacobian(PROBS, values)


def _samples_and_gradients(estimator, quadratic, temperature=1.0, samples=1,
                           seed=0, n=N):
    x = tf.constant(np.tile(LOGITS, (n, 1)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        d = gumbel_softmax(x, temperature, hard=True, seed=seed,
                           estimator=estimator,
                           estimator_samples=samples_for(estimator, samples))
        loss = _f(d, quadratic)
    return d.numpy(), tape.gradient(loss, x).numpy().astype(np.float64)


def _hoeffding(half_range, n, terms=CLASSES, delta=DELTA):
    """t with P(|mean - E| >= t) <= delta for each of `terms` means of n
    variables in an interval of length 2 * half_range (union bound)."""
    return 2 * half_range * np.sqrt(np.log(2 * terms / delta) / (2 * n))


@pytest.mark.parametrize("estimator",
                         ["straight_through", "gumbel_rao", "reinmax"])
def test_forward_is_an_exact_categorical_sample(estimator):
    d, _ = _samples_and_gradients(estimator, False, temperature=0.3,
                                  samples=3, seed=11, n=2**16)
    np.testing.assert_array_equal(d.sum(-1), 1.0)
    assert set(np.unique(d)) == {0.0, 1.0}
    counts = d.sum(0)
    expected = PROBS * d.shape[0]
    chi2 = np.sum((counts - expected) ** 2 / expected)
    # Pearson's statistic is asymptotically chi-square with k - 1 = 3 dof;
    # its 1 - 1e-7 quantile is 35.4 (expected counts >= 6500).
    assert chi2 < stats.chi2.isf(DELTA, CLASSES - 1), chi2


@pytest.mark.parametrize("estimator", ["gumbel_rao", "reinmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_same_sample_as_straight_through_for_the_same_seed(estimator, axis):
    logits = tf.random.stateless_normal([5, 6, 7], seed=[1, 2]) * 3.0
    for seed in (3, tf.constant([4, 5])):
        reference = gumbel_softmax(logits, 0.5, hard=True, axis=axis,
                                   seed=seed)
        relaxed = gumbel_softmax(logits, 0.5, axis=axis, seed=seed)
        argmax = tf.one_hot(tf.argmax(relaxed, axis), 7 if axis == -1 else 5,
                            axis=axis)
        for _ in range(2):  # an int seed gives the same sample every call
            d = gumbel_softmax(logits, 0.5, hard=True, axis=axis, seed=seed,
                               estimator=estimator,
                           estimator_samples=samples_for(estimator, 4))
            np.testing.assert_array_equal(d, reference)
        np.testing.assert_array_equal(reference, argmax)


def test_gumbel_rao_k1_matches_straight_through_in_mean():
    """K=1 has the law of ST-GS; the quadratic f makes the upstream gradient
    depend on D, so the conditioning on the sampled index matters."""
    _, st = _samples_and_gradients("straight_through", True, seed=1)
    _, gr = _samples_and_gradients("gumbel_rao", True, seed=2)
    # Independent means: the difference of paired rows lies in
    # [-2B, 2B], B = R / (4 tau), so Hoeffding's bound applies to it.
    tol = _hoeffding(2 * _upstream_range(True) / 4, N)
    np.testing.assert_array_less(np.abs(st.mean(0) - gr.mean(0)), tol)
    # ST-GS is biased for this f (by about 0.09 in the third coordinate),
    # more than a single mean's Hoeffding bound (0.03) can explain.
    single = _hoeffding(_upstream_range(True) / 4, N)
    assert np.max(np.abs(st.mean(0) - _exact_gradient(True))) > single


def test_gumbel_rao_variance_falls_with_more_samples():
    """Var(GR-K) = Var(E[g | D]) + E[Var(g | D)] / K."""
    _, k1 = _samples_and_gradients("gumbel_rao", False, samples=1, seed=3)
    _, k10 = _samples_and_gradients("gumbel_rao", False, samples=10, seed=4)
    v1, v10 = k1.var(0).sum(), k10.var(0).sum()
    # Traces measured at this N: 0.2025 and 0.0760, standard errors 3e-4 and
    # 1.1e-4 (std of the per-row squared deviation / sqrt(N); every term is
    # bounded, |g_i| <= range(b) / 4 = 1.25). The margin
    # 0.75 * 0.2025 - 0.076 = 0.076 is over 200 standard errors: under the
    # CLT a false failure has probability far below 1e-6.
    assert v10 < 0.75 * v1, (v1, v10)
    # And the average cannot move the mean: Hoeffding as above.
    tol = _hoeffding(2 * _upstream_range(False) / 4, N)
    np.testing.assert_array_less(np.abs(k1.mean(0) - k10.mean(0)), tol)


@pytest.mark.parametrize("quadratic", [False, True])
def test_reinmax_is_unbiased_for_quadratic_f_at_temperature_one(quadratic):
    _, g = _samples_and_gradients("reinmax", quadratic, seed=5)
    tol = _hoeffding(2.5 * _upstream_range(quadratic) / 4, N)
    np.testing.assert_array_less(np.abs(g.mean(0) - _exact_gradient(quadratic)),
                                 tol)


@pytest.mark.parametrize("quadratic", [False, True])
def test_reinmax_expectation_by_enumeration(quadratic):
    """ReinMax's gradient is a function of D: its expectation is a finite
    sum, exact at tau = 1 and biased at tau = 0.5 (DESIGN.md)."""
    x = tf.constant(np.tile(LOGITS, (CLASSES, 1)))
    d = tf.constant(np.eye(CLASSES))
    upstream = B_LIN + (2.0 * A_QUAD if quadratic else 0.0)  # row i: D = e_i
    for tau, unbiased in ((1.0, True), (0.5, False)):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = estimators.reinmax(x, d, tau, axis=1)
        per_d = tape.gradient(out, x, output_gradients=tf.constant(upstream))
        np.testing.assert_array_equal(out, d)
        mean = PROBS @ per_d.numpy()
        # Against the closed form of the estimator, independent of TF.
        pi1 = 0.5 * (PROBS ** (1 / tau) / np.sum(PROBS ** (1 / tau))
                     + np.eye(CLASSES))
        closed = (_jacobian(pi1, 2 * upstream)
                  - _jacobian(PROBS, 0.5 * upstream))
        np.testing.assert_allclose(per_d, closed, atol=1e-12)
        error = np.abs(mean - _exact_gradient(quadratic)).max()
        assert (error < 1e-12) if unbiased else (error > 0.05), (tau, error)


def test_conditional_gumbel_is_consistent_and_marginally_gumbel():
    """(D, G) with G ~ Gumbel | argmax(x + G) = D has the law of (D, g):
    argmax(x + G_k) = D for every draw, and each G_j is standard Gumbel."""
    n, samples = 2**15, 4
    x = tf.constant(np.tile(LOGITS, (n, 1)))
    g = -tf.math.log(-tf.math.log(
        tf.random.stateless_uniform([n, CLASSES], [7, 8], dtype=tf.float64)))
    d = tf.one_hot(tf.argmax(x + g, -1), CLASSES, dtype=tf.float64)
    noise = estimators.conditional_gumbel(x, d, 1, samples, [9, 10]).numpy()
    assert noise.shape == (samples, n, CLASSES)
    np.testing.assert_array_equal(
        np.argmax(x.numpy() + noise, -1), np.broadcast_to(
            np.argmax(d, -1), (samples, n)))
    # DKW: P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2) for each of the
    # samples * CLASSES = 16 empirical CDFs (each over n rows, independent).
    eps = np.sqrt(np.log(2 * samples * CLASSES / DELTA) / (2 * n))
    for column in noise.transpose(0, 2, 1).reshape(-1, n):
        ks = stats.kstest(column, stats.gumbel_r.cdf).statistic
        assert ks < eps, ks


@pytest.mark.parametrize("axis", [-1, 0])
def test_gumbel_rao_gradient_matches_autodiff_of_its_definition(axis):
    logits = tf.random.stateless_normal([3, 5], seed=[3, 4], dtype=tf.float64)
    tau = tf.linspace(tf.constant(0.5, tf.float64), 2.0,
                      logits.shape[1 - axis % 2])
    upstream = tf.random.stateless_normal([3, 5], [5, 6], dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([logits, tau])
        d = gumbel_softmax(logits, tau, hard=True, axis=axis, seed=21,
                           estimator="gumbel_rao", estimator_samples=6)
    grads = tape.gradient(d, [logits, tau], output_gradients=upstream)
    # Reference: the same conditional noise, held constant, and TF's own
    # gradient of mean_k softmax((logits + G_k) / tau).
    seed = tf.random.experimental.stateless_fold_in(
        draw_seed(21), tf.constant(1, tf.int64), alg="philox")
    noise = estimators.conditional_gumbel(logits, d, axis % 2, 6, seed)
    with tf.GradientTape() as tape:
        tape.watch([logits, tau])
        scaled = (logits + noise) / tf.expand_dims(tau, axis)
        y = tf.reduce_mean(tf.nn.softmax(scaled, axis=axis % 2 + 1), 0)
    expected = tape.gradient(y, [logits, tau], output_gradients=upstream)
    for got, want in zip(grads, expected):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("estimator", ["gumbel_rao", "reinmax"])
def test_runs_under_xla(estimator):
    logits = tf.Variable(tf.random.stateless_normal([8, 5], seed=[1, 1]))

    @tf.function(jit_compile=True)
    def step(seed):
        with tf.GradientTape() as tape:
            d = gumbel_softmax(logits, 0.5, hard=True, seed=seed,
                               estimator=estimator,
                           estimator_samples=samples_for(estimator, 3))
            st = gumbel_softmax(logits, 0.5, hard=True, seed=seed)
            loss = tf.reduce_sum(d * tf.range(5.0))
        return d, st, tape.gradient(loss, logits)

    d, st, grad = step(tf.constant([5, 6], tf.int64))
    np.testing.assert_array_equal(d, st)
    np.testing.assert_array_equal(tf.reduce_sum(d, -1), 1.0)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


@pytest.mark.parametrize("estimator", ["gumbel_rao", "reinmax"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_dtypes_are_kept_and_finite(estimator, dtype):
    logits = tf.cast(tf.random.stateless_normal([16, 6], [2, 2]) * 4, dtype)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        d = gumbel_softmax(logits, 0.1, hard=True, seed=1,
                           estimator=estimator,
                           estimator_samples=samples_for(estimator, 5))
        loss = tf.reduce_sum(d * tf.cast(tf.range(6.0), dtype))
    grad = tape.gradient(loss, logits)
    assert d.dtype == dtype and grad.dtype == dtype
    np.testing.assert_array_equal(tf.reduce_sum(tf.cast(d, tf.float32), -1),
                                  1.0)
    assert np.all(np.isfinite(tf.cast(grad, tf.float32)))


@pytest.mark.parametrize("estimator", ["gumbel_rao", "reinmax"])
@pytest.mark.parametrize("temperature", [1e-3, 1.0, 1e3])
def test_extreme_logits_and_temperatures(estimator, temperature):
    logits = tf.constant([[0.0, -np.inf, 1e4, -1e4, 2.0],
                          [-np.inf, 1.0, -np.inf, 1.5, -1e4],
                          [1e4, 1e4 - 1.0, -np.inf, 0.0, -1e4]] * 64)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        d = gumbel_softmax(logits, temperature, hard=True, seed=4,
                           estimator=estimator,
                           estimator_samples=samples_for(estimator, 7))
        loss = tf.reduce_sum(d * [[1.0, -2.0, 3.0, 0.5, 4.0]])
    grad = tape.gradient(loss, logits).numpy()
    neg_inf = np.isneginf(logits.numpy())
    assert np.all(d.numpy()[neg_inf] == 0)  # never drawn
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(grad[neg_inf], 0.0)
    # The second row has two finite logits close together: its gradient
    # is not degenerate at moderate temperature.
    if temperature == 1.0:
        assert np.any(grad[1::3] != 0)


def test_temperature_gradient_gumbel_rao_and_not_reinmax():
    logits = tf.random.stateless_normal([4, 5], seed=[8, 8])
    tau = tf.Variable([0.5, 1.0, 2.0, 4.0])
    grads = {}
    for estimator in ("gumbel_rao", "reinmax"):
        with tf.GradientTape() as tape:
            d = gumbel_softmax(logits, tau, hard=True, seed=2,
                               estimator=estimator,
                           estimator_samples=samples_for(estimator, 3))
            loss = tf.reduce_sum(d * tf.range(5.0))
        grads[estimator] = tape.gradient(loss, tau)
    assert grads["gumbel_rao"].shape == (4,)
    assert np.all(np.isfinite(grads["gumbel_rao"]))
    assert np.any(grads["gumbel_rao"] != 0)
    assert grads["reinmax"] is None


def test_estimator_samples_only_with_gumbel_rao():
    # Issue 16: it would be silently ignored by the other estimators.
    for estimator in ("straight_through", "reinmax"):
        with pytest.raises(ValueError, match="estimator_samples.*Received: "
                           "estimator_samples=5"):
            gumbel_softmax(tf.zeros([2, 3]), 0.5, hard=True,
                           estimator=estimator, estimator_samples=5)


@pytest.mark.parametrize("samples, error", [
    (0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_estimator_samples(samples, error):
    with pytest.raises(error, match="estimator_samples"):
        gumbel_softmax([[0.0, 1.0]], hard=True, estimator="gumbel_rao",
                       estimator_samples=samples)


@pytest.mark.parametrize("estimator", ["gumbel_rao", "reinmax"])
def test_unknown_dimensions_in_a_graph(estimator):
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32),
                                  tf.TensorSpec([None], tf.float32)])
    def step(logits, tau):
        with tf.GradientTape() as tape:
            tape.watch([logits, tau])
            d = gumbel_softmax(logits, tau, hard=True, seed=3,
                               estimator=estimator,
                           estimator_samples=samples_for(estimator, 2))
            loss = tf.reduce_sum(d * tf.range(tf.cast(tf.shape(d)[1],
                                                      tf.float32)))
        return (d,) + tuple(tape.gradient(loss, [logits, tau]))

    logits = tf.random.stateless_normal([6, 4], seed=[1, 3])
    d, grad, dtau = step(logits, tf.fill([6], 0.7))
    np.testing.assert_array_equal(tf.reduce_sum(d, -1), 1.0)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)
    if estimator == "gumbel_rao":
        assert dtau.shape == (6,) and np.all(np.isfinite(dtau))
    else:
        assert dtau is None


@pytest.mark.parametrize("seed", [7, [7, 8]])
def test_int_or_tensor_seed_gives_the_same_gradient_every_call(seed):
    logits = tf.random.stateless_normal([16, 5], seed=[4, 4])
    grads = []
    for _ in range(2):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            d = gumbel_softmax(logits, 0.5, hard=True, seed=tf.constant(seed)
                               if isinstance(seed, list) else seed,
                               estimator="gumbel_rao", estimator_samples=3)
            loss = tf.reduce_sum(d * tf.range(5.0))
        grads.append(tape.gradient(loss, logits))
    np.testing.assert_array_equal(grads[0], grads[1])
    with tf.GradientTape() as tape:  # another seed, other conditional noise
        tape.watch(logits)
        d = gumbel_softmax(logits, 0.5, hard=True, seed=8,
                           estimator="gumbel_rao", estimator_samples=3)
        loss = tf.reduce_sum(d * tf.range(5.0))
    assert np.any(tape.gradient(loss, logits) != grads[0])
