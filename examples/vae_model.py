"""The categorical VAE of Jang et al. 2017 as a Keras model, plus export.

Shared by `examples/categorical_vae.py` and `benchmarks/paper_vae.py`.

```
x -> encoder MLP -> logits [B, N, K] -> GumbelSoftmax -> z [B, N, K]
  -> decoder MLP -> Bernoulli logits [B, D]
-ELBO(x) = sum_d sigmoid_xent(x_d, logits_d)            (reconstruction)
         + sum_n KL(Categorical(softmax(logits_n)) || Uniform(K))
```
In training (`fit`) `z` is the `GumbelSoftmax` layer's sample: relaxed
(Gumbel-Softmax estimator) or exactly one-hot with a hard estimator's gradient
(straight-through, Gumbel-Rao, ReinMax). In evaluation (`evaluate`, the
`val_loss` of `fit`) `z` is an exact categorical sample (Gumbel-Max), so the
reported value is a one-sample estimate of the negative ELBO of the discrete
model whatever the training estimator.

References:
  Jang, Gu, Poole. Categorical Reparameterization with Gumbel-Softmax.
  ICLR 2017. https://arxiv.org/abs/1611.01144
"""

import time

import keras
import numpy as np
import tensorflow as tf

from keras_gumbel import ops
from keras_gumbel.callbacks import TemperatureScheduler
from keras_gumbel.layers import GumbelSoftmax
from keras_gumbel.schedules import ExponentialDecay


def build_encoder(input_dim, hidden, latent_vars, categories):
    """MLP `x [B, D] -> logits [B, N, K]` with ReLU hidden layers."""
    layers = [keras.Input((input_dim,))]
    layers += [keras.layers.Dense(units, activation="relu") for units in hidden]
    layers += [keras.layers.Dense(latent_vars * categories),
               keras.layers.Reshape((latent_vars, categories))]
    return keras.Sequential(layers, name="encoder")


def build_decoder(output_dim, hidden, latent_vars, categories):
    """MLP `z [B, N, K] -> Bernoulli logits [B, D]` (hidden layers reversed)."""
    layers = [keras.Input((latent_vars, categories)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(units, activation="relu")
               for units in reversed(hidden)]
    layers += [keras.layers.Dense(output_dim)]
    return keras.Sequential(layers, name="decoder")


def neg_elbo_terms(x, x_logits, logits):
    """Per-example reconstruction and KL terms of the negative ELBO (nats).

    Args:
      x: binary targets `[B, D]`.
      x_logits: decoder Bernoulli logits `[B, D]`.
      logits: encoder logits `[B, N, K]`.

    Returns:
      `(reconstruction, kl)`, each of shape `[B]`.
    """
    x = tf.cast(x, x_logits.dtype)
    reconstruction = tf.reduce_sum(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=x_logits), -1)
    kl = tf.reduce_sum(ops.categorical_kl_uniform(logits), -1)
    return reconstruction, kl


