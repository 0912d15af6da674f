"""Tests for keras_gumbel.ops.gumbel_top_k and keras_gumbel.ops.relaxed_top_k.

Backend-neutral (keras.ops and NumPy): CI runs this file once per backend.
The subset law is checked against exact enumeration of the ordered draws of
the Plackett-Luce model, with the chi-square checks of `stats_utils` (false
failure probability DELTA = 1e-8 each; this file makes 3 of them).
"""

import itertools

import keras
import numpy as np
import pytest
from keras import ops

from tests.backend_utils import BACKEND, jit, to_numpy, value_and_grad
from keras_gumbel.ops import (gumbel_max, gumbel_softmax, gumbel_top_k,
                              relaxed_top_k, sample_gumbel)
from tests.stats_utils import assert_chi_square


def _float64_or_skip(dtype):
    if dtype == "float64" and BACKEND == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("float64 on JAX needs jax_enable_x64")


def _logits(shape, seed=0, scale=2.0, dtype="float32"):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=shape)).astype(dtype)


def _f32(x):
    return to_numpy(ops.cast(x, "float32")).astype(np.float64)


def _plackett_luce_subset_probs(probs, k):
    """P(subset) for every k-subset (sorted tuples), from ordered draws."""
    n = len(probs)
    subsets = list(itertools.combinations(range(n), k))
    law = dict.fromkeys(subsets, 0.0)
    for order in itertools.permutations(range(n), k):
        p, left = 1.0, 1.0
        for i in order:
            p *= probs[i] / left if left > 0 else 0.0
            left -= probs[i]
        law[tuple(sorted(order))] += p
    return subsets, np.array([law[s] for s in subsets])


# ------------------------------------------------------------- gumbel_top_k


@pytest.mark.parametrize("n, k, axis, impossible", [
    (5, 2, -1, None),
    (5, 3, 0, None),
    (6, 2, -1, 3),  # item 3 has logit -inf: subsets holding it never occur
])
def test_subset_law_matches_plackett_luce(n, k, axis, impossible):
    draws = 60_000
    rng = np.random.default_rng(n + k)
    probs = rng.dirichlet(np.ones(n))
    if impossible is not None:
        probs[impossible] = 0.0
        probs /= probs.sum()
    with np.errstate(divide="ignore"):
        logits = np.log(probs).astype("float32")
    batch = np.tile(logits, (draws, 1))
    if axis == 0:
        batch = batch.T
    sample = _f32(gumbel_top_k(batch, k, axis=axis, seed=7))
    if axis == 0:
        sample = sample.T
    np.testing.assert_array_equal(sample.sum(-1), k)
    subsets, expected = _plackett_luce_subset_probs(probs, k)
    codes = sample @ (2.0 ** np.arange(n))
    index = {sum(2 ** i for i in s): j for j, s in enumerate(subsets)}
    counts = np.zeros(len(subsets))
    for code, count in zip(*np.unique(codes, return_counts=True)):
        assert int(code) in index, f"not a {k}-subset: {code}"
        counts[index[int(code)]] = count
    assert_chi_square(counts, expected)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32",
                                   "float64"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_k_hot_in_input_dtype_along_any_axis(dtype, axis):
    _float64_or_skip(dtype)
    logits = ops.cast(_logits((7, 6, 5), scale=100.0), dtype)
    out = gumbel_top_k(logits, 3, axis=axis, seed=1)
    assert keras.backend.standardize_dtype(out.dtype) == dtype
    assert tuple(out.shape) == (7, 6, 5)
    out = _f32(out)
    assert set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out.sum(axis), 3.0)


