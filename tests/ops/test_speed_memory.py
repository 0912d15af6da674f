"""The fast sampling path: what its backward pass keeps, and that it matches
a straightforward implementation (so speed-ups cannot change results)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gumbel.ops import gumbel_softmax
from keras_gumbel.backend.tensorflow import uniform as uniform_noise
from keras_gumbel.backend import gumbel_noise, one_hot_argmax

pytestmark = pytest.mark.backends("tensorflow")  # tests TensorFlow itself

SHAPE = (6, 7)  # Distinctive, so full-size tensors are easy to pick out.


def _reference(x, tau, seed, hard=False):
    """The textbook sampler, differentiated by TF's autodiff."""
    tiny = np.finfo(x.dtype.as_numpy_dtype).tiny
    u = tf.random.stateless_uniform(tf.shape(x), seed, minval=tiny,
                                    maxval=1.0, dtype=x.dtype, alg="philox")
    z = x + -tf.math.log(-tf.math.log(u))
    y = tf.nn.softmax(z / tau, axis=-1)
    if not hard:
        return y
    d = tf.one_hot(tf.argmax(z, -1), tf.shape(z)[-1], dtype=x.dtype)
    return y + tf.stop_gradient(d - y)


def _kept_for_backward(sampler, tau):
    """Forward-pass tensors of the logits' shape that the gradient reads.

    Traces `sampler` and the gradient of `sum(y * w)` in one graph, then
    walks back from the gradient w.r.t. the logits (and `tau`) to the
    forward-pass ops it depends on. Tensors of the logits' full shape among
    those are what the backward pass holds in memory (graph inputs excluded:
    they exist anyway).
    """
    kept = []

    @tf.function(autograph=False)
    def step(x, w, tau):
        with tf.GradientTape() as tape:
            tape.watch([x, tau])
            y = sampler(x, tau)
            loss = tf.reduce_sum(y * w)
        graph = y.graph
        n_forward = len(graph.get_operations())
        grads = tape.gradient(loss, [x, tau])
        forward_ops = set(graph.get_operations()[:n_forward])
        seen, stack = set(), [g.op for g in grads if g is not None]
        while stack:
            op = stack.pop()
            if op in seen:
                continue
            seen.add(op)
            for t in op.inputs:
                if t.op in forward_ops:
                    if (t.op.type not in ("Placeholder", "Const")
                            and t.shape.as_list() == list(SHAPE)):
                        kept.append(t)
                else:
                    stack.append(t.op)
        return grads

    step.get_concrete_function(tf.TensorSpec(SHAPE), tf.TensorSpec(SHAPE),
                               tf.TensorSpec(tau.shape))
    return {t.name: t.op.type for t in kept}


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("tau_kind", ["python", "one", "tensor"])
def test_backward_keeps_only_the_relaxed_sample(hard, tau_kind):
    tau = tf.constant([0.5] * SHAPE[0])

    def sampler(x, tau_t):
        t = {"python": 0.5, "one": 1.0, "tensor": tau_t}[tau_kind]
        return gumbel_softmax(x, t, hard=hard, seed=[1, 2])

    kept = _kept_for_backward(sampler, tau)
    # Exactly one full-size tensor: the softmax output `y`. Not the noise,
    # `x + g`, the uniform draw or the one-hot sample.
    assert list(kept.values()) == ["Softmax"], kept


def test_the_inspection_sees_what_autodiff_keeps():
    # The same check on the textbook sampler with a tensor temperature finds
    # more than `y` (`x + g` for the temperature's gradient): the test above
    # can fail.
    kept = _kept_for_backward(
        lambda x, tau: _reference(x, tau[:, None], tf.constant([1, 2])),
        tf.constant([0.5] * SHAPE[0]))
    assert len(kept) > 1, kept


