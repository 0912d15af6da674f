"""Tests for keras_gumbel.layers.GumbelTopK and ConcreteSelect.

Backend-neutral except the SavedModel test (TensorFlow only); the contract
both layers meet is in test_contract.py.
"""

import math
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

import keras_gumbel as kg
from keras_gumbel.layers._base import find_layers
from tests.backend_utils import to_numpy
from keras_gumbel import testing
from keras_gumbel.layers import ConcreteSelect, GumbelTopK


def _data(shape, seed=0, scale=2.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(
        "float32")


def _top_k_hot(x, k, axis=-1):
    order = np.argsort(-x, axis=axis, kind="stable")
    ranks = np.argsort(order, axis=axis, kind="stable")
    return (ranks < k).astype("float32")


# -------------------------------------------------------------- GumbelTopK


def test_gumbel_top_k_outputs():
    logits = _data((8, 3, 6))
    sample = to_numpy(GumbelTopK(3, temperature=0.5, seed=1)(
        logits, training=True))
    assert np.all(sample >= 0)
    np.testing.assert_allclose(sample.sum(-1), 3.0, rtol=1e-6)
    hard = to_numpy(GumbelTopK(3, hard=True, axis=1, seed=1)(
        logits[:, :, :2], training=False))  # "sample" mode at inference
    assert set(np.unique(hard)) <= {0.0, 1.0}
    np.testing.assert_array_equal(hard.sum(1), 3.0)
    for axis in (-1, 1):
        deterministic = GumbelTopK(2, axis=axis, inference_mode="top_k")
        np.testing.assert_array_equal(
            to_numpy(deterministic(logits, training=False)),
            _top_k_hot(logits, 2, axis))


def test_gumbel_top_k_errors():
    with pytest.raises(ValueError, match=r"argument `k`"):
        GumbelTopK(0)
    for k in (2.5, True, None):  # a wrong type
        with pytest.raises(TypeError, match=r"argument `k`"):
            GumbelTopK(k)
    with pytest.raises(ValueError, match=r"`k`.*<= 4.*Received: k=5"):
        GumbelTopK(5)(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="`inference_mode`"):
        GumbelTopK(2, inference_mode="argmax")
    with pytest.raises(ValueError, match="`temperature`"):
        GumbelTopK(2, temperature=-1.0)
    with pytest.raises(ValueError, match="`axis`"):
        GumbelTopK(2, axis=3)(np.zeros((2, 4), "float32"))


# ---------------------------------------------------------- ConcreteSelect


def test_concrete_select_inference_is_exact_indexing():
    layer = ConcreteSelect(4, distinct=False, seed=2)
    x = _data((6, 3, 9))
    layer(x)  # builds
    layer.logits.assign(_data((4, 9), seed=5))
    index = layer.selected_indices()
    assert isinstance(index, np.ndarray) and index.shape == (4,)
    assert np.issubdtype(index.dtype, np.integer)
    np.testing.assert_array_equal(index,
                                  np.argmax(to_numpy(layer.logits), -1))
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)),
                                  x[..., index])
    assert layer.compute_output_shape((None, 3, 9)) == (None, 3, 4)


def test_concrete_select_training_mixes_features_with_simplex_weights():
    layer = ConcreteSelect(5, distinct=False, temperature=2.0, seed=3)
    eye = np.eye(8, dtype="float32")
    weights = to_numpy(layer(eye, training=True))  # [d, units] = w^T
    assert np.all(weights >= 0)
    np.testing.assert_allclose(weights.sum(0), 1.0, rtol=1e-6)
    again = to_numpy(layer(eye, training=True))
    assert not np.array_equal(weights, again)  # fresh noise each call
    # At a small temperature each output is (nearly) one input feature.
    layer.set_temperature(1e-3)
    picked = to_numpy(layer(eye, training=True))
    assert np.all(picked.max(0) > 0.99)


SAME_PREFERENCE = np.array([[9.0, 8.0, 0.0, 1.0, 0.0],
                            [9.0, 0.0, 7.0, 0.0, 0.0],
                            [9.0, 0.0, 0.0, 6.5, 0.0]], "float32")


