"""Tests for keras_gumbel.ops.log_space, on every backend (TFP where marked).

Backend-neutral references: the same-noise identities with `gumbel_softmax`
and `relaxed_bernoulli`, and NumPy/SciPy closed forms in float64. The one
statistical check (a KS test, `stats_utils.DELTA = 1e-8`) fails a correct
implementation with probability below 1e-8.
"""

import keras
import numpy as np
import pytest
from scipy import special, stats

import keras_gumbel as kg
from tests import stats_utils
from tests.backend_utils import jit, to_numpy, value_and_grad

ops = kg.ops
LOGITS = np.log([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]).astype("float32")


def _log_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    return x - special.logsumexp(x, axis=axis, keepdims=True)


def _exp_concrete_log_prob(x, logits, tau):
    """Maddison et al. (2017), eq. 24, in NumPy float64 (last axis)."""
    x, logits = np.asarray(x, np.float64), np.asarray(logits, np.float64)
    k = x.shape[-1]
    tau = np.asarray(tau, np.float64)[..., None]
    return (special.gammaln(k) + (k - 1) * np.log(tau[..., 0])
            + np.sum(_log_softmax(logits - tau * x), -1))


# ------------------------------------------------------------------ samples

@pytest.mark.parametrize("axis", [-1, 0])
def test_log_gumbel_softmax_is_the_log_of_gumbel_softmax(axis):
    logits = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    batch = logits.shape[1] if axis == 0 else logits.shape[0]
    for tau in [1.0, 0.3, np.linspace(0.1, 2.0, batch).astype("float32")]:
        x = to_numpy(ops.log_gumbel_softmax(logits, tau, axis=axis, seed=7))
        y = to_numpy(ops.gumbel_softmax(logits, tau, axis=axis, seed=7))
        np.testing.assert_allclose(np.exp(x), y, rtol=2e-5, atol=1e-7)
        np.testing.assert_allclose(special.logsumexp(x, axis=axis), 0.0,
                                   atol=1e-5)


def test_logit_relaxed_bernoulli_is_the_logit_of_relaxed_bernoulli():
    logits = np.linspace(-3, 3, 12).astype("float32").reshape(3, 4)
    for tau in [1.0, 0.25, np.full((3, 4), 0.7, "float32")]:
        z = to_numpy(ops.logit_relaxed_bernoulli(logits, tau, seed=3))
        y = to_numpy(ops.relaxed_bernoulli(logits, tau, seed=3))
        np.testing.assert_allclose(special.expit(z), y, rtol=1e-5, atol=1e-7)


def test_samples_at_small_temperature_stay_finite_and_informative():
    logits = np.tile(LOGITS[:1], (1000, 1))
    x = to_numpy(ops.log_gumbel_softmax(logits, 1e-3, seed=1))
    assert np.all(np.isfinite(x))
    # Where the simplex samples are vertices (almost all rows), the log
    # samples still differ.
    vertex = np.exp(x).max(-1) == 1.0
    assert vertex.mean() > 0.9
    assert len(np.unique(x[vertex].min(-1))) == vertex.sum()
    z = to_numpy(ops.logit_relaxed_bernoulli(logits, 1e-3, seed=1))
    assert np.all(np.isfinite(z)) and np.abs(z).min() > 0


def test_logit_relaxed_bernoulli_is_logistic():
    # KS test against Logistic(logits / tau, 1 / tau): DELTA = 1e-8.
    z = to_numpy(ops.logit_relaxed_bernoulli(np.full([20_000], 0.8, "float32"),
                                             0.4, seed=11))
    stats_utils.assert_ks_1samp(
        z, stats.logistic(loc=0.8 / 0.4, scale=1 / 0.4).cdf)


def test_seed_generator_advances_and_seed_none_is_fresh():
    gen = keras.random.SeedGenerator(5)
    a = to_numpy(ops.log_gumbel_softmax(LOGITS, 0.5, seed=gen))
    b = to_numpy(ops.log_gumbel_softmax(LOGITS, 0.5, seed=gen))
    assert not np.array_equal(a, b)
    gen = keras.random.SeedGenerator(5)
    y = to_numpy(ops.gumbel_softmax(LOGITS, 0.5, seed=gen))
    np.testing.assert_allclose(np.exp(a), y, rtol=2e-5, atol=1e-7)


