"""The categorical VAE of the examples and its negative ELBO.

The model, as in Jang et al. 2017:
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

Written with `keras.ops` and `keras.random`: runs on every Keras backend.

References:
  Jang, Gu, Poole. Categorical Reparameterization with Gumbel-Softmax.
  ICLR 2017. https://arxiv.org/abs/1611.01144
"""

import keras

from keras_gumbel import ops
from keras_gumbel.layers import GumbelSoftmax


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
    x = keras.ops.cast(x, x_logits.dtype)
    reconstruction = keras.ops.sum(keras.ops.binary_crossentropy(
        x, x_logits, from_logits=True), -1)
    kl = keras.ops.sum(ops.categorical_kl_uniform(logits), -1)
    return reconstruction, kl


class CategoricalVAE(keras.Model):
    """Encoder, `GumbelSoftmax` sampler and decoder; loss = negative ELBO.

    Logs `loss` (the negative ELBO), `reconstruction` and `kl`, in training
    and (prefixed `val_`) in validation.

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
        return keras.ops.mean(reconstruction + kl)


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


def _float(value):
    return float(keras.ops.convert_to_numpy(value))


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
        batch = keras.ops.convert_to_tensor(x[start:start + batch_size])
        if discrete:
            x_logits, logits = vae(batch, training=False)
        else:
            logits = vae.encoder(batch, training=False)
            x_logits = vae.decoder(vae.sampler(logits, training=True))
        reconstruction, kl = neg_elbo_terms(batch, x_logits, logits)
        total += _float(keras.ops.sum(reconstruction + kl))
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
    metrics["temperature"] = _float(vae.sampler.temperature)
    metrics["steps"] = int(keras.ops.convert_to_numpy(
        vae.optimizer.iterations))
    return metrics
