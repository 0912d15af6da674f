"""What the examples and the benchmarks share: the categorical VAE, its
training and evaluation, command-line checks, plots, TensorBoard and export.

Imported as `from examples import common` by the scripts, which run as
modules from the repository root (`python -m examples.categorical_vae`,
`python -m benchmarks.paper_vae`). The data loaders are public, in
`keras_gumbel.datasets`. The model code is written with `keras.ops` and
`keras.random` (any Keras backend); TensorFlow is imported only inside the
TensorBoard-image and SavedModel helpers, which skip with a printed note where
TensorFlow is not installed.

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

References:
  Jang, Gu, Poole. Categorical Reparameterization with Gumbel-Softmax.
  ICLR 2017. https://arxiv.org/abs/1611.01144
"""

import argparse
import math
import os
import re
import time

import keras
import numpy as np

from keras_gumbel import datasets
from keras_gumbel import ops
from keras_gumbel.callbacks import TemperatureScheduler
from keras_gumbel.layers import GumbelSoftmax
from keras_gumbel.schedules import ExponentialDecay

INSTALL_EXAMPLES = 'pip install -e ".[examples]"'


# ----------------------------------------------------------------------------
# Command line, data, output folder, errors.

def _number(kind, low, inclusive, what):
    """An argparse `type`: finite `kind` numbers >= `low` (> if exclusive)."""
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (
                value == low and not inclusive):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return convert


positive_int = _number(int, 1, True, "a positive integer")
positive_float = _number(float, 0.0, False, "a positive number")
non_negative_float = _number(float, 0.0, True, "a non-negative number")
int_at_least_2 = _number(int, 2, True, "an integer >= 2")