class CategoricalVAE(keras.Model):
    """Encoder, `GumbelSoftmax` sampler and decoder; loss = negative ELBO.

    Args:
      encoder: model `x [B, D] -> logits [B, N, K]`.
      sampler: a `keras_gumbel.layers.GumbelSoftmax` layer.
      decoder: model `z [B, N, K] -> Bernoulli logits [B, D]`.
      seed: int or None, seed of the exact samples drawn in evaluation.

    Call arguments:
      x: binary images `[B, D]`.
      training: `True`: `z` is the sampler's sample; otherwise an exact
        categorical sample of `softmax(logits)`.

    Returns:
      `(x_logits [B, D], logits [B, N, K])`.
    """

    def __init__(self, encoder, sampler, decoder, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.sampler = sampler
        self.decoder = decoder
        # Its own stream: the sampler's generator starts from `seed`.
        self.eval_seed = keras.random.SeedGenerator(
            None if seed is None else seed + 1)
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def call(self, x, training=None):
        logits = self.encoder(x, training=training)
        if training:
            z = self.sampler(logits, training=True)
        else:
            z = ops.gumbel_max(logits, seed=self.eval_seed)
        return self.decoder(z, training=training), logits

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        x_logits, logits = y_pred
        reconstruction, kl = neg_elbo_terms(x, x_logits, logits)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return tf.reduce_mean(reconstruction + kl)


def build_vae(input_dim, latent_vars=20, categories=10, hidden=(512, 256),
              hard=False, estimator="straight_through", estimator_samples=1,
              temperature=1.0, seed=None):
    """Builds an uncompiled `CategoricalVAE` (the paper's MLPs by default)."""
    encoder = build_encoder(input_dim, hidden, latent_vars, categories)
    decoder = build_decoder(input_dim, hidden, latent_vars, categories)
    sampler = GumbelSoftmax(temperature=temperature, hard=hard,
                            estimator=estimator,
                            estimator_samples=estimator_samples, seed=seed,
                            name="gumbel_softmax")
    vae = CategoricalVAE(encoder, sampler, decoder, seed=seed,
                         name="categorical_vae")
    vae(keras.ops.zeros((1, input_dim)), training=True)  # build all weights
    return vae


def train_vae(vae, train, valid, epochs, batch_size=100, learning_rate=1e-3,
              initial_temperature=1.0, anneal_rate=1e-4, anneal_every=500,
              min_temperature=0.5, verbose=1, callbacks=()):
    """Compiles and fits `vae` with Adam and the paper's annealing schedule.

    `tau(t) = max(min_temperature, initial * exp(-anneal_rate * N
    * floor(t / N)))`, `N = anneal_every`, `t` the global training step, set
    before every batch by `keras_gumbel.callbacks.TemperatureScheduler`.

    Returns:
      `(history, seconds)`: the `keras.callbacks.History` (per epoch `loss`,
      `val_loss`, `reconstruction`, `kl`, `temperature`, ...) and the
      wall-clock time of `fit`.
    """
    schedule = ExponentialDecay(initial=initial_temperature, rate=anneal_rate,
                                minimum=min_temperature, every=anneal_every)
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
    start = time.perf_counter()
    history = vae.fit(train, epochs=epochs, batch_size=batch_size,
                      validation_data=(valid,), shuffle=True, verbose=verbose,
                      callbacks=[TemperatureScheduler(schedule),
                                 keras.callbacks.TerminateOnNaN(),
                                 *callbacks])
    return history, time.perf_counter() - start


def estimate_neg_elbo(vae, x, discrete=True, batch_size=1000):
    """Mean one-sample negative ELBO estimate over the rows of `x` (nats).

    Args:
      vae: a trained `CategoricalVAE`.
      x: binary images `[n, D]`.
      discrete: `True`: `z` is an exact categorical sample (the ELBO of the
        discrete model); `False`: `z` is the sampler's training sample at its
        current temperature (relaxed for the Gumbel-Softmax estimator).
      batch_size: rows per forward pass.

    Returns:
      A Python float.
    """
    total = 0.0
    for start in range(0, len(x), batch_size):
        batch = tf.convert_to_tensor(x[start:start + batch_size])
        if discrete:
            x_logits, logits = vae(batch, training=False)
        else:
            logits = vae.encoder(batch, training=False)
            x_logits = vae.decoder(vae.sampler(logits, training=True))
        reconstruction, kl = neg_elbo_terms(batch, x_logits, logits)
        total += float(tf.reduce_sum(reconstruction + kl))
    return total / len(x)


def evaluate_vae(vae, data):
    """Final metrics of a trained VAE on the splits of `data`.

    Returns:
      A dict: `<split>_neg_elbo` for each split (exact categorical samples),
      `test_neg_elbo_relaxed` (the sampler's relaxed training sample at the
      final temperature; `None` for hard samplers), `temperature` and
      `steps` (optimizer steps taken).
    """
    metrics = {f"{split}_neg_elbo": estimate_neg_elbo(vae, x)
               for split, x in data.items()}
    metrics["test_neg_elbo_relaxed"] = (
        None if vae.sampler.hard else
        estimate_neg_elbo(vae, data["test"], discrete=False))
    metrics["temperature"] = float(vae.sampler.temperature.numpy())
    metrics["steps"] = int(vae.optimizer.iterations.numpy())
    return metrics


def serving_models(vae):
    """Keras models for serving: the encoder to codes, the decoder to pixels.

    The encoder ends in a copy of the sampler with `inference_mode="argmax"`:
    `x [B, D] -> one-hot codes [B, N, K]` (deterministic). The decoder maps
    codes `[B, N, K]` to Bernoulli probabilities `[B, D]`. Both share the
    trained weights.
    """
    config = vae.sampler.get_config()
    config.update(inference_mode="argmax", name="codes")
    to_codes = GumbelSoftmax.from_config(config)
    x = keras.Input(vae.encoder.input_shape[1:], name="images")
    encoder = keras.Model(x, to_codes(vae.encoder(x)), name="encoder_serving")
    z = keras.Input(vae.decoder.input_shape[1:], name="codes")
    probs = keras.layers.Activation("sigmoid")(vae.decoder(z))
    decoder = keras.Model(z, probs, name="decoder_serving")
    return encoder, decoder


def check_serving(vae, encoder_path, decoder_path, x):
    """Reloads both SavedModels with `tf.saved_model.load` and serves `x`.

    Checks: codes have shape `[B, N, K]`, are exactly one-hot and equal the
    argmax of the in-process encoder; probabilities have shape `[B, D]`,
    lie in [0, 1] and match the in-process decoder (atol 1e-5).

    Returns:
      A dict describing the check (shapes, batch size).

    Raises:
      RuntimeError: a check fails.
    """
    encoder = tf.saved_model.load(str(encoder_path))
    decoder = tf.saved_model.load(str(decoder_path))
    x = tf.convert_to_tensor(x, tf.float32)
    codes = encoder.serve(x).numpy()
    probs = decoder.serve(tf.convert_to_tensor(codes)).numpy()
    logits = vae.encoder(x, training=False).numpy()
    n, k = logits.shape[1:]
    expected_codes = np.eye(k, dtype=np.float32)[logits.argmax(-1)]
    expected_probs = tf.sigmoid(vae.decoder(expected_codes)).numpy()
    problems = []
    if codes.shape != (len(x), n, k):
        problems.append(f"codes shape {codes.shape} != {(len(x), n, k)}")
    elif not (np.isin(codes, (0, 1)).all() and (codes.sum(-1) == 1).all()):
        problems.append("codes are not one-hot")
    elif not np.array_equal(codes, expected_codes):
        problems.append("served codes differ from the encoder's argmax")
    if problems:
        raise RuntimeError("serving check failed: " + "; ".join(problems))
    if probs.shape != (len(x), x.shape[1]):
        problems.append(f"probabilities shape {probs.shape} != "
                        f"{(len(x), x.shape[1])}")
    elif not (np.isfinite(probs).all() and (probs >= 0).all()
              and (probs <= 1).all()):
        problems.append("probabilities outside [0, 1]")
    elif not np.allclose(probs, expected_probs, atol=1e-5):
        problems.append("served probabilities differ from the decoder's")
    if problems:
        raise RuntimeError("serving check failed: " + "; ".join(problems))
    return {"batch": int(len(x)), "codes_shape": list(codes.shape),
            "probabilities_shape": list(probs.shape), "ok": True}
