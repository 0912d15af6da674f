"""Tests for keras_gumbel.layers.GumbelVectorQuantizer.

The reference is Hugging Face's `Wav2Vec2GumbelVectorQuantizer` itself
(transformers + torch, imported inside the tests and skipped when missing),
given the weights of our layer, and NumPy float64 re-computations of the
formulas; no number is copied from either.
"""

import math
import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

from keras_gumbel import callbacks, schedules
from keras_gumbel.layers import GumbelVectorQuantizer
from keras_gumbel.layers._base import find_layers
from keras_gumbel.ops import sample_gumbel
from tests.backend_utils import to_numpy, value_and_grad
from tests.stats_utils import DELTA, assert_chi_square

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

B, T, D, G, V, C = 3, 11, 16, 2, 8, 12  # batch, time, features, groups...
PERPLEXITY_EPSILON = 1e-7  # fairseq's `p * log(p + 1e-7)`


def _inputs(shape=(B, T, D), seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _mask(seed=1):
    mask = np.random.default_rng(seed).uniform(size=(B, T)) < 0.6
    mask[0, 0] = True
    return mask


def _layer(weights_seed=0, **kwargs):
    """A built layer with random weights of a moderate scale (logits ~ N(0,
    4)) drawn by NumPy, so every backend gets the same numbers."""
    kwargs = {"num_groups": G, "num_vars": V, "codevector_dim": C, **kwargs}
    layer = GumbelVectorQuantizer(**kwargs)
    layer.build((None, None, D))
    rng = np.random.default_rng(100 + weights_seed)
    layer.weight_proj.kernel.assign(
        (0.5 * rng.normal(size=(D, G * V))).astype("float32"))
    layer.weight_proj.bias.assign(
        (0.5 * rng.normal(size=(G * V,))).astype("float32"))
    layer.codevectors.assign(
        rng.uniform(size=(G * V, C // G)).astype("float32"))
    return layer


def _logits64(layer, x):
    kernel = to_numpy(layer.weight_proj.kernel).astype(np.float64)
    bias = to_numpy(layer.weight_proj.bias).astype(np.float64)
    return (x.astype(np.float64) @ kernel + bias).reshape(
        x.shape[:-1] + (G, V))


def _perplexity64(probs, mask=None):
    """fairseq's formula in float64: probs [..., G, V], mask [...]."""
    flat = probs.reshape(-1, G, V)
    if mask is not None:
        flat = flat[mask.reshape(-1)]
    marginal = flat.mean(0)
    entropy = -np.sum(marginal * np.log(marginal + PERPLEXITY_EPSILON), -1)
    return np.exp(entropy).sum()


def _softmax64(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def _selected(layer, quantized):
    """Index of the codevector each group's output equals exactly, [..., G];
    asserts that each group's output is exactly one of its codevectors."""
    codebook = to_numpy(layer.codevectors).astype(np.float64).reshape(
        G, V, C // G)
    chunks = np.asarray(quantized, np.float64).reshape(
        quantized.shape[:-1] + (G, 1, C // G))
    equal = np.all(chunks == codebook, axis=-1)  # [..., G, V]
    assert np.all(equal.sum(-1) == 1), "an output is not one codevector"
    return equal.argmax(-1)


def test_weights_and_shapes():
    layer = GumbelVectorQuantizer(num_groups=4, num_vars=5, codevector_dim=24)
    out = layer(_inputs((2, 7, 9)))
    assert tuple(out.shape) == (2, 7, 24)
    assert tuple(layer.codevectors.shape) == (20, 6)
    assert tuple(layer.weight_proj.kernel.shape) == (9, 20)
    assert layer.weight_proj.name == "weight_proj"
    assert layer.compute_output_shape((None, 7, 9)) == (None, 7, 24)
    # Rank 2 and rank 4 inputs work too (Dense acts on the last axis).
    assert tuple(layer(_inputs((3, 9))).shape) == (3, 24)
    assert tuple(layer(_inputs((2, 3, 4, 9))).shape) == (2, 3, 4, 24)


# A wrong type is a TypeError, a wrong value a ValueError.
@pytest.mark.parametrize("kwargs, error, name, value", [
    ({"codevector_dim": 13}, ValueError, "codevector_dim", "13"),
    ({"codevector_dim": 0}, ValueError, "codevector_dim", "0"),
    ({"num_groups": 0}, ValueError, "num_groups", "0"),
    ({"num_groups": -2}, ValueError, "num_groups", "-2"),
    ({"num_vars": 0}, ValueError, "num_vars", "0"),
    ({"num_vars": 2.0}, TypeError, "num_vars", "2.0"),
    ({"num_groups": True}, TypeError, "num_groups", "True"),
    ({"temperature": 0.0}, ValueError, "temperature", "0.0"),
    ({"temperature": -2.0}, ValueError, "temperature", "-2.0"),
    ({"temperature": math.nan}, ValueError, "temperature", "nan"),
    ({"temperature": "2"}, TypeError, "temperature", "'2'"),
    ({"diversity_weight": -0.1}, ValueError, "diversity_weight", "-0.1"),
    ({"diversity_weight": math.inf}, ValueError, "diversity_weight", "inf"),
    ({"return_perplexity": 1}, TypeError, "return_perplexity", "1"),
    ({"learn_temperature": "no"}, TypeError, "learn_temperature", "'no'"),
    ({"seed": 1.5}, TypeError, "seed", "1.5"),
])
def test_invalid_arguments_raise_in_init(kwargs, error, name, value):
    kwargs = {"num_groups": G, "num_vars": V, "codevector_dim": C, **kwargs}
    message = (re.escape(f"Invalid value received for argument `{name}`")
               + ".*" + re.escape(f"Received: {name}={value}"))
    with pytest.raises(error, match=message):
        GumbelVectorQuantizer(**kwargs)


def test_bad_inputs_and_mask_raise():
    layer = GumbelVectorQuantizer(G, V, C)
    with pytest.raises(ValueError, match="`inputs`"):
        layer(np.zeros((5,), "float32"))
    with pytest.raises(ValueError, match="`mask`"):
        _layer()(_inputs(), mask=np.ones((B,), bool))


def test_config_round_trip_and_registration():
    layer = GumbelVectorQuantizer(
        num_groups=2, num_vars=3, codevector_dim=4, temperature=1.5,
        return_perplexity=True, diversity_weight=0.25, seed=7, name="vq")
    config = layer.get_config()
    for key, value in {"num_groups": 2, "num_vars": 3, "codevector_dim": 4,
                       "temperature": 1.5, "return_perplexity": True,
                       "diversity_weight": 0.25, "learn_temperature": False,
                       "seed": 7}.items():
        assert config[key] == value
    assert "hard" not in config and "inference_mode" not in config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer))
    assert type(restored) is GumbelVectorQuantizer
    assert restored.get_config() == config


# ----------------------------------------------- against Hugging Face's class


def _hf_quantizer(layer):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from transformers import Wav2Vec2Config
    from transformers.models.wav2vec2 import modeling_wav2vec2

    config = Wav2Vec2Config(
        num_codevector_groups=layer.num_groups,
        num_codevectors_per_group=layer.num_vars,
        codevector_dim=layer.codevector_dim, conv_dim=(D,), conv_stride=(1,),
        conv_kernel=(1,))
    hf = modeling_wav2vec2.Wav2Vec2GumbelVectorQuantizer(config)
    with torch.no_grad():
        hf.weight_proj.weight.copy_(
            torch.tensor(to_numpy(layer.weight_proj.kernel).T))
        hf.weight_proj.bias.copy_(
            torch.tensor(to_numpy(layer.weight_proj.bias)))
        hf.codevectors.copy_(torch.tensor(to_numpy(layer.codevectors))[None])
    return hf, torch


@pytest.mark.parametrize("masked", [False, True])
def test_same_numbers_as_hugging_face(masked):
    layer = _layer(return_perplexity=True)
    hf, torch = _hf_quantizer(layer)
    x = _inputs()
    mask = _mask() if masked else None
    # Precondition (deterministic data): no two logits of a group within
    # 1e-3 of the top one, so float32 rounding of the two matmuls cannot
    # change an argmax.
    top2 = np.sort(_logits64(layer, x), -1)[..., -2:]
    assert np.min(top2[..., 1] - top2[..., 0]) > 1e-3

    torch_mask = None if mask is None else torch.tensor(mask)
    with torch.no_grad():
        hf.eval()
        hf_q, hf_p_eval = hf(torch.tensor(x), torch_mask)
        hf.train()
        _, hf_p_train = hf(torch.tensor(x), torch_mask)

    quantized, p_eval = layer(x, training=False, mask=mask)
    _, p_train = layer(x, training=True, mask=mask)
    # The lookup is exact in both: the same codevectors, bit for bit.
    np.testing.assert_array_equal(to_numpy(quantized), hf_q.numpy())
    # HF uses xlogy(p, p) where fairseq and DESIGN.md use p * log(p + 1e-7):
    # the entropies differ by at most V * 1e-7 (sum over V entries of
    # p * log(1 + 1e-7 / p) <= 1e-7 each), on top of float32 rounding.
    rtol = V * PERPLEXITY_EPSILON + 1e-5
    np.testing.assert_allclose(to_numpy(p_eval), hf_p_eval.numpy(), rtol=rtol)
    np.testing.assert_allclose(to_numpy(p_train), hf_p_train.numpy(),
                               rtol=rtol)
    # And both are fairseq's formula, recomputed in float64.
    logits = _logits64(layer, x)
    onehot = (logits == logits.max(-1, keepdims=True)).astype(np.float64)
    np.testing.assert_allclose(to_numpy(p_eval),
                               _perplexity64(onehot, mask), rtol=1e-5)
    np.testing.assert_allclose(to_numpy(p_train),
                               _perplexity64(_softmax64(logits), mask),
                               rtol=1e-5)
    if masked:  # The mask changes the perplexity (the test can fail).
        assert abs(float(to_numpy(p_train)) - _perplexity64(
            _softmax64(logits))) > 1e-3


def _torch_gumbel_softmax_given(noise, torch):
    """torch's `F.gumbel_softmax` (torch/nn/functional.py), computed on the
    Gumbel noise `noise` instead of noise torch draws itself."""

    def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
        gumbels = (logits + torch.tensor(noise).reshape(logits.shape)) / tau
        y_soft = gumbels.softmax(dim)
        if not hard:
            return y_soft
        index = y_soft.max(dim, keepdim=True)[1]
        y_hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
        return y_hard - y_soft.detach() + y_soft

    return gumbel_softmax


def test_training_output_equals_hugging_face_given_the_same_noise(
        monkeypatch):
    # Hugging Face samples inside torch's F.gumbel_softmax; handed the noise
    # our layer draws (a twin of its seed generator gives it), its training
    # forward must pick the same codevectors as ours.
    layer = _layer(seed=3, temperature=0.7)
    hf, torch = _hf_quantizer(layer)
    x = _inputs()
    noise = to_numpy(sample_gumbel((B, T, G, V),
                                   seed=keras.random.SeedGenerator(3)))
    # Precondition (deterministic data): no two perturbed logits of a group
    # within 1e-3 of the top one, so float32 rounding of the two matmuls
    # cannot change an argmax.
    top2 = np.sort(_logits64(layer, x) + noise, -1)[..., -2:]
    assert np.min(top2[..., 1] - top2[..., 0]) > 1e-3
    monkeypatch.setattr(torch.nn.functional, "gumbel_softmax",
                        _torch_gumbel_softmax_given(noise, torch))
    hf.train()
    with torch.no_grad():
        hf_q, _ = hf(torch.tensor(x))
    ours = to_numpy(layer(x, training=True))
    np.testing.assert_array_equal(_selected(layer, ours),
                                  _selected(layer, hf_q.numpy()))
    np.testing.assert_allclose(ours, hf_q.numpy(), rtol=1e-6)


# ------------------------------------------------------------------ sampling


def test_training_draws_codevectors_with_softmax_probabilities():
    # Every position has the same logits (zero kernel, the bias), so the
    # selected indices of the N positions are i.i.d. draws. Each of the G=2
    # groups gets a chi-square test at false-failure probability DELTA=1e-8:
    # a correct layer fails this test with probability < 2e-8.
    n = 20000
    layer = GumbelVectorQuantizer(num_groups=2, num_vars=4, codevector_dim=4,
                                  temperature=0.7, seed=11)
    layer.build((None, 3))
    probs = np.array([[0.1, 0.2, 0.3, 0.4], [0.05, 0.05, 0.6, 0.3]])
    layer.weight_proj.kernel.assign(np.zeros((3, 8), "float32"))
    layer.weight_proj.bias.assign(np.log(probs).reshape(-1).astype("float32"))
    layer.codevectors.assign(np.arange(16, dtype="float32").reshape(8, 2))
    out = to_numpy(layer(np.ones((n, 3), "float32"), training=True))
    chosen = np.stack([
        np.all(out[:, None, 2 * g:2 * g + 2]
               == to_numpy(layer.codevectors)[None, 4 * g:4 * g + 4], -1)
        for g in range(2)], 1)  # [n, G, V]
    assert np.all(chosen.sum(-1) == 1), "an output is not one codevector"
    for g in range(2):
        assert_chi_square(chosen[:, g].sum(0), probs[g], delta=DELTA)


def test_fresh_noise_each_call_and_seeded_repeatability():
    x = _inputs()
    a, b = _layer(seed=5), _layer(seed=5)
    first = to_numpy(a(x, training=True))
    assert np.array_equal(first, to_numpy(b(x, training=True)))
    # 66 positions x 2 groups of 8 codes: two draws agreeing everywhere
    # is (nearly) impossible unless the noise repeats.
    assert not np.array_equal(first, to_numpy(a(x, training=True)))


# ----------------------------------------------------------------- gradients


@pytest.mark.parametrize("learn_temperature", [False, True])
def test_straight_through_gradients_reach_projection_and_codebook(
        learn_temperature):
    layer = _layer(learn_temperature=learn_temperature, weights_seed=4)
    x = _inputs()
    weights = np.random.default_rng(2).normal(size=(B, T, C)).astype(
        "float32")
    trainable = layer.trainable_variables
    non_trainable = [v.value for v in layer.non_trainable_variables]
    paths = [v.path.split("/")[-1] for v in trainable]

    def fn(*values):
        out, _ = layer.stateless_call(list(values), non_trainable, x,
                                      training=True)
        return ops.multiply(out, weights)

    values = [to_numpy(v) for v in trainable]
    _, grads = value_and_grad(fn, *values)
    grads = dict(zip(paths, grads))
    # The same generator state, so the same noise: the sampled output.
    out, _ = layer.stateless_call(values, non_trainable, x, training=True)
    for name, grad in grads.items():
        assert np.all(np.isfinite(grad)), name
        assert np.any(grad != 0), f"no gradient reached {name}"
    # Codebook: d/dc of sum(w * onehot @ c) = onehot^T @ w, exactly.
    index = _selected(layer, to_numpy(ops.stop_gradient(out)))
    expected = np.zeros((G * V, C // G))
    for g in range(G):
        chunk = weights[..., g * (C // G):(g + 1) * (C // G)].reshape(-1,
                                                                       C // G)
        np.add.at(expected, g * V + index[..., g].reshape(-1), chunk)
    np.testing.assert_allclose(grads["codevectors"], expected, rtol=1e-5,
                               atol=1e-5)
    # Projection: the ST gradient of a softmax sums to zero over each
    # group's V logits, hence so does the bias gradient.
    bias = grads["bias"].reshape(G, V)
    np.testing.assert_allclose(bias.sum(-1), 0.0,
                               atol=1e-5 * np.abs(bias).sum())


def test_fit_step_updates_projection_and_selected_codevectors():
    layer = _layer(weights_seed=6)
    model = keras.Sequential([keras.Input((T, D)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [to_numpy(v).copy() for v in layer.trainable_variables]
    model.fit(_inputs(), np.zeros((B, T, C), "float32"), batch_size=B,
              epochs=1, verbose=0)
    for old, new in zip(before, layer.trainable_variables):
        assert not np.array_equal(old, to_numpy(new)), new.path


# ------------------------------------------------- perplexity and diversity


def test_return_perplexity_and_diversity_loss():
    w = 0.3
    layer = _layer(return_perplexity=True, diversity_weight=w)
    x = _inputs()
    quantized, perplexity = layer(x, training=False)
    assert tuple(quantized.shape) == (B, T, C)
    assert tuple(perplexity.shape) == ()
    assert G <= float(to_numpy(perplexity)) <= G * V
    assert layer.losses == []  # No diversity loss outside training.
    _, perplexity = layer(x, training=True)
    (loss,) = layer.losses
    np.testing.assert_allclose(
        to_numpy(loss), w * (G * V - to_numpy(perplexity)) / (G * V),
        rtol=1e-6)
    assert layer.compute_output_shape((None, T, D)) == ((None, T, C), ())
    # Symbolic: a functional model with both outputs.
    inputs = keras.Input((None, D))
    q, p = _layer(return_perplexity=True)(inputs)
    assert tuple(q.shape) == (None, None, C) and tuple(p.shape) == ()
    assert keras.backend.standardize_dtype(p.dtype) == "float32"


def test_fit_adds_the_diversity_loss():
    # The loss on the output is zero, so fit reports the diversity loss of
    # the first step, computed before the update from the training
    # perplexity (which does not depend on the noise).
    w = 0.5
    layer = _layer(diversity_weight=w)
    x = _inputs()
    expected = w * (G * V - _perplexity64(_softmax64(_logits64(layer, x)))) / (
        G * V)
    model = keras.Sequential([keras.Input((T, D)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=lambda y_true, y_pred: 0.0 * ops.mean(y_pred))
    history = model.fit(x, np.zeros((B, T, C), "float32"), batch_size=B,
                        epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected,
                               rtol=1e-4)
    assert expected > 1e-3


def test_keras_masking_equals_explicit_mask():
    x = _inputs()
    mask = _mask()
    x_masked = np.where(mask[..., None], x, 0.0).astype("float32")
    layer = _layer(return_perplexity=True)
    inputs = keras.Input((T, D))
    quantized, perplexity = layer(keras.layers.Masking(0.0)(inputs))
    model = keras.Model(inputs, [quantized, perplexity])
    _, via_keras = model(x_masked, training=True)
    _, explicit = layer(x_masked, training=True, mask=mask)
    _, unmasked = layer(x_masked, training=True)
    np.testing.assert_allclose(to_numpy(via_keras), to_numpy(explicit),
                               rtol=1e-6)
    assert abs(float(to_numpy(via_keras)) - float(to_numpy(unmasked))) > 1e-3
    # The mask passes through to the next layer.
    out_mask = layer.compute_mask(x_masked, ops.convert_to_tensor(mask))
    np.testing.assert_array_equal(to_numpy(out_mask[0]), mask)
    assert out_mask[1] is None


def test_empty_mask_gives_num_groups_not_nan():
    _, perplexity = _layer(return_perplexity=True)(
        _inputs(), training=True, mask=np.zeros((B, T), bool))
    assert float(to_numpy(perplexity)) == pytest.approx(G)


# ----------------------------------------------------------- mixed precision


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_logits_in_float32(policy):
    half = policy.split("_")[1]
    full = _layer(return_perplexity=True)
    mixed = GumbelVectorQuantizer(G, V, C, return_perplexity=True,
                                  dtype=policy)
    mixed.build((None, None, D))
    for src, dst in zip(full.weights, mixed.weights):
        assert src.path.split("/")[-1] == dst.path.split("/")[-1]
        dst.assign(src)
    assert mixed.weight_proj.compute_dtype == "float32"
    assert all(keras.backend.standardize_dtype(v.dtype) == "float32"
               for v in mixed.weights)
    # Keras casts the inputs to the compute dtype (as the previous layer of
    # a mixed model would output them); the logits are then float32.
    x = to_numpy(ops.cast(ops.cast(_inputs(), half), "float32"))
    q, p = mixed(x, training=False)
    q_ref, p_ref = full(x, training=False)
    assert keras.backend.standardize_dtype(q.dtype) == half
    assert keras.backend.standardize_dtype(p.dtype) == "float32"
    # Float32 logits: the same argmax, so exactly the float32 output rounded.
    np.testing.assert_array_equal(
        to_numpy(ops.cast(q, "float32")),
        to_numpy(ops.cast(ops.cast(q_ref, half), "float32")))
    assert float(to_numpy(p)) == float(to_numpy(p_ref))
    q_train, p_train = mixed(x, training=True)
    assert keras.backend.standardize_dtype(q_train.dtype) == half
    np.testing.assert_allclose(to_numpy(p_train),
                               to_numpy(full(x, training=True)[1]), rtol=1e-6)


# ------------------------------------------------------ annealing, export


def test_wav2vec_schedule_is_exponential_decay():
    schedule = schedules.ExponentialDecay(
        initial=2.0, rate=-math.log(0.999995), minimum=0.5)
    floor_step = math.log(4.0) / -math.log(0.999995)  # about 277258
    steps = [0, 1, 2, 10, 1000, 123456, int(floor_step) - 1,
             int(floor_step), int(floor_step) + 1, 400000, 10**7]
    for step in steps:
        assert schedule(step) == pytest.approx(
            max(2 * 0.999995**step, 0.5), rel=1e-9), step
    assert schedule(int(floor_step) + 1) == 0.5


def test_temperature_scheduler_anneals_the_quantizer():
    schedule = schedules.ExponentialDecay(
        initial=2.0, rate=-math.log(0.999995), minimum=0.5)
    layer = _layer(temperature=1.0)
    model = keras.Sequential([keras.Input((T, D)), layer])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    assert find_layers(model) == [layer]
    scheduler = callbacks.TemperatureScheduler(schedule)
    history = model.fit(_inputs((6, T, D)), np.zeros((6, T, C), "float32"),
                        batch_size=2, epochs=1, verbose=0,
                        callbacks=[scheduler])
    # Three batches: steps 0, 1, 2; the last one ran at 2 * 0.999995**2.
    expected = max(2 * 0.999995**2, 0.5)
    assert history.history["temperature"][-1] == pytest.approx(expected)
    assert float(to_numpy(layer.temperature)) == np.float32(expected)


def test_learned_temperature_is_refused_by_the_scheduler():
    model = keras.Sequential([keras.Input((T, D)),
                              _layer(learn_temperature=True)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="learns its temperature"):
        model.fit(_inputs(), np.zeros((B, T, C), "float32"), verbose=0,
                  callbacks=[callbacks.TemperatureScheduler(lambda s: 1.0)])


@pytest.mark.backends("tensorflow")
def test_saved_model_export_serves_inference_without_keras_gumbel(tmp_path):
    layer = _layer()
    model = keras.Sequential([keras.Input((None, D)), layer])
    path = str(tmp_path / "export")
    model.export(path, verbose=False)
    x = _inputs((5, 7, D), seed=9)  # Another batch and length than traced.
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        x = np.load({str(tmp_path / "x.npy")!r})
        np.save({str(tmp_path / "y.npy")!r}, loaded.serve(x).numpy())
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    subprocess.run([sys.executable, "-c", script], check=True, env=env,
                   cwd=str(tmp_path), timeout=300)
    served = np.load(tmp_path / "y.npy")
    np.testing.assert_array_equal(served, to_numpy(layer(x, training=False)))


# ---------------------------------------------------------------- codes


def test_code_indices_and_lookup_reproduce_the_inference_output():
    layer = _layer()
    x = _inputs()
    codes = layer.code_indices(x)
    assert tuple(codes.shape) == (B, T, G)
    assert keras.backend.standardize_dtype(codes.dtype) == "int32"
    codes = to_numpy(codes)
    np.testing.assert_array_equal(
        codes, np.argmax(_logits64(layer, x).reshape(B, T, G, V), -1))
    np.testing.assert_array_equal(to_numpy(layer.lookup(codes)),
                                  to_numpy(layer(x, training=False)))
    # By hand: group g's codevector is row g * V + index.
    book = to_numpy(layer.codevectors)
    np.testing.assert_array_equal(
        to_numpy(layer.lookup(codes[0, :1])),
        np.concatenate([book[g * V + codes[0, 0, g]] for g in range(G)])[None])


def test_code_indices_on_a_fresh_layer_and_under_mixed_precision():
    layer = GumbelVectorQuantizer(G, V, C, dtype="mixed_float16")
    x = _inputs((4, D))
    codes = layer.code_indices(x)  # builds the layer
    assert tuple(codes.shape) == (4, G)
    q = layer.lookup(codes)
    assert keras.backend.standardize_dtype(q.dtype) == "float16"
    np.testing.assert_array_equal(to_numpy(q),
                                  to_numpy(layer(x, training=False)))


def test_lookup_errors():
    layer = _layer()
    with pytest.raises(TypeError, match="`indices`"):
        layer.lookup(np.zeros((3, G), "float32"))
    with pytest.raises(ValueError, match="`indices`"):
        layer.lookup(np.zeros((3, G + 1), "int32"))
    with pytest.raises(ValueError, match="`indices`"):
        layer.lookup(np.full((3, G), V, "int32"))
    with pytest.raises(ValueError, match="not built"):
        GumbelVectorQuantizer(G, V, C).lookup(np.zeros((1, G), "int32"))
