"""Tests for keras_gumbel.ops.hard_concrete and hard_concrete_l0.

On every backend. The references are the closed forms of Louizos et al.
(2018): with `u(t) = (t - gamma) / (zeta - gamma)`,
```
P(z <= t) = sigmoid(tau * logit(u(t)) - logits),  0 <= t < 1;  P(z <= 1) = 1
P(z != 0) = sigmoid(logits - tau * log(-gamma / zeta))
```
Statistical checks: each fails a correct implementation with probability
at most `stats_utils.DELTA` = 1e-8, and this file makes 3 DKW checks (one
per column of `LAW_CASES`, all points of its distribution function at
once) and 4 + 3 Hoeffding checks: 10 in all, so a run fails falsely with
probability below 1e-7 (union bound).
"""

import keras
import numpy as np
import pytest
from scipy import special

import keras_gumbel as kg
from tests import stats_utils
from tests.backend_utils import BACKEND, jit, to_numpy, value_and_grad

# (logits, temperature, gamma, zeta) of each column.
LAW_CASES = np.array([[0.5, 2 / 3, -0.1, 1.1],
                      [-1.0, 0.3, -0.3, 1.05],
                      [2.0, 1.5, -0.05, 1.5]])
N = 400_000  # rows: DKW bound sqrt(log(2 / 1e-8) / (2 N)) = 0.0049


def cdf(t, logits, tau, gamma, zeta):
    """`P(z <= t)` for `t` in [0, 1), NumPy, float64."""
    u = (np.asarray(t, np.float64) - gamma) / (zeta - gamma)
    return special.expit(tau * special.logit(u) - logits)


def p_nonzero(logits, tau, gamma, zeta):
    return special.expit(logits - tau * np.log(-gamma / zeta))


def _draw_cases(n, seed):
    """One column per case of LAW_CASES; the limits differ per column, so
    each column is its own call (the temperature is a [3] tensor in the
    first, to test tensor temperatures too)."""
    logits = np.tile(LAW_CASES[:, 0].astype("float32"), (n, 1))
    tau = LAW_CASES[:, 1].astype("float32")
    columns = []
    for j, (_, _, gamma, zeta) in enumerate(LAW_CASES):
        z = kg.ops.hard_concrete(logits, keras.ops.convert_to_tensor(tau),
                                 limits=(gamma, zeta), seed=seed + j)
        columns.append(to_numpy(z)[:, j])
    return np.stack(columns, 1).astype(np.float64)


def test_law_masses_and_distribution_function():
    z = _draw_cases(N, seed=1)
    assert np.all((z >= 0) & (z <= 1))
    bound = stats_utils.hoeffding(N)
    grid = np.linspace(0.0, 1.0, 2001)[:-1]  # every t in [0, 1)
    for j, (logits, tau, gamma, zeta) in enumerate(LAW_CASES):
        # Dvoretzky-Kiefer-Wolfowitz with Massart's constant:
        # P(sup_t |F_n(t) - F(t)| > eps) <= 2 exp(-2 n eps^2) for any law,
        # atoms included, so eps = hoeffding(N) at DELTA; the sup over a
        # grid (which holds t = 0, the mass at zero) is at most that sup.
        empirical = np.searchsorted(np.sort(z[:, j]), grid, side="right") / N
        gap = np.max(np.abs(empirical - cdf(grid, logits, tau, gamma, zeta)))
        assert gap < bound, (j, gap, bound)
        # The mass at one, 1 - P(z < 1) (the grid stops below 1).
        mass_one = 1.0 - cdf(np.nextafter(1.0, 0.0), logits, tau, gamma, zeta)
        assert abs(np.mean(z[:, j] == 1.0) - mass_one) < bound, j
    # Each mass is really there: exact zeros and ones, and values between.
    assert np.mean(z == 0) > 0.05 and np.mean(z == 1) > 0.05
    assert np.mean((z > 0) & (z < 1)) > 0.1


