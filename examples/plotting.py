"""Images and plots of the categorical VAE example.

`image_grid` and `reconstruction_grid` build NumPy arrays (for the PNGs and
for TensorBoard); `save_plots` writes `reconstructions.png`,
`prior_samples.png` and `curves.png` with Matplotlib's object API (no
`pyplot`: no global state, no display needed).
"""

import math
import os

import keras
import numpy as np


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


def save_plots(encoder, decoder, valid, history, out_dir, seed,
               title="categorical VAE"):
    """Writes reconstructions.png, prior_samples.png and curves.png.

    Args:
      encoder: the serving encoder, images `[B, D]` -> one-hot codes
        `[B, N, K]`.
      decoder: the serving decoder, codes -> Bernoulli probabilities `[B, D]`.
      valid: validation images `[n, D]`, `D` a square number.
      history: per-epoch lists `loss`, `val_loss`, `temperature`.
      out_dir: the folder the PNGs go to.
      seed: seed of the prior's codes.
      title: what was trained, for the title of `curves.png`.

    Returns:
      The three paths.
    """
    return [plot_reconstructions(encoder, decoder, valid, out_dir),
            plot_prior_samples(decoder, valid.shape[1], encoder.output_shape,
                               out_dir, seed),
            plot_curves(history, out_dir, title)]


def plot_reconstructions(encoder, decoder, valid, out_dir):
    """Ten validation images over their argmax-code reconstructions."""
    from matplotlib.figure import Figure

    side = math.isqrt(valid.shape[1])
    n = min(10, len(valid))
    codes = keras.ops.convert_to_numpy(encoder(valid[:n]))
    recon = keras.ops.convert_to_numpy(decoder(codes))
    fig = Figure(figsize=(n, 2.4))
    axes = fig.subplots(2, 1)
    for ax, images, title in ((axes[0], valid[:n], "validation images"),
                              (axes[1], recon, "reconstructions (argmax "
                               "codes, Bernoulli means)")):
        ax.imshow(image_grid(images, side, n), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, out_dir, "reconstructions.png")


def plot_prior_samples(decoder, pixels, codes_shape, out_dir, seed):
    """Decodings of 40 codes drawn from the uniform prior."""
    from matplotlib.figure import Figure

    latent_vars, k = codes_shape[1:]
    rng = np.random.default_rng(seed)
    prior = np.eye(k, dtype=np.float32)[
        rng.integers(0, k, size=(40, latent_vars))]
    samples = keras.ops.convert_to_numpy(decoder(prior))
    fig = Figure(figsize=(10, 4.4))
    ax = fig.subplots()
    ax.imshow(image_grid(samples, math.isqrt(pixels), 10), cmap="gray_r",
              vmin=0, vmax=1)
    ax.set_title("decoded samples from the uniform prior (Bernoulli means)",
                 fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return _save(fig, out_dir, "prior_samples.png")


def plot_curves(history, out_dir, title):
    """Writes `curves_figure(history, title)` as `curves.png`."""
    return _save(curves_figure(history, title), out_dir, "curves.png")


def curves_figure(history, title):
    """Negative ELBO (train, valid) and temperature per epoch, titled.

    Returns:
      A `matplotlib.figure.Figure`.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(history["loss"]) + 1)
    fig = Figure(figsize=(10, 3.8))
    fig.suptitle(f"{title}: training curves", fontsize=11)
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
    fig.tight_layout()
    return fig


def _save(fig, out_dir, name):
    """Saves `fig` as `out_dir/name` and returns the path."""
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=100)
    return path