def test_gradients_match_the_closed_form_with_tensor_temperature():
    logits = LOGITS
    tau = np.array([0.5, 2.0], "float32")
    g = to_numpy(ops.sample_gumbel(logits.shape, seed=4))
    w = np.array([[1.0, -2.0, 0.5], [0.3, 0.0, 1.0]], "float32")

    def f(lg, t):
        return keras.ops.multiply(ops.log_gumbel_softmax(lg, t, seed=4), w)

    _, (d_logits, d_tau) = value_and_grad(f, logits, tau)
    z = (logits + g).astype(np.float64)
    t = tau[:, None].astype(np.float64)
    y = np.exp(_log_softmax(z / t))
    # d sum(w * log_softmax(s)) / ds = w - y sum(w); s = z / tau.
    ds = w - y * w.sum(-1, keepdims=True)
    np.testing.assert_allclose(d_logits, ds / t, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(d_tau, np.sum(ds * -z / t ** 2, -1),
                               rtol=1e-4, atol=1e-5)


def test_logit_sample_gradients():
    logits = np.array([0.5, -1.0], "float32")
    tau = np.array([0.5, 2.0], "float32")
    z, (d_logits, d_tau) = value_and_grad(
        lambda lg, t: ops.logit_relaxed_bernoulli(lg, t, seed=2), logits, tau)
    np.testing.assert_allclose(d_logits, 1 / tau, rtol=1e-6)
    np.testing.assert_allclose(d_tau, -z / tau, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_computed_in_float32(dtype):
    half = keras.ops.cast(LOGITS, dtype)
    logits32 = to_numpy(keras.ops.cast(half, "float32"))
    x = ops.log_gumbel_softmax(half, 0.5, seed=3)
    z = ops.logit_relaxed_bernoulli(half, 0.5, seed=3)
    assert keras.backend.standardize_dtype(x.dtype) == dtype
    assert keras.backend.standardize_dtype(z.dtype) == dtype
    rtol = 1e-2 if dtype == "bfloat16" else 1e-3
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(x, "float32")),
        to_numpy(ops.log_gumbel_softmax(logits32, 0.5, seed=3)),
        rtol=rtol, atol=rtol)
    lp = ops.log_gumbel_softmax_log_prob(x, half, 0.5)
    assert keras.backend.standardize_dtype(lp.dtype) == dtype
    assert np.all(np.isfinite(to_numpy(keras.ops.cast(lp, "float32"))))


def test_compiled():
    def f(logits, tau):
        x = ops.log_gumbel_softmax(logits, tau, seed=3)
        z = ops.logit_relaxed_bernoulli(logits, tau[:, None], seed=3)
        return (ops.log_gumbel_softmax_log_prob(x, logits, tau),
                ops.logit_relaxed_bernoulli_log_prob(z, logits, tau[:, None]))

    tau = np.array([0.5, 0.01], "float32")
    eager = [to_numpy(v) for v in f(LOGITS, tau)]
    compiled = [to_numpy(v) for v in jit(f)(LOGITS, tau)]
    for a, b in zip(eager, compiled):
        np.testing.assert_allclose(a, b, rtol=1e-5)
        assert np.all(np.isfinite(a))


# ---------------------------------------------------------------- densities

@pytest.mark.parametrize("tau", [2.0, 0.5, 0.01, 1e-3])
def test_exp_concrete_density_matches_the_closed_form(tau):
    logits = np.tile(LOGITS, (200, 1))
    x = ops.log_gumbel_softmax(logits, tau, seed=8)
    got = to_numpy(ops.log_gumbel_softmax_log_prob(x, logits, tau))
    want = _exp_concrete_log_prob(to_numpy(x), logits, tau)
    assert np.all(np.isfinite(got))
    # float32 rounding of tau * x, relative to |x| ~ 1 / tau.
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_exp_concrete_density_integrates_to_one():
    # k = 2: the density is w.r.t. the log-ratio s = x1 - x2, that is
    # x = log_sigmoid([s, -s]) for s in R.
    logits = np.array([0.4, -0.3], "float32")
    s = np.linspace(-80.0, 80.0, 20_001)
    x = -np.logaddexp(0.0, -np.stack([s, -s], -1))
    for tau in [0.3, 1.0, 3.0]:
        p = np.exp(to_numpy(ops.log_gumbel_softmax_log_prob(
            x.astype("float32"), logits, tau)))
        np.testing.assert_allclose(np.trapezoid(p, s),
                                   1.0, atol=1e-4)


def test_exp_concrete_density_batch_temperature_axis_and_sample_dims():
    tau = np.array([0.5, 3.0], "float32")
    x = to_numpy(ops.log_gumbel_softmax(np.tile(LOGITS, (5, 1, 1)), tau,
                                        seed=1))  # [5, 2, 3]
    want = _exp_concrete_log_prob(x, LOGITS, tau)
    got = to_numpy(ops.log_gumbel_softmax_log_prob(x, LOGITS, tau))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    got0 = to_numpy(ops.log_gumbel_softmax_log_prob(
        np.swapaxes(x, 1, 2), LOGITS.T, tau, axis=0))
    np.testing.assert_allclose(got0, want, rtol=1e-5, atol=1e-5)