MODES = {
    "eager": lambda f: f,
    "graph": tf.function,
    "xla": lambda f: tf.function(f, jit_compile=True),
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_clamp_is_bit_identical_to_stateless_uniform_minval(mode,
                                                                    dtype):
    # `max(v, tiny)` replaces `stateless_uniform(minval=tiny, maxval=1)`:
    # same bits for 3 x 50k draws. A draw of exactly 0 (probability 2**-23
    # per draw) is too rare to meet here, so that case is checked directly
    # at the end.
    dtype = tf.as_dtype(dtype)
    tiny = np.finfo(dtype.as_numpy_dtype).tiny

    def both(seed):
        ref = tf.random.stateless_uniform([50_000], seed, minval=tiny,
                                          maxval=1.0, dtype=dtype,
                                          alg="philox")
        return uniform_noise([50_000], seed, dtype), ref

    run = MODES[mode](both)
    for s in range(3):
        ours, ref = run(tf.constant([s, 17], tf.int64))
        np.testing.assert_array_equal(ours.numpy(), ref.numpy())
        assert ours.numpy().min() >= tiny and ours.numpy().max() < 1.0
    # A zero before the clamp maps to tiny in both: shown directly.
    zero = tf.zeros([3], dtype)
    np.testing.assert_array_equal(
        tf.maximum(zero, tiny).numpy(), (zero * (1.0 - tiny) + tiny).numpy())


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("temperature", [1.0, 0.3, "tensor"])
def test_fast_path_matches_the_textbook_sampler(mode, temperature):
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(64, 9)) * 3.0, tf.float32)
    w = tf.constant(rng.normal(size=(64, 9)), tf.float32)
    tau_vec = tf.constant(rng.uniform(0.2, 2.0, size=64), tf.float32)
    seed = tf.constant([5, 8], tf.int64)

    def run(x, tau_vec):
        tensor = temperature == "tensor"
        tau = tau_vec if tensor else temperature
        out = []
        for hard in (False, True):
            for sampler in (
                    lambda: gumbel_softmax(x, tau, hard=hard, seed=seed),
                    lambda: _reference(x, tau_vec[:, None] if tensor else tau,
                                       seed, hard)):
                with tf.GradientTape() as tape:
                    tape.watch([x, tau_vec])
                    y = sampler()
                    loss = tf.reduce_sum(y * w)
                out.append([y] + tape.gradient(loss, [x, tau_vec]))
        return out

    (y, dx, dt), (y_ref, dx_ref, dt_ref), (d, ddx, ddt), (d_ref, ddx_ref,
                                                          ddt_ref) = (
        MODES[mode](run)(x, tau_vec))
    # `* (1 / tau)` instead of `/ tau` may round the scaled logits
    # differently in the last bit (|s| < 100 here): relative error a few
    # 1e-6 after `exp`.
    np.testing.assert_allclose(y.numpy(), y_ref.numpy(), rtol=2e-5,
                               atol=1e-7)
    # Same noise, so exactly the same one-hot sample, and it is the argmax
    # of the relaxed sample.
    np.testing.assert_array_equal(d.numpy(), d_ref.numpy())
    np.testing.assert_array_equal(
        d.numpy(), np.eye(9)[np.argmax(y.numpy(), -1)])
    for got, want in [(dx, dx_ref), (ddx, ddx_ref), (ddx, dx)]:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4,
                                   atol=1e-5)
    if temperature == "tensor":
        for got, want in [(dt, dt_ref), (ddt, ddt_ref)]:
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4,
                                       atol=1e-5)


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gumbel_noise_is_the_textbook_transform(mode, dtype):
    # Bit for bit: `-log(xlogy(-1, max(v, tiny)))` is
    # `-log(-log(stateless_uniform(minval=tiny, maxval=1)))`.
    seed = tf.constant([2, 9], tf.int64)
    dtype = tf.as_dtype(dtype)
    tiny = np.finfo(dtype.as_numpy_dtype).tiny

    def both():
        u = tf.random.stateless_uniform([20_000], seed, minval=tiny,
                                        maxval=1.0, dtype=dtype, alg="philox")
        return gumbel_noise([20_000], seed, dtype), -tf.math.log(
            -tf.math.log(u))

    ours, ref = MODES[mode](both)()
    np.testing.assert_array_equal(ours.numpy(), ref.numpy())


@pytest.mark.parametrize("mode", sorted(MODES))
def test_one_hot_argmax_first_maximum_on_ties(mode):
    z = tf.constant([[1.0, 3.0, 3.0, 0.0], [-np.inf, -np.inf, -np.inf, -1.0],
                     [2.0, 2.0, 2.0, 2.0]])
    out = MODES[mode](lambda z: one_hot_argmax(z, 1, tf.float32))(z)
    np.testing.assert_array_equal(
        out.numpy(), [[0, 1, 0, 0], [0, 0, 0, 1], [1, 0, 0, 0]])