def test_minus_inf_never_drawn_and_short_slices_take_what_there_is():
    logits = np.array([[0.0, -np.inf, 1.0, -np.inf, 2.0],
                       [-np.inf, -np.inf, 5.0, -np.inf, -np.inf],
                       [-np.inf, 3.0, -np.inf, 0.0, -np.inf]], "float32")
    batch = np.tile(logits, (2000, 1))
    valid = np.isfinite(batch)
    for hard_op in (lambda x: gumbel_top_k(x, 2, seed=3),
                    lambda x: relaxed_top_k(x, 2, 0.5, hard=True, seed=3)):
        out = _f32(hard_op(batch))
        assert np.all(out[~valid] == 0)
        np.testing.assert_array_equal(out.sum(-1),
                                      np.minimum(2, valid.sum(-1)))
    relaxed = _f32(relaxed_top_k(batch, 2, 0.5, seed=3))
    assert np.all(relaxed[~valid] == 0)
    np.testing.assert_allclose(relaxed.sum(-1), np.minimum(2, valid.sum(-1)),
                               rtol=1e-6)


def test_k_equal_to_one_is_gumbel_max_and_k_equal_to_n_takes_all():
    logits = _logits((50, 6))
    np.testing.assert_array_equal(_f32(gumbel_top_k(logits, 1, seed=4)),
                                  _f32(gumbel_max(logits, seed=4)))
    np.testing.assert_array_equal(_f32(gumbel_top_k(logits, 6, seed=4)), 1.0)


def test_same_noise_as_gumbel_softmax():
    # k = 1: one softmax of (logits + g) / tau, the same noise for the same
    # seed as gumbel_softmax.
    logits = _logits((20, 7))
    for seed in (5, np.array([1, 2])):
        np.testing.assert_allclose(
            _f32(relaxed_top_k(logits, 1, temperature=0.7, seed=seed)),
            _f32(gumbel_softmax(logits, temperature=0.7, seed=seed)),
            rtol=1e-5, atol=1e-7)


def test_seed_generator_gives_fresh_subsets_and_int_seeds_repeat():
    logits = np.zeros((64, 10), "float32")
    generator = keras.random.SeedGenerator(1)
    first = _f32(gumbel_top_k(logits, 4, seed=generator))
    second = _f32(gumbel_top_k(logits, 4, seed=generator))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(_f32(gumbel_top_k(logits, 4, seed=9)),
                                  _f32(gumbel_top_k(logits, 4, seed=9)))


@pytest.mark.parametrize("k,error", [
    (0, ValueError), (-1, ValueError), (6, ValueError), (2.0, TypeError),
    (True, TypeError), (None, TypeError), ("2", TypeError)])
def test_invalid_k_is_an_error_naming_k(k, error):
    # A wrong value is a ValueError, a wrong type a TypeError (the package's
    # validation policy).
    logits = np.zeros((3, 5), "float32")
    for op in (gumbel_top_k, relaxed_top_k):
        with pytest.raises(error, match=r"argument `k`.*Received: k="):
            op(logits, k)


def test_other_argument_errors():
    logits = np.zeros((3, 5), "float32")
    with pytest.raises(ValueError, match="`axis`"):
        gumbel_top_k(logits, 2, axis=2)
    with pytest.raises(TypeError, match="`logits`"):
        gumbel_top_k(np.zeros((3, 5), "int32"), 2)
    with pytest.raises(ValueError, match="`temperature`"):
        relaxed_top_k(logits, 2, temperature=0.0)
    with pytest.raises(TypeError, match="`hard`"):
        relaxed_top_k(logits, 2, hard=1)
    with pytest.raises(ValueError, match="`temperature`"):
        relaxed_top_k(logits, 2, temperature=np.ones(4, "float32"))


# ------------------------------------------------------------ relaxed_top_k


@pytest.mark.parametrize("temperature", [0.1, 1.0, 10.0])
def test_relaxed_is_non_negative_and_sums_to_k(temperature):
    out = _f32(relaxed_top_k(_logits((200, 9)), 4, temperature, seed=2))
    assert np.all(out >= 0)
    np.testing.assert_allclose(out.sum(-1), 4.0, rtol=1e-6)


