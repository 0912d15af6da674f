"""The ops' laws, checked on every Keras backend against closed forms.

These are the backend-neutral counterparts of the TensorFlow files (which
also compare with TFP): each check runs under `KERAS_BACKEND=tensorflow`,
`jax` and `torch`, with the backend's own tensors and autodiff. Statistical
checks use `stats_utils.DELTA = 1e-8` per check and this file makes fewer
than 40, so a correct implementation fails a run with probability < 1e-6.
"""

import math

import keras
import numpy as np
import pytest
from scipy import special, stats

import keras_gumbel as kg
from tests import stats_utils
from tests.backend_utils import BACKEND, jit, to_numpy, value_and_grad

N = 100_000
PROBS = np.array([0.1, 0.2, 0.3, 0.4, 0.0])
LOGITS = np.log(PROBS).astype("float32")  # the last category is impossible


def rows(logits, n=N):
    return np.tile(logits, (n, 1))


def test_gumbel_max_frequencies():
    counts = to_numpy(kg.ops.gumbel_max(rows(LOGITS), seed=1)).sum(0)
    stats_utils.assert_chi_square(counts, PROBS)


@pytest.mark.parametrize("estimator", ["straight_through", "gumbel_rao",
                                       "reinmax"])
def test_hard_samples_are_exact_categorical_samples(estimator):
    samples = 3 if estimator == "gumbel_rao" else 1
    d = to_numpy(kg.ops.gumbel_softmax(
        rows(LOGITS), 0.3, hard=True, seed=2, estimator=estimator,
        estimator_samples=samples))
    assert np.all(d.sum(1) == 1) and set(np.unique(d)) <= {0.0, 1.0}
    stats_utils.assert_chi_square(d.sum(0), PROBS)


# tau >= 0.5: at smaller temperatures float32 rounds a visible fraction of
# samples to exactly 0 or 1 (at tau = 0.2 about 10%), which a KS test sees.
@pytest.mark.parametrize("tau", [0.5, 1.0, 3.0])
def test_two_category_relaxed_sample_is_a_tempered_logistic(tau):
    # y_1 = sigmoid((l_1 - l_2 + L) / tau), L standard logistic, so
    # P(y_1 <= t) = sigmoid(tau * logit(t) - (l_1 - l_2)).
    logits = np.array([0.7, -0.4], "float32")
    y1 = to_numpy(kg.ops.gumbel_softmax(rows(logits, 50_000), tau,
                                        seed=3))[:, 0]
    diff = float(logits[0] - logits[1])
    stats_utils.assert_ks_1samp(
        y1, lambda t: special.expit(tau * special.logit(t) - diff))


def test_relaxed_bernoulli_law_and_hard_frequencies():
    logit, tau = 0.6, 0.5
    y = to_numpy(kg.ops.relaxed_bernoulli(np.full([50_000], logit, "float32"),
                                          tau, seed=4))
    stats_utils.assert_ks_1samp(
        y, lambda t: special.expit(tau * special.logit(t) - logit))
    hard = to_numpy(kg.ops.relaxed_bernoulli(np.full([N], logit, "float32"),
                                             tau, hard=True, seed=5))
    assert set(np.unique(hard)) <= {0.0, 1.0}
    p = special.expit(logit)
    assert abs(hard.mean() - p) < stats_utils.hoeffding(N)


def test_gumbel_distribution():
    g = to_numpy(kg.ops.sample_gumbel([50_000], loc=1.5, scale=2.0, seed=6))
    assert np.all(np.isfinite(g))
    stats_utils.assert_ks_1samp(g, stats.gumbel_r(1.5, 2.0).cdf)
    x = np.linspace(-3, 8, 12).astype("float32")
    np.testing.assert_allclose(to_numpy(kg.ops.gumbel_log_prob(x, 1.5, 2.0)),
                               stats.gumbel_r(1.5, 2.0).logpdf(x), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(kg.ops.gumbel_cdf(x, 1.5, 2.0)),
                               stats.gumbel_r(1.5, 2.0).cdf(x), rtol=1e-5,
                               atol=1e-7)


def concrete_log_density(y, logits, tau):
    """NumPy (float64) closed form of the Concrete density."""
    k = y.shape[-1]
    log_pi = logits - special.logsumexp(logits, -1, keepdims=True)
    t = tau[..., None]
    return (special.gammaln(k) + (k - 1) * np.log(tau)
            + np.sum(log_pi - (t + 1) * np.log(y), -1)
            - k * special.logsumexp(log_pi - t * np.log(y), -1))


def test_concrete_log_density_matches_the_closed_form():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype("float32")
    y = rng.dirichlet(np.ones(4), size=6).astype("float32")
    tau = np.linspace(0.3, 2.0, 6).astype("float32")
    got = to_numpy(kg.ops.gumbel_softmax_log_prob(y, logits, tau))
    want = concrete_log_density(y.astype(np.float64), logits.astype(
        np.float64), tau.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-4)


