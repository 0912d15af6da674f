"""Bad and degenerate inputs to every sampling op, on every backend.

The decisions under test (see `keras_gumbel/ops/_nonfinite.py`):
- a slice with a NaN logit comes out as NaN, never a confident sample;
- `+inf` logits are drawn with probability 1, uniformly among themselves
  when a slice has several; a slice of only `-inf` is NaN for the
  categorical samplers and empty for the subset samplers;
- zero categories, negative or non-int sample shapes, and non-float logits
  raise `ValueError` / `TypeError` naming the argument;
- finite logits give bit for bit the sample of the plain computation.

Statistical checks use `tests.stats_utils` (false failure below 1e-8 each,
three checks in this file).
"""

import numpy as np
import pytest
from keras import ops as kops

from keras_gumbel import backend, ops
from tests.backend_utils import to_numpy, value_and_grad
from tests.stats_utils import assert_chi_square, hoeffding

NAN, INF = np.nan, np.inf
FINITE_ROW = [0.5, -1.0, 2.0, 0.0]

#: Every categorical sampler, as `f(logits, seed)`.
CATEGORICAL = {
    "gumbel_max": lambda x, s: ops.gumbel_max(x, seed=s),
    "relaxed": lambda x, s: ops.gumbel_softmax(x, 0.5, seed=s),
    "relaxed_tau_tensor": lambda x, s: ops.gumbel_softmax(
        x, np.full(tuple(x.shape)[:-1], 0.7, "float32"), seed=s),
    "straight_through": lambda x, s: ops.gumbel_softmax(
        x, 0.5, hard=True, seed=s),
    "gumbel_rao": lambda x, s: ops.gumbel_softmax(
        x, 0.5, hard=True, estimator="gumbel_rao", estimator_samples=3,
        seed=s),
    "reinmax": lambda x, s: ops.gumbel_softmax(
        x, 0.5, hard=True, estimator="reinmax", seed=s),
}
#: The subset samplers, as `f(logits, seed)`.
SUBSET = {
    "gumbel_top_k": lambda x, s: ops.gumbel_top_k(x, 2, seed=s),
    "relaxed_top_k": lambda x, s: ops.relaxed_top_k(x, 2, 0.5, seed=s),
    "relaxed_top_k_hard": lambda x, s: ops.relaxed_top_k(
        x, 2, 0.5, hard=True, seed=s),
}


def _with_row(row):
    """Logits of three slices; the middle one is `row`."""
    return np.array([FINITE_ROW, row, FINITE_ROW[::-1]], "float32")


@pytest.mark.parametrize("name", sorted({**CATEGORICAL, **SUBSET}))
@pytest.mark.parametrize("bad", [[NAN, 0.0, 1.0, 2.0], [INF, NAN, -INF, 0.0]])
def test_a_nan_logit_makes_its_slice_nan(name, bad):
    sampler = {**CATEGORICAL, **SUBSET}[name]
    got = to_numpy(sampler(_with_row(bad), 3))
    assert np.all(np.isnan(got[1])), got
    # The other slices are what they are with a finite middle slice.
    want = to_numpy(sampler(_with_row(FINITE_ROW), 3))
    np.testing.assert_array_equal(got[[0, 2]], want[[0, 2]])


def test_straight_through_and_kl_of_nan():
    d = to_numpy(ops.straight_through(_with_row([0.1, NAN, 0.3, 0.2])))
    assert np.all(np.isnan(d[1])) and np.all(d[[0, 2]].sum(-1) == 1)
    kl = to_numpy(ops.categorical_kl_uniform(_with_row([NAN, 0, 0, 0])))
    assert np.isnan(kl[1]) and np.all(np.isfinite(kl[[0, 2]]))


@pytest.mark.parametrize("name", sorted(CATEGORICAL))
def test_one_plus_inf_is_drawn_with_probability_one(name):
    x = np.array([[3.0, -2.0, INF, 5.0], [INF, 1e4, -1e4, -INF],
                  [0.0, 0.0, 0.0, INF]], "float32")
    got = to_numpy(CATEGORICAL[name](x, 11))
    np.testing.assert_array_equal(got, np.eye(4)[[2, 0, 3]])


@pytest.mark.parametrize("name", sorted(CATEGORICAL))
def test_gradient_of_a_plus_inf_slice_is_zero(name):
    if name == "gumbel_max":
        pytest.skip("gumbel_max carries no gradient by design")
    x = _with_row([INF, 1.0, 0.0, -1.0])
    w = np.arange(12, dtype="float32").reshape(3, 4)
    _, (dx,) = value_and_grad(
        lambda t: CATEGORICAL[name](t, 5) * kops.convert_to_tensor(w), x)
    assert np.all(dx[1] == 0), dx
    assert np.all(np.isfinite(dx))