def test_concrete_select_distinct_inference_is_a_matching():
    from scipy.optimize import linear_sum_assignment

    layer = ConcreteSelect(3, seed=2)
    x = _data((4, 2, 5))
    layer(x)
    # Every row prefers feature 0: independent argmaxes would be [0, 0, 0].
    layer.logits.assign(SAME_PREFERENCE)
    index = layer.selected_indices()
    _, best = linear_sum_assignment(SAME_PREFERENCE, maximize=True)
    np.testing.assert_array_equal(index, best)  # [1, 2, 0], a unique optimum
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)),
                                  x[..., index])
    # Random logits: the matching has the optimal total, distinct indices.
    logits = _data((6, 9), seed=3, scale=1.0)
    layer = ConcreteSelect(6, seed=0)
    layer(_data((2, 9)))
    layer.logits.assign(logits)
    index = layer.selected_indices()
    rows, cols = linear_sum_assignment(logits, maximize=True)
    assert len(set(index.tolist())) == 6
    np.testing.assert_allclose(logits[np.arange(6), index].sum(),
                               logits[rows, cols].sum(), rtol=1e-6)


def test_concrete_select_distinct_training_draws_distinct_hard_features():
    layer = ConcreteSelect(3, temperature=5.0, seed=4)
    eye = np.eye(5, dtype="float32")
    layer(eye)
    layer.logits.assign(SAME_PREFERENCE)
    picks = set()
    for _ in range(20):
        weights = to_numpy(layer(eye, training=True))  # [d, units] one-hot
        np.testing.assert_array_equal(np.sort(weights, 0)[-1], 1.0)
        np.testing.assert_array_equal(weights.sum(0), 1.0)
        index = np.argmax(weights, 0)
        assert len(set(index.tolist())) == 3
        picks.add(tuple(index))
    assert len(picks) > 1  # random, not the inference matching each time


def test_concrete_select_distinct_gradient_is_straight_through():
    # Forward: x[..., sigma]; backward: the relaxed weights' gradient, which
    # reaches every logit of every row (a hard pick alone would give none).
    layer = ConcreteSelect(3, temperature=5.0, seed=4)
    x = _data((8, 5), seed=1)
    layer(x)
    with_grad = _logits_gradient(layer, x)
    assert np.all(np.isfinite(with_grad)) and np.all(with_grad != 0)