def test_logistic_density_matches_scipy():
    logits = np.array([[-2.0], [0.0], [3.0]], "float32")
    z = np.array([-50.0, -1.0, 0.0, 2.0, 400.0], "float32")
    for tau in [1e-3, 0.5, 4.0]:
        got = to_numpy(ops.logit_relaxed_bernoulli_log_prob(z, logits, tau))
        want = stats.logistic(loc=logits.astype(np.float64) / tau,
                              scale=1 / tau).logpdf(z.astype(np.float64))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)


def test_densities_outside_the_support():
    logits = LOGITS[0]
    x = to_numpy(ops.log_gumbel_softmax(logits, 0.5, seed=0))
    off = [x + 0.1, np.array([0.1, -1.0, -2.0], "float32"),
           np.array([-np.inf, -1e-9, -30.0], "float32"),
           np.array([np.inf, 0.0, 0.0], "float32")]
    for point in off:
        assert to_numpy(ops.log_gumbel_softmax_log_prob(
            point, logits, 0.5)) == -np.inf
    # Within rounding of the log-simplex: a finite density.
    assert np.isfinite(to_numpy(ops.log_gumbel_softmax_log_prob(
        x + 1e-6, logits, 0.5)))
    z = np.array([-np.inf, np.inf], "float32")
    np.testing.assert_array_equal(
        to_numpy(ops.logit_relaxed_bernoulli_log_prob(z, 0.0, 0.5)), -np.inf)


def test_density_gradients_are_finite():
    logits = np.tile(LOGITS, (50, 1))
    tau = np.full([100], 1e-3, "float32")
    x = to_numpy(ops.log_gumbel_softmax(logits, tau, seed=5))
    _, grads = value_and_grad(
        lambda lg, t: ops.log_gumbel_softmax_log_prob(x, lg, t), logits, tau)
    z = to_numpy(ops.logit_relaxed_bernoulli(logits, 1e-3, seed=5))
    _, grads2 = value_and_grad(
        lambda lg: ops.logit_relaxed_bernoulli_log_prob(z, lg, 1e-3), logits)
    for g in grads + grads2:
        assert np.all(np.isfinite(g))


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="`log_y`"):
        ops.log_gumbel_softmax_log_prob(np.zeros([4, 2], "float32"),
                                        LOGITS, 1.0)
    with pytest.raises(ValueError, match="`z`"):
        ops.logit_relaxed_bernoulli_log_prob(np.zeros([3], "float32"),
                                             np.zeros([2], "float32"), 1.0)
    with pytest.raises(ValueError, match="`temperature`"):
        ops.log_gumbel_softmax(LOGITS, 0.0)
    with pytest.raises(ValueError, match="`temperature`"):
        ops.logit_relaxed_bernoulli_log_prob(0.0, 0.0, -1.0)
    with pytest.raises(ValueError, match="`axis`"):
        ops.log_gumbel_softmax(LOGITS, axis=2)
    with pytest.raises(TypeError, match="`logits`"):
        ops.logit_relaxed_bernoulli(np.zeros([3], "int32"))


# ------------------------------------------------------ TFP (float64, TF only)

@pytest.mark.backends("tensorflow")
@pytest.mark.parametrize("k,tau", [(2, 0.5), (3, 1e-3), (5, 1.0), (10, 3.0)])
def test_exp_concrete_density_matches_tfp_float64(k, tau):
    import tensorflow_probability as tfp

    logits = np.random.default_rng(k).normal(size=(4, k))
    dist = tfp.distributions.ExpRelaxedOneHotCategorical(
        np.float64(tau), logits=logits)
    x = dist.sample(50, seed=3)  # [50, 4, k]
    np.testing.assert_allclose(
        to_numpy(ops.log_gumbel_softmax_log_prob(x, logits, tau)),
        dist.log_prob(x).numpy(), rtol=1e-12, atol=1e-12)
    ours = ops.log_gumbel_softmax(logits, tau, seed=4)
    np.testing.assert_allclose(
        to_numpy(ops.log_gumbel_softmax_log_prob(ours, logits, tau)),
        dist.log_prob(ours).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.backends("tensorflow")
def test_logistic_density_matches_tfp_relaxed_bernoulli_float64():
    import tensorflow_probability as tfp

    tfd = tfp.distributions
    logits = np.linspace(-3, 3, 7)
    tau = np.linspace(0.1, 2.0, 7)
    z = np.linspace(-20, 20, 7)[:, None]
    ref = tfd.Logistic(logits / tau, 1 / tau).log_prob(z).numpy()
    np.testing.assert_allclose(
        to_numpy(ops.logit_relaxed_bernoulli_log_prob(z, logits, tau)), ref,
        rtol=1e-12, atol=1e-12)
    # The same variable as TFP's RelaxedBernoulli, through the sigmoid.
    rb = tfd.RelaxedBernoulli(tau, logits=logits)
    y = special.expit(z)
    jacobian = np.log(y) + np.log1p(-y)  # log |dy/dz|
    np.testing.assert_allclose(rb.log_prob(y).numpy() + jacobian, ref,
                               rtol=1e-8, atol=1e-8)