def test_l0_closed_form_against_frequency_of_nonzero_gates():
    z = _draw_cases(N, seed=7)
    bound = stats_utils.hoeffding(N)
    for j, (logits, tau, gamma, zeta) in enumerate(LAW_CASES):
        closed = to_numpy(kg.ops.hard_concrete_l0(
            np.float32([logits]), tau, limits=(gamma, zeta)))[0]
        np.testing.assert_allclose(closed, p_nonzero(logits, tau, gamma,
                                                     zeta), rtol=1e-6)
        frequency = np.mean(z[:, j] != 0)
        assert abs(frequency - closed) < bound, (j, frequency, closed)


def test_same_noise_as_relaxed_bernoulli():
    x = np.random.default_rng(0).normal(0, 2, size=(64, 5)).astype("float32")
    for seed in (3, np.array([3, 9], "int32")):
        z = to_numpy(kg.ops.hard_concrete(x, 0.4, limits=(-0.2, 1.3),
                                          seed=seed))
        s = to_numpy(kg.ops.relaxed_bernoulli(x, 0.4, seed=seed))
        np.testing.assert_allclose(z, np.clip(s * 1.5 - 0.2, 0, 1),
                                   rtol=0, atol=1e-6)


def test_gradient_is_the_stretched_sigmoids_inside_and_zero_when_clipped():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 2, size=(400,)).astype("float32")
    tau = np.float32(0.7)
    weights = rng.uniform(0.5, 2.0, size=400).astype("float32")
    gamma, zeta = -0.1, 1.1
    z, (g_x, g_tau) = value_and_grad(
        lambda v, t: kg.ops.hard_concrete(v, t, seed=5)
        * keras.ops.convert_to_tensor(weights), x, tau)
    s = to_numpy(kg.ops.relaxed_bernoulli(x, float(tau), seed=5))
    inside = (z > 0) & (z < weights)  # z * w < w where the gate is < 1
    clipped = ~inside
    assert inside.sum() > 100 and clipped.sum() > 50
    # dz/dx = (zeta - gamma) s (1 - s) / tau; dz/dtau = -dz/dx * logit(s).
    slope = (zeta - gamma) * s * (1 - s) / tau
    np.testing.assert_allclose(g_x[inside], (weights * slope)[inside],
                               rtol=1e-4)
    np.testing.assert_array_equal(g_x[clipped], 0.0)
    expected_tau = -np.sum((weights * slope * special.logit(s))[inside])
    np.testing.assert_allclose(g_tau, expected_tau, rtol=1e-4)