@pytest.mark.skipif(BACKEND != "torch", reason="torch.distributions check")
def test_concrete_density_matches_torch_distributions():
    import torch

    rng = np.random.default_rng(1)
    logits = torch.tensor(rng.normal(size=(5, 3)))
    y = torch.tensor(rng.dirichlet(np.ones(3), size=5))
    dist = torch.distributions.RelaxedOneHotCategorical(
        torch.tensor(0.7, dtype=torch.float64), logits=logits)
    np.testing.assert_allclose(
        to_numpy(kg.ops.gumbel_softmax_log_prob(y, logits, 0.7)),
        dist.log_prob(y).numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        to_numpy(kg.ops.relaxed_bernoulli_log_prob(
            y[:, 0], logits[:, 0], 0.7)),
        torch.distributions.RelaxedBernoulli(
            torch.tensor(0.7, dtype=torch.float64),
            logits=logits[:, 0]).log_prob(y[:, 0]).numpy(), rtol=1e-6)


def test_relaxed_bernoulli_log_density_matches_the_closed_form():
    y = np.array([0.1, 0.5, 0.93], "float32")
    logits = np.array([0.3, -1.0, 2.0], "float32")
    tau = 0.8
    x = special.logit(y.astype(np.float64))
    z = tau * x - logits
    want = (np.log(tau) - z - 2 * np.log1p(np.exp(-z)) - np.log(y)
            - np.log1p(-y.astype(np.float64)))
    np.testing.assert_allclose(
        to_numpy(kg.ops.relaxed_bernoulli_log_prob(y, logits, tau)), want,
        rtol=1e-5)


def test_kl_to_uniform():
    logits = np.array([[0.0, 1.0, -np.inf], [2.0, 2.0, 2.0]], "float32")
    q = special.softmax(logits.astype(np.float64), -1)
    want = np.sum(special.xlogy(q, q), -1) + math.log(3)
    np.testing.assert_allclose(to_numpy(kg.ops.categorical_kl_uniform(logits)),
                               want, rtol=1e-6, atol=1e-7)


WEIGHTS = np.random.default_rng(7).normal(size=(64, 5)).astype("float32")


@pytest.mark.parametrize("tensor_tau", [False, True])
def test_straight_through_gradient_is_the_relaxed_gradient(tensor_tau):
    # Same seed, same noise: the hard sample's gradient (ST) is exactly the
    # gradient of the relaxed sample, for the logits and the temperature.
    logits = np.random.default_rng(8).normal(size=(64, 5)).astype("float32")
    tau = np.full([64], 0.7, "float32") if tensor_tau else 0.7

    def loss(hard):
        def f(x, *t):
            y = kg.ops.gumbel_softmax(x, t[0] if t else tau, hard=hard,
                                      seed=9)
            return keras.ops.multiply(y, WEIGHTS)
        return f

    args = (logits, tau) if tensor_tau else (logits,)
    hard, hard_grads = value_and_grad(loss(True), *args)
    relaxed, relaxed_grads = value_and_grad(loss(False), *args)
    d = hard / WEIGHTS
    np.testing.assert_array_equal(d.sum(1), 1.0)
    np.testing.assert_array_equal(
        d.argmax(1), (relaxed / WEIGHTS).argmax(1))
    for got, want in zip(hard_grads, relaxed_grads):
        assert np.all(np.isfinite(got)) and np.any(got != 0)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_straight_through_op_passes_the_gradient_unchanged():
    y = np.array([[0.2, 0.7, 0.1]], "float32")
    out, (grad,) = value_and_grad(
        lambda v: keras.ops.multiply(kg.ops.straight_through(v),
                                     WEIGHTS[:1, :3]), y)
    np.testing.assert_array_equal(out / WEIGHTS[:1, :3], [[0, 1, 0]])
    np.testing.assert_allclose(grad, WEIGHTS[:1, :3])


def jacobian_product(p, v):
    return p * v - p * np.sum(p * v, -1, keepdims=True)


def test_reinmax_gradient_formula_and_unbiased_for_linear_f():
    # The gradient of each row is a deterministic function of its sample D
    # (checked exactly), and the expectation of that function over D ~ pi
    # (enumerated) is the true gradient J(pi) w of E[w . D] at tau = 1.
    logits = np.array([0.3, -0.2, 1.1, 0.0], "float32")
    w = WEIGHTS[0, :4]
    n = 2_000
    out, (grad,) = value_and_grad(
        lambda x: keras.ops.multiply(kg.ops.gumbel_softmax(
            x, 1.0, hard=True, seed=10, estimator="reinmax"), w),
        rows(logits, n))
    pi = special.softmax(logits.astype(np.float64))

    def reinmax(d, tau=1.0):
        pi1 = 0.5 * (special.softmax(logits.astype(np.float64) / tau) + d)
        return jacobian_product(pi1, 2 * w) + jacobian_product(pi, -0.5 * w)

    d = out / w
    np.testing.assert_allclose(grad, reinmax(d), rtol=1e-4, atol=1e-6)
    # A sanity check of the law itself (NumPy only): E_D[reinmax(D)] = J(pi) w.
    expected = sum(pi[i] * reinmax(np.eye(4)[i]) for i in range(4))
    np.testing.assert_allclose(expected, jacobian_product(pi, w), atol=1e-12)