def hidden_sizes(text):
    """Parses `--hidden 512,256`."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers, got {text!r}")
    return sizes


def require_modules(*names):
    """Raises `ImportError` naming the extra if a module is not installed.

    Called before training, so that a missing plotting library does not
    surface after minutes of work.
    """
    import importlib.util

    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"{', '.join(missing)} is not installed: "
                          f"{INSTALL_EXAMPLES}")


def load_splits(data_path=None, seed=0, max_examples=None):
    """`(name, {"train", "valid", "test"} arrays)` for the examples.

    `data_path` None: scikit-learn's digits (`keras_gumbel.datasets.
    load_digits(seed)`); else binarized MNIST from that `.npz` file or folder
    (errors start with `--data-dir:`, the option that gives the path).
    `max_examples` keeps the first rows of each split.
    """
    if data_path is None:
        name, arrays = "digits", datasets.load_digits(seed)
    else:
        try:
            arrays = datasets.load_binarized_mnist(data_path)
        except datasets.DataError as err:  # the command line says --data-dir
            raise datasets.DataError(f"--data-dir: {err}") from None
        name = "binarized_mnist"
    data = dict(zip(datasets.SPLITS, arrays))
    if max_examples:
        data = {s: a[:max_examples] for s, a in data.items()}
    return name, data


def prepare_output_dir(path):
    """Creates the output folder; a failure is a one-line `DataError`."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise datasets.DataError(
            f"cannot create output directory {path}: {err.strerror}") from None
    return path


def one_line(err):
    """The gist of an exception message on one line.

    Keras wraps errors raised inside a layer's `call` in a message of several
    lines (a header, the original message in ANSI bold, the arguments); keep
    only the original message.
    """
    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines()
    if lines and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
        lines = lines[:next((i for i, line in enumerate(lines)
                             if line.startswith("Arguments received")),
                            len(lines))]
    return " ".join(line.strip() for line in lines if line.strip())


def optional_tensorflow(purpose):
    """The `tensorflow` module, or None after printing what is skipped."""
    try:
        import tensorflow as tf
    except ImportError:
        print(f"note: TensorFlow is not installed; skipping {purpose}")
        return None
    return tf


# ----------------------------------------------------------------------------
# The categorical VAE.

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


def train_vae(vae, train, valid, epochs, batch_size=100, learning_rate=1e-3,
              initial_temperature=1.0, anneal_rate=1e-4, anneal_every=500,
              min_temperature=0.5, verbose=1, callbacks=()):
    """Compiles and fits `vae` with Adam and the paper's annealing schedule.

    `tau(t) = max(min_temperature, initial * exp(-anneal_rate * N
    * floor(t / N)))`, `N = anneal_every`, `t` the global training step, set
    before every batch by `keras_gumbel.callbacks.TemperatureScheduler`,
    which comes first in the callback list so that the `temperature` it
    writes into the logs reaches `callbacks` (TensorBoard, for example).

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


def serving_models(vae):
    """Keras models for serving: the encoder to codes, the decoder to pixels.

    The encoder ends in a copy of the sampler with `inference_mode="argmax"`:
    `images [B, D] -> one-hot codes [B, N, K]` (deterministic). The decoder
    maps `codes [B, N, K]` to Bernoulli `probabilities [B, D]`. Both share
    the trained weights.
    """
    config = vae.sampler.get_config()
    config.update(inference_mode="argmax", name="codes")
    to_codes = GumbelSoftmax.from_config(config)
    x = keras.Input(vae.encoder.input_shape[1:], name="images")
    encoder = keras.Model(x, to_codes(vae.encoder(x)), name="encoder_serving")
    z = keras.Input(vae.decoder.input_shape[1:], name="codes")
    probs = keras.layers.Activation("sigmoid", name="probabilities")(
        vae.decoder(z))
    decoder = keras.Model(z, probs, name="decoder_serving")
    return encoder, decoder


# ----------------------------------------------------------------------------
# Images, plots, TensorBoard.

def image_grid(images, side, columns):
    """Tiles `[n, side*side]` images into one array, `columns` per row."""
    rows = -(-len(images) // columns)
    grid = np.full((rows * (side + 1) - 1, columns * (side + 1) - 1), 0.3,
                   np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        grid[r * (side + 1):r * (side + 1) + side,
             c * (side + 1):c * (side + 1) + side] = image.reshape(side, side)
    return grid


def reconstruction_grid(vae, images):
    """Images (top row) over their reconstructions (bottom row), one array.

    Reconstructions decode the argmax codes and show the Bernoulli means,
    as `reconstructions.png` does (deterministic: no random state is used).
    """
    logits = vae.encoder(keras.ops.convert_to_tensor(images), training=False)
    codes = keras.ops.one_hot(keras.ops.argmax(logits, -1), logits.shape[-1])
    recon = keras.ops.convert_to_numpy(
        keras.ops.sigmoid(vae.decoder(codes, training=False)))
    side = math.isqrt(images.shape[1])
    return image_grid(np.concatenate([images, recon]), side, len(images))


class ReconstructionImages(keras.callbacks.Callback):
    """Writes validation images over their reconstructions to TensorBoard.

    At the end of every epoch, `tf.summary.image("reconstructions", ...)`
    into `log_dir`. Needs TensorFlow (any Keras backend).
    """

    def __init__(self, log_dir, images, tf):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        self.tf = tf
        self.writer = tf.summary.create_file_writer(log_dir)

    def on_epoch_end(self, epoch, logs=None):
        grid = reconstruction_grid(self.model, self.images)
        with self.writer.as_default():
            self.tf.summary.image("reconstructions", grid[None, :, :, None],
                                  step=epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


def tensorboard_callbacks(log_dir, images):
    """`keras.callbacks.TensorBoard` (scalars) and reconstruction images.

    Scalars, per epoch: under `log_dir/train` and `log_dir/validation`, the
    tags `epoch_loss` (negative ELBO), `epoch_reconstruction`, `epoch_kl`,
    and in train `epoch_temperature` and `epoch_learning_rate`. Images under
    `log_dir/images`. Returns `[]` with a printed note without TensorFlow.
    """
    tf = optional_tensorflow("the TensorBoard logs")
    if tf is None:
        return []
    return [keras.callbacks.TensorBoard(log_dir, write_graph=False),
            ReconstructionImages(os.path.join(log_dir, "images"), images, tf)]


def save_plots(vae, encoder, decoder, valid, history, out_dir, seed):
    """Writes reconstructions.png, prior_samples.png and curves.png.

    `encoder` maps images to one-hot codes `[B, N, K]`, `decoder` maps codes
    to Bernoulli probabilities (the serving models). Returns the paths.
    """
    from matplotlib.figure import Figure  # no pyplot: no global state
    from matplotlib.ticker import MaxNLocator

    side = math.isqrt(valid.shape[1])
    n = min(10, len(valid))
    codes = keras.ops.convert_to_numpy(encoder(valid[:n]))
    recon = keras.ops.convert_to_numpy(decoder(codes))
    latent_vars, k = codes.shape[1:]
    rng = np.random.default_rng(seed)
    prior = np.eye(k, dtype=np.float32)[
        rng.integers(0, k, size=(40, latent_vars))]
    samples = keras.ops.convert_to_numpy(decoder(prior))

    paths = []
    fig = Figure(figsize=(n, 2.4))
    axes = fig.subplots(2, 1)
    for ax, images, title in ((axes[0], valid[:n], "validation images"),
                              (axes[1], recon, "reconstructions (argmax "
                               "codes, Bernoulli means)")):
        ax.imshow(image_grid(images, side, n), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    paths.append(_save(fig, out_dir, "reconstructions.png"))

    fig = Figure(figsize=(10, 4.4))
    ax = fig.subplots()
    ax.imshow(image_grid(samples, side, 10), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title("decoded samples from the uniform prior (Bernoulli means)",
                 fontsize=9)
    ax.axis("off")
    paths.append(_save(fig, out_dir, "prior_samples.png"))

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig = Figure(figsize=(10, 3.6))
    left, right = fig.subplots(1, 2)
    left.plot(epochs, history["loss"], label="train (training sample)")
    left.plot(epochs, history["val_loss"], label="valid (exact sample)")
    left.set_ylabel("negative ELBO (nats)")
    left.legend()
    right.plot(epochs, history["temperature"], color="C3")
    right.set_ylabel("temperature at epoch end")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    paths.append(_save(fig, out_dir, "curves.png"))
    return paths


def _save(fig, out_dir, name):
    """Saves `fig` as `out_dir/name` and returns the path."""
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


# ----------------------------------------------------------------------------
# SavedModel export and the serving check.

def export_saved_model(model, path, tf, input_name, output_name):
    """Exports `model` as a SavedModel whose signature names its tensors.

    The `serve` endpoint (also `serving_default`) takes `input_name` and
    returns `{output_name: ...}`, so `saved_model_cli show --all` explains
    itself. The batch dimension is dynamic.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32,
                         name=input_name)
    archive.add_endpoint("serve",
                         lambda x: {output_name: model(x, training=False)},
                         input_signature=[spec])
    archive.write_out(path, verbose=False)
    return path


def export_and_check(vae, encoder, decoder, out_dir, valid):
    """Exports `encoder/` and `decoder/` and serves `valid` from them.

    Returns:
      `(paths, serving)`: `{"encoder": path, "decoder": path}` and the
      serving check (see `check_serving`), or `(None, None)` with a printed
      note where TensorFlow is not installed or, off the TensorFlow backend,
      the export fails.
    """
    tf = optional_tensorflow("the SavedModel export")
    if tf is None:
        return None, None
    paths = {"encoder": os.path.join(out_dir, "encoder"),
             "decoder": os.path.join(out_dir, "decoder")}
    try:
        export_saved_model(encoder, paths["encoder"], tf, "images", "codes")
        export_saved_model(decoder, paths["decoder"], tf, "codes",
                           "probabilities")
    except Exception as err:
        if keras.backend.backend() == "tensorflow":
            raise
        print(f"note: SavedModel export failed on the "
              f"{keras.backend.backend()} backend, skipped: {one_line(err)}")
        return None, None
    return paths, check_serving(vae, paths["encoder"], paths["decoder"],
                                valid, tf)


def check_serving(vae, encoder_path, decoder_path, x, tf):
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
    x = np.asarray(x, np.float32)
    codes = encoder.serve(tf.constant(x))["codes"].numpy()
    probs = decoder.serve(tf.constant(codes))["probabilities"].numpy()
    logits = keras.ops.convert_to_numpy(vae.encoder(x, training=False))
    n, k = logits.shape[1:]
    expected_codes = np.eye(k, dtype=np.float32)[logits.argmax(-1)]
    expected_probs = keras.ops.convert_to_numpy(
        keras.ops.sigmoid(vae.decoder(expected_codes)))
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