def _logits_gradient(layer, x):
    """The gradient of `sum(layer(x, training=True)**2)` w.r.t. the logits."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, training=True) ** 2)
        return to_numpy(tape.gradient(loss, layer.logits.value))
    if backend == "jax":
        import jax

        def loss(value):
            out, _ = layer.stateless_call(
                [value], [v.value for v in layer.non_trainable_variables],
                x, training=True)
            return (out ** 2).sum()

        return to_numpy(jax.grad(loss)(layer.logits.value))
    out = layer(x, training=True)
    (out ** 2).sum().backward()
    return to_numpy(layer.logits.value.grad)


def test_concrete_select_units_and_distinct_arguments():
    with pytest.raises(ValueError, match="`units`"):
        ConcreteSelect(6)(_data((2, 5)))
    assert ConcreteSelect(6, distinct=False)(_data((2, 5))).shape == (2, 6)
    with pytest.raises(TypeError, match="`distinct`"):
        ConcreteSelect(2, distinct="yes")
    layer = ConcreteSelect(2, distinct=False, seed=1)
    assert layer.get_config()["distinct"] is False
    assert ConcreteSelect.from_config(layer.get_config()).distinct is False


def test_concrete_select_errors():
    with pytest.raises(ValueError, match="`units`"):
        ConcreteSelect(0)
    for units in (2.5, None):  # a wrong type
        with pytest.raises(TypeError, match="`units`"):
            ConcreteSelect(units)
    with pytest.raises(ValueError, match="`temperature`"):
        ConcreteSelect(2, temperature=0.0)
    with pytest.raises(ValueError, match="not built"):
        ConcreteSelect(2).selected_indices()


def test_keras_file_round_trip_and_annealing(tmp_path):
    d, steps = 6, 4
    inputs = keras.Input((d,))
    select = ConcreteSelect(3, seed=1, name="select")
    top = GumbelTopK(2, hard=True, inference_mode="top_k", seed=2,
                     name="top")
    outputs = keras.layers.Dense(d)(top(keras.layers.Dense(3)(
        select(inputs))))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    assert find_layers(model) == [select, top]
    schedule = kg.schedules.ExponentialDecay(
        initial=10.0, rate=math.log(1000) / steps, minimum=0.01)
    x = _data((8, d))
    history = model.fit(x, x, batch_size=2, epochs=1, verbose=0, callbacks=[
        kg.callbacks.TemperatureScheduler(schedule)])
    expected = schedule(steps - 1)
    assert history.history["temperature"][-1] == pytest.approx(expected)
    for layer in (select, top):
        assert float(to_numpy(layer.temperature)) == pytest.approx(expected)
    restored = testing.check_keras_file_round_trip(
        model, x, str(tmp_path / "model.keras"))
    np.testing.assert_array_equal(
        restored.get_layer("select").selected_indices(),
        select.selected_indices())


@pytest.mark.parametrize("distinct", [
    False, pytest.param(True, marks=pytest.mark.slow)])
def test_concrete_select_finds_the_informative_features(distinct):
    # y depends on 3 of 16 features. Six selector units, annealed from 10 to
    # 0.01 as in the paper, must cover the three (duplicate picks of one
    # feature are possible with distinct=False: the paper notes them too).
    # Deterministic given the seed; 12 of 12 seeds passed on JAX with
    # distinct=False when this was written. distinct=True is slow on torch
    # (an eager assignment per step): `pytest -m slow`.
    keras.utils.set_random_seed(0)
    d, steps, batch = 16, 300, 128
    x = _data((2048, d), seed=0, scale=1.0)
    y = (x[:, 2] - x[:, 7] + x[:, 11])[:, None]
    selector = ConcreteSelect(6, distinct=distinct, seed=0)
    model = keras.Sequential([keras.Input((d,)), selector,
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.1), "mse")
    schedule = kg.schedules.ExponentialDecay(
        initial=10.0, rate=math.log(1000) / steps, minimum=0.01)
    model.fit(x, y, batch_size=batch, epochs=steps * batch // len(x),
              verbose=0,
              callbacks=[kg.callbacks.TemperatureScheduler(schedule)])
    chosen = set(selector.selected_indices().tolist())
    assert {2, 7, 11} <= chosen, chosen
    if distinct:
        assert len(chosen) == 6
    else:
        assert len(chosen - {2, 7, 11}) <= 1


# ------------------------------------------------------------- SavedModel


LOADER = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf

    sys.modules["keras_gumbel"] = None  # serve without the package
    served = tf.saved_model.load("export")
    x = np.load("x.npy")
    out = served.serve(tf.constant(x))
    np.savez("out.npz", **{k: v.numpy() for k, v in out.items()})
""")


@pytest.mark.backends("tensorflow")
def test_saved_model_serves_the_deterministic_modes(tmp_path):
    d = 7
    inputs = keras.Input((d,), name="features")
    selected = ConcreteSelect(3, seed=1, name="select")(inputs)
    top = GumbelTopK(2, inference_mode="top_k", name="top")(inputs)
    model = keras.Model(inputs, {"selected": selected, "top": top})
    model.export(str(tmp_path / "export"), verbose=False)
    x = _data((5, d), seed=4)
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    subprocess.run([sys.executable, "-c", LOADER], cwd=tmp_path, env=env,
                   check=True, timeout=300)
    with np.load(tmp_path / "out.npz") as out:
        index = model.get_layer("select").selected_indices()
        np.testing.assert_array_equal(out["selected"], x[:, index])
        np.testing.assert_array_equal(out["top"], _top_k_hot(x, 2))


@pytest.mark.parametrize("mode", ["sample", "top_k"])
def test_gumbel_top_k_empty_batch(mode):
    layer = GumbelTopK(k=2, hard=True, inference_mode=mode, seed=0)
    empty = np.zeros((0, 5), "float32")
    for training in [True, False]:
        assert tuple(layer(empty, training=training).shape) == (0, 5)