def test_several_plus_inf_are_drawn_uniformly():
    # gumbel_max over [inf, 0, inf, inf]: uniform over 0, 2, 3.
    n = 6000
    x = np.tile(np.array([[INF, 0.0, INF, INF]], "float32"), (n, 1))
    d = to_numpy(ops.gumbel_max(x, seed=21))
    assert np.all(d.sum(-1) == 1)
    assert_chi_square(d.sum(0), [1 / 3, 0, 1 / 3, 1 / 3])
    # The relaxed sample is the Gumbel-Softmax over the +inf entries (equal
    # logits), with the same noise: its argmax is gumbel_max's sample.
    y = to_numpy(ops.gumbel_softmax(x, 0.5, seed=21))
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
    assert np.all(y[:, 1] == 0)
    np.testing.assert_array_equal(np.eye(4)[y.argmax(-1)], d)


def test_kl_with_plus_inf():
    kl = to_numpy(ops.categorical_kl_uniform(
        np.array([[INF, 0.0, INF, 1.0], [INF, 0, 0, 0], FINITE_ROW],
                 "float32")))
    np.testing.assert_allclose(kl[:2], [np.log(4) - np.log(2), np.log(4)],
                               rtol=1e-6)


@pytest.mark.parametrize("name", sorted(CATEGORICAL))
def test_a_slice_of_only_minus_inf_is_nan(name):
    got = to_numpy(CATEGORICAL[name](_with_row([-INF] * 4), 2))
    assert np.all(np.isnan(got[1])) and np.all(np.isfinite(got[[0, 2]]))


@pytest.mark.parametrize("name", ["gumbel_top_k", "relaxed_top_k_hard"])
def test_subsets_take_plus_inf_items_first(name):
    # k = 2. Two +inf items: exactly those two, whatever the noise; one
    # +inf item: it, and one finite item; only -inf: no item.
    x = np.array([[9.0, INF, -3.0, INF], [0.0, INF, 1.0, 2.0], [-INF] * 4],
                 "float32")
    got = to_numpy(SUBSET[name](x, 4))
    np.testing.assert_array_equal(got[0], [0, 1, 0, 1])
    assert got[1, 1] == 1 and got[1].sum() == 2
    assert np.all(got[2] == 0)


@pytest.mark.parametrize("tau", [0.5, 3.0])
def test_relaxed_top_k_replaces_plus_inf_by_the_documented_logit(tau):
    # `+inf` is the largest finite logit of the slice + 128 * max(tau, 1).
    x = np.array([[9.0, INF, -3.0, INF], [0.0, INF, 1.0, -INF], FINITE_ROW],
                 "float32")
    replaced = x.copy()
    replaced[0, [1, 3]] = 9.0 + 128.0 * max(tau, 1.0)
    replaced[1, 1] = 1.0 + 128.0 * max(tau, 1.0)
    got = to_numpy(ops.relaxed_top_k(x, 2, tau, seed=6))
    np.testing.assert_array_equal(
        got, to_numpy(ops.relaxed_top_k(replaced, 2, tau, seed=6)))
    np.testing.assert_allclose(got.sum(-1), 2.0, rtol=1e-5)
    # The finite items of the first slice get no mass: +inf items first.
    np.testing.assert_allclose(got[0, [0, 2]], 0.0, atol=1e-6)


def test_gumbel_top_k_among_more_plus_inf_than_k_is_uniform():
    # [inf, inf, inf, 5]: k = 2 of the three +inf items, each included with
    # probability 2/3; Hoeffding for each of the three means.
    n = 6000  # The shape of test_several_plus_inf_are_drawn_uniformly.
    x = np.tile(np.array([[INF, INF, INF, 5.0]], "float32"), (n, 1))
    got = to_numpy(ops.gumbel_top_k(x, 2, seed=8))
    assert np.all(got[:, 3] == 0) and np.all(got.sum(-1) == 2)
    assert np.max(np.abs(got[:, :3].mean(0) - 2 / 3)) < hoeffding(n, 1e-8 / 3)


@pytest.mark.parametrize("hard", [False, True])
def test_relaxed_bernoulli_non_finite_elements(hard):
    got = to_numpy(ops.relaxed_bernoulli(_with_row([NAN, INF, -INF, 0.3]),
                                         0.5, hard=hard, seed=1))
    assert np.isnan(got[1, 0])
    np.testing.assert_array_equal(got[1, 1:3], [1.0, 0.0])
    assert np.all(np.isfinite(got[[0, 2]])) and np.isfinite(got[1, 3])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("tau", [1.0, 0.3])
def test_finite_logits_give_the_plain_sample_bit_for_bit(dtype, tau):
    if dtype == "float64" and backend.NAME == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("float64 needs jax_enable_x64")
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(dtype) * 3
    seed = 123
    g = backend.gumbel_noise(tuple(x.shape), backend.draw_seed(seed), dtype)
    z = kops.convert_to_tensor(x) + g
    s = z if tau == 1.0 else z * (1.0 / tau)
    want_y = to_numpy(kops.softmax(s, axis=-1))
    np.testing.assert_array_equal(
        to_numpy(ops.gumbel_softmax(x, tau, seed=seed)), want_y)
    np.testing.assert_array_equal(
        to_numpy(ops.gumbel_max(x, seed=seed)),
        np.eye(4, dtype=dtype)[to_numpy(z).argmax(-1)])