def test_gumbel_rao_gradient_is_finite_and_centred():
    logits = np.array([[0.3, -np.inf, 1.1, 0.0]] * 8, "float32")
    _, (grad,) = value_and_grad(
        lambda x: keras.ops.multiply(kg.ops.gumbel_softmax(
            x, 0.5, hard=True, seed=11, estimator="gumbel_rao",
            estimator_samples=4), WEIGHTS[:8, :4]),
        logits)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)
    np.testing.assert_array_equal(grad[:, 1], 0.0)
    np.testing.assert_allclose(grad.sum(1), 0.0, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_dtypes_are_kept_and_nothing_overflows(dtype):
    logits = np.array([[1e4, -1e4, 0.0, -np.inf]] * 1000, "float32")
    x = keras.ops.cast(logits, dtype)
    for tau in (1e-3, 1.0, 1e3):
        for hard in (False, True):
            y = kg.ops.gumbel_softmax(x, tau, hard=hard, seed=12)
            assert keras.backend.standardize_dtype(y.dtype) == dtype
            assert np.all(np.isfinite(to_numpy(keras.ops.cast(y, "float32"))))
        b = kg.ops.relaxed_bernoulli(x, tau, seed=13)
        assert np.all(np.isfinite(to_numpy(keras.ops.cast(b, "float32"))))


def test_seeds():
    x = rows(LOGITS, 4)
    same = [to_numpy(kg.ops.gumbel_softmax(x, seed=14)) for _ in range(2)]
    np.testing.assert_array_equal(*same)
    pair = np.array([14, 0], "int32")
    np.testing.assert_array_equal(
        to_numpy(kg.ops.gumbel_softmax(x, seed=pair)), same[0])
    fresh = [to_numpy(kg.ops.gumbel_softmax(x)) for _ in range(2)]
    assert not np.array_equal(*fresh)
    generator = keras.random.SeedGenerator(5)
    draws = [to_numpy(kg.ops.gumbel_softmax(x, seed=generator))
             for _ in range(2)]
    assert not np.array_equal(*draws)
    # sample_gumbel and gumbel_softmax with one seed share the noise.
    g = to_numpy(kg.ops.sample_gumbel([4, 5], seed=15))
    np.testing.assert_allclose(
        to_numpy(kg.ops.gumbel_softmax(np.zeros([4, 5], "float32"), seed=15)),
        special.softmax(g, -1), rtol=1e-5)
    with pytest.raises(TypeError, match="seed"):
        kg.ops.gumbel_max(x, seed="five")
    with pytest.raises(ValueError, match="seed"):
        kg.ops.gumbel_max(x, seed=np.array([1, 2, 3]))


def test_errors_name_the_argument():
    x = rows(LOGITS, 2)
    with pytest.raises(ValueError, match="temperature=0"):
        kg.ops.gumbel_softmax(x, 0.0)
    with pytest.raises(ValueError, match="temperature"):
        kg.ops.gumbel_softmax(x, np.array(-1.0, "float32"))
    with pytest.raises(TypeError, match="logits"):
        kg.ops.gumbel_softmax(np.array([[1, 2]], "int32"))
    with pytest.raises(ValueError, match="axis"):
        kg.ops.gumbel_softmax(x, axis=2)
    with pytest.raises(TypeError, match="hard"):
        kg.ops.gumbel_softmax(x, hard=1)
    with pytest.raises(ValueError, match="estimator_samples"):
        kg.ops.gumbel_softmax(x, hard=True, estimator_samples=3)


def test_compiled():
    # tf.function(jit_compile=True) on TF, jax.jit on JAX (torch: eager).
    x = rows(LOGITS, 8)
    seed = np.array([16, 0], "int32")
    f = jit(lambda v, s: kg.ops.gumbel_softmax(v, 0.5, hard=True, seed=s))
    d = to_numpy(f(x, seed))
    np.testing.assert_array_equal(d.sum(1), 1.0)
    np.testing.assert_array_equal(to_numpy(f(x, seed)), d)


@pytest.mark.skipif(BACKEND != "jax", reason="JAX tracing rule")
def test_seed_none_inside_jax_jit_is_a_clear_error():
    import jax

    with pytest.raises(ValueError, match="seed"):
        jax.jit(lambda v: kg.ops.gumbel_max(v))(rows(LOGITS, 2))