@pytest.mark.parametrize("temperature", [0.3, 1.0, 3.0])
def test_relaxed_matches_a_numpy_reference_of_the_recursion(temperature):
    # Xie & Ermon's recursion in float64 NumPy, on the same noise
    # (`sample_gumbel` with the same seed): a wrong update of `r` fails here,
    # though it would still sum to k and keep the small-temperature limit.
    from keras_gumbel.ops import sample_gumbel

    logits = np.random.default_rng(3).normal(size=(6, 7)).astype("float32")
    g = to_numpy(sample_gumbel([6, 7], seed=5)).astype(np.float64)
    r = logits.astype(np.float64) + g
    expected = np.zeros_like(r)
    for _ in range(3):
        z = r / temperature
        a = np.exp(z - z.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        expected += a
        r = r + np.log1p(-a)
    got = to_numpy(relaxed_top_k(logits, 3, temperature, seed=5))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_small_temperature_limit_is_gumbel_top_k_with_the_same_seed():
    n, k, seed = 8, 3, 11
    logits = _logits((400, n))
    # The noise both ops draw for this seed (`sample_gumbel` draws the same
    # noise for the same seed and shape) tells each row's gaps between its
    # k + 1 largest perturbed logits. The relaxed sample only tends to the
    # k-hot as these gaps over tau grow (near ties at the top share the
    # first softmaxes, and `log(1 - a)` does not scale with 1 / tau): where
    # every gap is >= 0.02, at tau = 1e-4 it is within about exp(-200).
    z = logits + _f32(sample_gumbel(logits.shape, seed=seed))
    ordered = -np.sort(-z, axis=-1)
    clear = np.all(-np.diff(ordered[:, :k + 1], axis=-1) >= 0.02, axis=-1)
    assert clear.mean() > 0.7
    hard = _f32(gumbel_top_k(logits, k, seed=seed))
    relaxed = _f32(relaxed_top_k(logits, k, temperature=1e-4, seed=seed))
    np.testing.assert_allclose(relaxed[clear], hard[clear], atol=1e-5)
    np.testing.assert_array_equal(hard, z >= ordered[:, k - 1:k])


@pytest.mark.parametrize("temperature", [1e-3, 0.5, 5.0])
def test_hard_forward_is_exactly_gumbel_top_k(temperature):
    logits = _logits((300, 7))
    for seed in (3, np.array([4, 5])):
        np.testing.assert_array_equal(
            _f32(relaxed_top_k(logits, 3, temperature, hard=True, seed=seed)),
            _f32(gumbel_top_k(logits, 3, seed=seed)))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("temperature", [1e-3, 1.0])
@pytest.mark.parametrize("hard", [False, True])
def test_no_nan_at_extremes(dtype, temperature, hard):
    logits = np.array([[1e4, -1e4, 0.0, 3.0, -np.inf, 1e4],
                       [-np.inf, -np.inf, 2.0, -np.inf, -np.inf, -np.inf],
                       [-1e4, -1e4, -1e4, -1e4, -1e4, -1e4]], "float32")
    if dtype == "float16":
        logits = np.where(np.isfinite(logits), logits / 10, logits)
    weights = ops.convert_to_tensor(_logits((3, 6), seed=1))
    tau = np.full((3,), temperature, "float32")

    def fn(x, t):
        y = relaxed_top_k(ops.cast(x, dtype), 3, t, hard=hard, seed=6)
        assert keras.backend.standardize_dtype(y.dtype) == dtype
        return ops.cast(y, "float32") * weights

    value, (g_logits, g_tau) = value_and_grad(fn, logits, tau)
    value = value / to_numpy(weights)
    assert np.all(np.isfinite(value)) and np.all(value >= 0)
    np.testing.assert_allclose(value.sum(-1), [3, 1, 3], rtol=1e-2)
    assert np.all(value[np.isinf(logits)] == 0)
    assert np.all(np.isfinite(g_logits)) and np.all(np.isfinite(g_tau))
    assert np.all(g_logits[np.isinf(logits)] == 0)


@pytest.mark.parametrize("batch_tau", [False, True])
def test_straight_through_gradient_equals_the_relaxed_gradient(batch_tau):
    logits = _logits((6, 8))
    weights = ops.convert_to_tensor(_logits((6, 8), seed=3))
    tau = (np.linspace(0.3, 2.0, 6).astype("float32") if batch_tau
           else np.float32(0.6))
    grads = {}
    for hard in (False, True):
        _, grads[hard] = value_and_grad(
            lambda x, t: relaxed_top_k(x, 3, t, hard=hard, seed=8) * weights,
            logits, tau)
    for relaxed, straight in zip(grads[False], grads[True]):
        assert np.any(relaxed != 0)
        np.testing.assert_allclose(straight, relaxed, rtol=1e-6, atol=1e-7)


def test_tensor_temperature_follows_the_batch_convention_with_gradient():
    logits = _logits((4, 6))
    weights = _logits((4, 6), seed=5)
    tau = np.array([0.3, 0.7, 1.5, 4.0], "float32")
    seed = np.array([3, 9])
    batch = _f32(relaxed_top_k(logits, 2, tau, seed=seed))
    for i, t in enumerate(tau):
        # The same shape and seed draw the same noise: row i of a call at
        # the scalar temperature tau[i].
        alone = _f32(relaxed_top_k(logits, 2, float(t), seed=seed))
        np.testing.assert_allclose(batch[i], alone[i], rtol=1e-5, atol=1e-6)

    def total(t):
        y = relaxed_top_k(logits, 2, t, seed=seed)
        return float(np.sum(_f32(y) * weights))

    _, (_, g_tau) = value_and_grad(
        lambda x, t: relaxed_top_k(x, 2, t, seed=seed)
        * ops.convert_to_tensor(weights), logits, tau)
    h = 1e-3
    for i in range(len(tau)):
        up, down = tau.copy(), tau.copy()
        up[i] += h
        down[i] -= h
        numeric = (total(up) - total(down)) / (2 * h)
        assert g_tau[i] == pytest.approx(numeric, rel=2e-2, abs=2e-3)


def test_compiled():
    logits = _logits((16, 9))

    def fn(x, seed):
        return (gumbel_top_k(x, 4, axis=0, seed=seed),
                relaxed_top_k(x, 4, 0.5, hard=True, axis=0, seed=seed),
                relaxed_top_k(x, 4, 0.5, axis=0, seed=seed))

    hard, straight, relaxed = (_f32(t) for t in jit(fn)(
        logits, ops.convert_to_tensor(np.array([1, 2], "int32"))))
    np.testing.assert_array_equal(hard.sum(0), 4.0)
    np.testing.assert_array_equal(straight, hard)
    np.testing.assert_allclose(relaxed.sum(0), 4.0, rtol=1e-6)


@pytest.mark.backends("tensorflow")
def test_unknown_dimensions_in_tf_graphs():
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32),
                                  tf.TensorSpec([], tf.float32)])
    def fn(x, tau):
        return (gumbel_top_k(x, 2, axis=0, seed=[1, 2]),
                relaxed_top_k(x, 2, tau, hard=True, axis=-1, seed=[1, 2]),
                relaxed_top_k(x, 2, tau, axis=-1, seed=[1, 2]))

    hard, straight, relaxed = (t.numpy() for t in fn(_logits((5, 4)), 0.5))
    np.testing.assert_array_equal(hard.sum(0), 2.0)
    np.testing.assert_array_equal(straight.sum(-1), 2.0)
    np.testing.assert_allclose(relaxed.sum(-1), 2.0, rtol=1e-6)


def test_empty_batch():
    empty = np.zeros((0, 5), "float32")
    assert tuple(gumbel_top_k(empty, 2, seed=0).shape) == (0, 5)
    for hard in [False, True]:
        out, (grad,) = value_and_grad(
            lambda x: relaxed_top_k(x, 2, temperature=0.5, hard=hard, seed=0),
            empty)
        assert out.shape == (0, 5) and grad.shape == (0, 5)


@pytest.mark.backends("tensorflow")
def test_empty_batch_of_unknown_size_in_a_graph():
    import tensorflow as tf

    spec = [tf.TensorSpec([None, 5], tf.float32)]
    for fn in [lambda x: gumbel_top_k(x, 2, seed=0),
               lambda x: relaxed_top_k(x, 2, hard=True, seed=0)]:
        out = tf.function(fn, input_signature=spec)(tf.zeros([0, 5]))
        assert tuple(out.shape) == (0, 5)