ZERO_CATEGORY_CALLS = {
    "gumbel_max": lambda x: ops.gumbel_max(x),
    "gumbel_softmax": lambda x: ops.gumbel_softmax(x),
    "gumbel_softmax_hard": lambda x: ops.gumbel_softmax(x, hard=True),
    "categorical_kl_uniform": lambda x: ops.categorical_kl_uniform(x),
    "gumbel_top_k": lambda x: ops.gumbel_top_k(x, 1),
    "relaxed_top_k": lambda x: ops.relaxed_top_k(x, 1),
}


@pytest.mark.parametrize("name", sorted(ZERO_CATEGORY_CALLS))
def test_zero_categories_raise_naming_logits(name):
    with pytest.raises(ValueError, match=r"`logits`.*at least one category"):
        ZERO_CATEGORY_CALLS[name](np.zeros((2, 0), "float32"))
    # An empty batch is fine: nothing to draw.
    out = ZERO_CATEGORY_CALLS[name](np.zeros((0, 3), "float32"))
    assert to_numpy(out).shape[0] == 0


def test_zero_categories_straight_through_and_axis():
    with pytest.raises(ValueError, match=r"`y`.*at least one category"):
        ops.straight_through(np.zeros((2, 0), "float32"))
    with pytest.raises(ValueError, match=r"along axis 0"):
        ops.gumbel_softmax(np.zeros((0, 3), "float32"), axis=0)
    # relaxed_bernoulli is element-wise: an empty tensor is an empty sample.
    assert to_numpy(ops.relaxed_bernoulli(np.zeros((2, 0), "float32"),
                                          seed=1)).shape == (2, 0)


@pytest.mark.parametrize("shape,error", [
    ((-1, 3), ValueError), ([2, -5], ValueError), ((2.5, 3), TypeError),
    (("a", 3), TypeError), ((2, None), TypeError), (True, TypeError),
    (3, TypeError), ("23", TypeError), (None, TypeError),
    (np.zeros((2, 2), "int32"), TypeError), (np.array([2.0]), TypeError),
    (np.array([2, -1]), ValueError)])
def test_sample_gumbel_refuses_bad_shapes(shape, error):
    with pytest.raises(error, match="`shape`"):
        ops.sample_gumbel(shape, seed=1)


@pytest.mark.parametrize("shape", [(), (2, 3), [0, 4], np.array([3, 1])])
def test_sample_gumbel_good_shapes(shape):
    g = to_numpy(ops.sample_gumbel(shape, seed=1))
    assert g.shape == tuple(int(d) for d in shape)
    assert np.all(np.isfinite(g))


def test_sample_gumbel_refuses_bad_loc():
    with pytest.raises(TypeError, match="`loc`"):
        ops.sample_gumbel((2,), loc="a", seed=1)
    for bad in (NAN, INF):
        with pytest.raises(ValueError, match="`loc`"):
            ops.sample_gumbel((2,), loc=bad, seed=1)


NOT_FLOAT = {
    "strings": np.array([["a", "b"]]),
    "bytes": np.array([[b"a", b"b"]]),
    "string": "abc",
    "none": None,
    "objects": np.array([[1.0, None]], dtype=object),
    "ragged": [[1.0, 2.0], [3.0]],
    "ints": np.array([[1, 2]]),
    "bools": np.array([[True, False]]),
    "complex": np.array([[1j, 2.0]]),
}

ALL_OPS = {
    "sample_gumbel_loc": (lambda v: ops.sample_gumbel((1, 2), loc=v), "loc"),
    "gumbel_max": (lambda v: ops.gumbel_max(v), "logits"),
    "gumbel_softmax": (lambda v: ops.gumbel_softmax(v), "logits"),
    "gumbel_softmax_hard": (lambda v: ops.gumbel_softmax(v, hard=True),
                            "logits"),
    "straight_through": (lambda v: ops.straight_through(v), "y"),
    "relaxed_bernoulli": (lambda v: ops.relaxed_bernoulli(v), "logits"),
    "categorical_kl_uniform": (lambda v: ops.categorical_kl_uniform(v),
                               "logits"),
    "gumbel_top_k": (lambda v: ops.gumbel_top_k(v, 1), "logits"),
    "relaxed_top_k": (lambda v: ops.relaxed_top_k(v, 1), "logits"),
}


@pytest.mark.parametrize("kind", sorted(NOT_FLOAT))
@pytest.mark.parametrize("op", sorted(ALL_OPS))
def test_non_float_inputs_raise_type_error_naming_the_argument(op, kind):
    call, name = ALL_OPS[op]
    if op == "sample_gumbel_loc" and kind == "ints":
        pytest.skip("integer locations are real numbers")
    with pytest.raises(TypeError, match=f"`{name}`"):
        call(NOT_FLOAT[kind])
