"""Training the categorical VAE: `fit` with annealing, and its callbacks.

`train_vae` compiles and fits with Adam and the paper's temperature schedule
(`keras_gumbel.callbacks.TemperatureScheduler`); `tensorboard_callbacks`
adds TensorBoard scalars and reconstruction images (TensorFlow needed for
those, on any Keras backend).
"""

import os
import time

import keras
import numpy as np

from examples.cli import optional_tensorflow
from examples.plotting import reconstruction_grid
from keras_gumbel.callbacks import TemperatureScheduler
from keras_gumbel.schedules import ExponentialDecay


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