def test_l0_gradient_is_analytic():
    x = np.linspace(-4, 4, 9).astype("float32")
    tau = np.float32(0.6)
    p, (g_x, g_tau) = value_and_grad(
        lambda v, t: kg.ops.hard_concrete_l0(v, t, limits=(-0.2, 1.2)), x,
        tau)
    shift = np.log(0.2 / 1.2)
    np.testing.assert_allclose(p, special.expit(x - tau * shift), rtol=1e-6)
    np.testing.assert_allclose(g_x, p * (1 - p), rtol=1e-5)
    np.testing.assert_allclose(g_tau, -np.sum(p * (1 - p)) * shift, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_other_dtypes_compute_in_float32_or_float64(dtype):
    if dtype == "float64" and BACKEND == "jax":
        pytest.skip("float64 needs jax_enable_x64")
    x32 = np.linspace(-3, 3, 12).astype("float32")
    x = keras.ops.cast(x32, dtype)
    z = kg.ops.hard_concrete(x, seed=2)
    p = kg.ops.hard_concrete_l0(x)
    assert keras.backend.standardize_dtype(z.dtype) == dtype
    assert keras.backend.standardize_dtype(p.dtype) == dtype
    # The same float32 computation on the same (rounded) logits, cast back.
    x_up = keras.ops.cast(x, "float32")
    if dtype != "float64":
        np.testing.assert_array_equal(
            to_numpy(keras.ops.cast(z, "float32")),
            to_numpy(keras.ops.cast(keras.ops.cast(
                kg.ops.hard_concrete(x_up, seed=2), dtype), "float32")))
    np.testing.assert_allclose(
        to_numpy(keras.ops.cast(p, "float32")),
        p_nonzero(to_numpy(x_up), 2 / 3, -0.1, 1.1), rtol=1e-2)


def test_finite_for_extreme_logits_and_temperatures():
    row = np.tile(np.float32([1e4, -1e4, 0.0, 5.0, -np.inf, np.inf]), 500)
    x = np.tile(row, (3, 1))
    tau = np.float32([[1e-3], [1.0], [1e3]])  # one temperature per row
    z, (g_x, g_tau) = value_and_grad(
        lambda v, t: kg.ops.hard_concrete(v, t, seed=4), x, tau)
    assert np.all(np.isfinite(z)) and np.all((z >= 0) & (z <= 1))
    assert np.all(np.isfinite(g_x)) and np.all(np.isfinite(g_tau))
    np.testing.assert_array_equal(z[x == np.inf], 1.0)
    np.testing.assert_array_equal(z[x == -np.inf], 0.0)
    p, (g_p, g_p_tau) = value_and_grad(kg.ops.hard_concrete_l0, x, tau)
    assert np.all(np.isfinite(g_p)) and np.all(np.isfinite(g_p_tau))
    assert np.all((p >= 0) & (p <= 1))


def test_seed_forms_and_compiled():
    x = np.zeros([6, 5], "float32")
    draw = lambda seed: to_numpy(kg.ops.hard_concrete(x, seed=seed))
    np.testing.assert_array_equal(draw(8), draw(8))
    np.testing.assert_array_equal(draw(8), draw(np.array([8, 0], "int32")))
    assert not np.array_equal(draw(None), draw(None))
    generator = keras.random.SeedGenerator(3)
    first = draw(generator)
    assert not np.array_equal(first, draw(generator))
    np.testing.assert_array_equal(first, draw(keras.random.SeedGenerator(3)))
    # tf.function(jit_compile=True) on TF, jax.jit on JAX (torch: eager).
    # (TF's XLA Philox streams differ from its eager ones: compare within
    # the compiled function, and call it twice.)
    f = jit(lambda v, s: (kg.ops.hard_concrete(v, 0.5, seed=s),
                          kg.ops.relaxed_bernoulli(v, 0.5, seed=s)))
    seed = np.array([8, 0], "int32")
    z, s = (to_numpy(t) for t in f(x, seed))
    np.testing.assert_allclose(z, np.clip(s * 1.2 - 0.1, 0, 1), atol=1e-6)
    np.testing.assert_array_equal(to_numpy(f(x, seed)[0]), z)


@pytest.mark.backends("tensorflow")
def test_tf_generator_and_fresh_noise_inside_xla():
    import tensorflow as tf

    x = tf.zeros([6, 5])
    generator = tf.random.Generator.from_seed(2)
    a = kg.ops.hard_concrete(x, seed=generator)
    assert not np.array_equal(a, kg.ops.hard_concrete(x, seed=generator))
    f = tf.function(lambda: kg.ops.hard_concrete(x), jit_compile=True)
    assert not np.array_equal(f(), f())


@pytest.mark.parametrize("limits", [(0.0, 1.1), (-0.1, 1.0), (0.2, 1.1),
                                    (-0.1, 0.9), (-0.1,), (-0.1, 1.1, 2.0),
                                    (float("nan"), 1.1), (-0.1, float("inf"))])
def test_bad_limits_raise_value_error_naming_limits(limits):
    x = np.zeros([2], "float32")
    for op in (kg.ops.hard_concrete, kg.ops.hard_concrete_l0):
        with pytest.raises(ValueError, match="`limits`.*gamma < 0 < 1 < zeta"
                           ".*Received: limits="):
            op(x, limits=limits)


def test_other_errors_name_the_argument():
    x = np.zeros([2], "float32")
    for op in (kg.ops.hard_concrete, kg.ops.hard_concrete_l0):
        with pytest.raises(TypeError, match="`limits`.*Received: limits='ab'"):
            op(x, limits="ab")
        with pytest.raises(TypeError, match="`limits`"):
            op(x, limits=(True, 1.1))
        with pytest.raises(ValueError, match="temperature=0"):
            op(x, temperature=0.0)
        with pytest.raises(ValueError, match="`temperature`.*shape"):
            op(x, temperature=np.ones([3], "float32"))
        with pytest.raises(TypeError, match="`logits`"):
            op(np.array([1, 2], "int32"))
    with pytest.raises(TypeError, match="`seed`"):
        kg.ops.hard_concrete(x, seed="five")
