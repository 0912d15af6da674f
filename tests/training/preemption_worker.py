"""A training process for tests/test_preemption.py (not a test module).

Trains a small model with `keras.callbacks.BackupAndRestore(save_freq=4)`
and `TemperatureScheduler` on a dataset of unknown length, writing one JSON
line per event to a log file (flushed at once, so a killed process leaves a
complete log). With `--kill-at N` it dies with `os._exit(KILLED)` at the
start of its N-th batch (counted from 0 over all epochs), as a preempted
machine would: no callback, no `finally`, no clean-up runs.

Data of unknown length: on TensorFlow a `tf.data` pipeline with `filter`
(6 batches per epoch, 4 epochs); on JAX and torch a Python generator (one
epoch of 16 batches; Keras reads a generator once, so it is one epoch).

    python -m tests.training.preemption_worker BACKUP_DIR LOG [--kill-at N]
"""

import argparse
import json
import os

import keras
import numpy as np

import keras_gumbel as kg

KILLED = 17
SAVE_FREQ = 4
BATCH = 4
SCHEDULE = kg.schedules.LinearDecay(initial=2.0, final=0.5, steps=40)


def dataset():
    """`(data, epochs)`: batches of unknown number."""
    rng = np.random.default_rng(0)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        x = rng.normal(size=(6 * BATCH, 3)).astype("float32")
        data = tf.data.Dataset.from_tensor_slices((x, x)).batch(BATCH)
        # `filter` hides the number of batches from `fit`.
        return data.filter(lambda x, y: True), 4
    x = rng.normal(size=(16 * BATCH, 3)).astype("float32")

    def batches():
        for start in range(0, len(x), BATCH):
            yield x[start:start + BATCH], x[start:start + BATCH]

    return batches(), 1


class Recorder(keras.callbacks.Callback):
    """Logs the restored step, and each batch's step and temperature."""

    def __init__(self, path, kill_at):
        super().__init__()
        self.log = open(path, "a")
        self.kill_at = kill_at
        self.batches = 0
        self.step = None
        self.epoch = None

    def write(self, **record):
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        os.fsync(self.log.fileno())

    def on_train_begin(self, logs=None):
        # After BackupAndRestore (earlier in the list) restored the backup.
        self.write(event="begin",
                   step=kg.callbacks._training_step(self.model))

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.batches == self.kill_at:
            os._exit(KILLED)
        self.step = kg.callbacks._training_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        # `self.model` first: on JAX it syncs the training state into the
        # variables, so the layer's variable shows what the step used.
        layer = self.model.layers[-1]
        self.write(event="batch", epoch=self.epoch, batch=batch,
                   step=self.step, temperature=logs["temperature"],
                   variable=float(keras.ops.convert_to_numpy(
                       layer.temperature)))
        self.batches += 1

    def on_train_end(self, logs=None):
        self.write(event="end", step=kg.callbacks._training_step(self.model))
        self.log.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("backup_dir")
    parser.add_argument("log")
    parser.add_argument("--kill-at", type=int, default=-1)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((3,)), keras.layers.Dense(3),
        kg.layers.GumbelSoftmax(seed=0)])
    model.compile(optimizer="sgd", loss="mse")
    data, epochs = dataset()
    model.fit(data, epochs=epochs, verbose=0, callbacks=[
        keras.callbacks.BackupAndRestore(args.backup_dir,
                                         save_freq=SAVE_FREQ),
        kg.callbacks.TemperatureScheduler(SCHEDULE),
        Recorder(args.log, args.kill_at)])


if __name__ == "__main__":
    main()
