"""Bad and degenerate inputs to the layers, in training and in every
inference mode, on every backend (the ops' decisions: tests/ops/
test_bad_inputs.py)."""

import numpy as np
import pytest

from keras_gumbel import layers
from tests.backend_utils import to_numpy

NAN, INF = np.nan, np.inf
FINITE = [0.5, -1.0, 2.0, 0.0]


def _logits(row):
    return np.array([FINITE, row, FINITE[::-1]], "float32")


CASES = {
    "gumbel_softmax_sample": (lambda: layers.GumbelSoftmax(seed=1), True),
    "gumbel_softmax_hard": (lambda: layers.GumbelSoftmax(hard=True, seed=1),
                            True),
    "gumbel_softmax_argmax": (
        lambda: layers.GumbelSoftmax(inference_mode="argmax"), False),
    "gumbel_softmax_softmax": (
        lambda: layers.GumbelSoftmax(inference_mode="softmax"), False),
    "gumbel_top_k_sample": (lambda: layers.GumbelTopK(2, seed=1), True),
    "gumbel_top_k_top_k": (
        lambda: layers.GumbelTopK(2, inference_mode="top_k"), False),
    "relaxed_bernoulli_sample": (lambda: layers.RelaxedBernoulli(seed=1),
                                 True),
    "relaxed_bernoulli_round": (
        lambda: layers.RelaxedBernoulli(inference_mode="round"), False),
    "relaxed_bernoulli_sigmoid": (
        lambda: layers.RelaxedBernoulli(inference_mode="sigmoid"), False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_nan_never_becomes_a_confident_output(case):
    make, training = CASES[case]
    out = to_numpy(make()(_logits([0.1, NAN, 0.3, 0.2]), training=training))
    if case.startswith("relaxed_bernoulli"):  # element-wise
        assert np.isnan(out[1, 1]) and np.all(np.isfinite(out[1, [0, 2, 3]]))
    else:
        assert np.all(np.isnan(out[1])), out
    assert np.all(np.isfinite(out[[0, 2]]))


@pytest.mark.parametrize("case", ["gumbel_softmax_sample",
                                  "gumbel_softmax_hard",
                                  "gumbel_softmax_argmax",
                                  "gumbel_softmax_softmax"])
def test_plus_inf_takes_the_whole_mass(case):
    make, training = CASES[case]
    out = to_numpy(make()(_logits([1.0, 3.0, INF, 0.0]), training=training))
    np.testing.assert_array_equal(out[1], [0, 0, 1, 0])


def test_vector_quantizer_nan_inputs_give_nan():
    vq = layers.GumbelVectorQuantizer(2, 4, 8, seed=0)
    x = np.ones((2, 3, 5), "float32")
    x[0, 1, 2] = NAN
    for training in (True, False):
        q = to_numpy(vq(x, training=training))
        assert np.all(np.isnan(q[0, 1])), q[0, 1]
        assert np.all(np.isfinite(q[1]))


@pytest.mark.parametrize("make", [
    lambda: layers.GumbelSoftmax(seed=1),
    lambda: layers.GumbelSoftmax(inference_mode="argmax"),
    lambda: layers.GumbelSoftmax(inference_mode="softmax"),
    lambda: layers.GumbelTopK(1, inference_mode="top_k")])
@pytest.mark.parametrize("training", [True, False])
def test_zero_categories_raise_naming_the_argument(make, training):
    with pytest.raises(ValueError, match="at least one category"):
        make()(np.zeros((2, 0), "float32"), training=training)


@pytest.mark.parametrize("layer", [layers.GumbelSoftmax(seed=1),
                                   layers.RelaxedBernoulli(seed=1),
                                   layers.GumbelTopK(1, seed=1)])
def test_string_inputs_raise_type_error(layer):
    with pytest.raises(TypeError, match="`inputs`"):
        layer(np.array([["a", "b"]]), training=True)
