"""Annealing the temperature of Gumbel layers: a callback for `fit`, and
`apply_schedule` for custom training loops."""

import math

import keras

from keras_gumbel import _validation
from keras_gumbel._messages import invalid
from keras_gumbel import layers as layers_module
from keras_gumbel.layers._base import find_layers

__all__ = ["TemperatureScheduler", "apply_schedule"]


class TemperatureScheduler(keras.callbacks.Callback):
    """Sets the temperature of Gumbel layers from a schedule during `fit`.

    Before each training batch the callback computes `tau = schedule(step)`
    and assigns it to the `temperature` variable of every temperature layer of
    the package in the model (every layer of `keras_gumbel.layers`, found
    recursively: nested models, layers held by subclassed models and
    layers), or of the `layers` given.
    Compiled train steps (`jit_compile=True` or not, on every backend, under
    any `tf.distribute` strategy) read the variable, so they see each new
    value, like `LearningRateScheduler` and the learning rate.

    `step` is the optimizer's step counter `model.optimizer.iterations` at
    the start of the batch: the clock of Keras' learning-rate schedules. It
    is saved with the optimizer in `.keras` files, weights files,
    checkpoints and `keras.callbacks.BackupAndRestore` backups, so a resumed,
    reloaded or preempted run continues its schedule, on a dataset of any or
    unknown length, and a second `fit` call continues where the first one
    stopped. (A fresh model started with `initial_epoch=5` starts its
    schedule at step 0: its optimizer has taken no step.) With
    `steps_per_execution=n` the temperature is set once per `n` steps, from
    the first step's number.

    The value is written into the batch logs and the epoch logs under
    `"temperature"` (the epoch logs carry the temperature of the epoch's last
    batch), so it lands in `History` and in TensorBoard; put this callback
    before `keras.callbacks.TensorBoard` in the list so that TensorBoard sees
    it.

    Layers with `learn_temperature=True` are an error: their temperature is
    trained by the optimizer and cannot also follow a schedule.

    Custom training loops (for example under
    `tf.distribute.MultiWorkerMirroredStrategy`, where Keras' `fit` does not
    run) call `apply_schedule` before each step instead.

    Args:
      schedule: a `keras_gumbel.schedules` schedule or any
        `callable(step) -> float` taking the global step (a non-negative int)
        and returning a positive finite temperature.
      layers: `None` (every Gumbel layer in the model), or a layer or list
        of layers, each with a fixed (not learned) scalar `temperature`
        variable.
      verbose: 0 (silent) or 1 (print the temperature at the end of each
        epoch).

    Example:
    ```python
    model.fit(x, y, epochs=10, callbacks=[
        keras_gumbel.callbacks.TemperatureScheduler(
            keras_gumbel.schedules.ExponentialDecay(
                initial=1.0, rate=1e-4, minimum=0.5, every=500))])
    ```
    """

    def __init__(self, schedule, layers=None, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(invalid(
                "schedule", "a callable mapping a step (int) to a "
                "temperature (float)", schedule))
        if layers is not None:
            if isinstance(layers, keras.layers.Layer):
                layers = [layers]
            layers = _checked_layers(
                layers, "None or a non-empty list of Gumbel layers")
        _validation.check_int(verbose, "verbose", minimum=0, maximum=1)
        self.schedule = schedule
        self.layers = layers
        self.verbose = verbose
        self.temperature = None  # of the last batch that ran
        self._assigned = None
        self._targets = []

    def on_train_begin(self, logs=None):
        if self.layers is not None:
            self._targets = self.layers
        else:
            self._targets = _layers_of_model(self.model,
                                             "TemperatureScheduler")

    def on_train_batch_begin(self, batch, logs=None):
        # `self.model`, not `self._model`: on JAX, reading it syncs the
        # training state into the variables, and fit then reads the state
        # back from them, so the temperature assigned here reaches the step.
        step = _training_step(self.model)
        self._assign(_scheduled_temperature(self.schedule, step))

    def _assign(self, temperature):
        for layer in self._targets:
            _set_temperature(layer, temperature)
        self._assigned = temperature

    def on_train_batch_end(self, batch, logs=None):
        self.temperature = self._assigned
        if logs is not None:
            logs["temperature"] = self.temperature

    def on_epoch_end(self, epoch, logs=None):
        if self.temperature is None:
            return
        if self._assigned != self.temperature:
            # A dataset of unknown length: `fit` announced one more batch
            # before finding the data exhausted. Keep the temperature of the
            # last batch that ran, so evaluation and the next epoch see it.
            self.model  # On JAX: sync the state before assigning.
            self._assign(self.temperature)
        if logs is not None:
            logs["temperature"] = self.temperature
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: TemperatureScheduler set the "
                  f"temperature to {self.temperature:.6g}.")


def apply_schedule(schedule, layers, step):
    """Sets the temperature of Gumbel layers to `schedule(step)`.

    What `TemperatureScheduler` does before each batch of `fit`, for custom
    training loops: call it before each training step, outside any compiled
    function (`tf.function`, `jax.jit`), with the optimizer's step counter.
    The layers' `temperature` variables are assigned, so compiled steps read
    the new value. Under a `tf.distribute` strategy, call it in the
    cross-replica context (outside `strategy.run`): the assignment reaches
    every replica.

    On JAX, a loop that carries the model's state itself
    (`model.stateless_call`) must take the non-trainable variables' values
    again after this call, or it keeps the old temperature.

    Args:
      schedule: a `keras_gumbel.schedules` schedule or any
        `callable(step) -> float` returning a positive finite temperature.
      layers: a Keras model or layer (every Gumbel layer found in it,
        recursively, as `TemperatureScheduler` finds them), or a list of
        Gumbel layers (exactly those). Each must have a fixed (not learned)
        scalar `temperature` variable.
      step: the global training step, a non-negative int or an integer
        scalar tensor or variable such as `optimizer.iterations` (the
        clock of Keras' learning-rate schedules, saved with the optimizer).

    Returns:
      The temperature assigned, a Python float.

    Example:
    ```python
    schedule = keras_gumbel.schedules.ExponentialDecay(
        initial=1.0, rate=1e-4, minimum=0.5, every=500)
    for x in dataset:
        keras_gumbel.callbacks.apply_schedule(
            schedule, model, optimizer.iterations)
        train_step(x)
    ```
    """
    if not callable(schedule):
        raise TypeError(invalid(
            "schedule", "a callable mapping a step (int) to a temperature "
            "(float)", schedule))
    if isinstance(layers, keras.layers.Layer):
        targets = _layers_of_model(layers, "apply_schedule")
    elif isinstance(layers, (list, tuple)):
        targets = _checked_layers(layers, _APPLY_LAYERS)
    else:
        raise TypeError(invalid("layers", _APPLY_LAYERS, layers))
    temperature = _scheduled_temperature(schedule, _as_step(step))
    for layer in targets:
        _set_temperature(layer, temperature)
    return temperature


_APPLY_LAYERS = "a Keras model or layer, or a non-empty list of Gumbel layers"


def _as_step(step):
    """`step` (an int or integer scalar tensor) as a non-negative int."""
    expected = "a non-negative int or integer scalar tensor"
    if isinstance(step, bool):
        raise TypeError(invalid("step", expected, step))
    if not isinstance(step, int) and hasattr(step, "dtype"):
        value = keras.ops.convert_to_numpy(step)
        if value.ndim != 0 or value.dtype.kind not in "iu":
            raise TypeError(invalid("step", expected, step))
        step = int(value)
    return _validation.check_int(step, "step", minimum=0)


def _scheduled_temperature(schedule, step):
    """`schedule(step)` as a float, checked to be positive and finite."""
    value = schedule(step)
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"The temperature schedule returned {value!r} at step {step}. "
            f"Expected a positive finite float."
        ) from None
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"The temperature schedule returned {value!r} at step {step}. "
            f"Expected a positive finite float."
        )
    return temperature


def _checked_layers(layers, expected):
    """A non-empty list of layers given by the user, each schedulable."""
    layers = list(layers)
    if not layers:
        raise ValueError(invalid("layers", expected, layers))
    for layer in layers:
        _check_schedulable(layer, "layers")
    return layers


def _layers_of_model(model, who):
    """Every Gumbel layer of `model`, each schedulable; at least one."""
    targets = find_layers(model)
    if not targets:
        raise ValueError(
            f"{who} found no temperature layer of keras_gumbel "
            f"({', '.join(layers_module.__all__)}) in model '{model.name}'. "
            f"Add one, or pass the layers to schedule with `layers=`."
        )
    for layer in targets:
        _check_schedulable(layer, "model")
    return targets


def _training_step(model):
    """The optimizer's step counter of a compiled model, as a Python int.

    Args:
      model: a compiled Keras model (or anything with
        `optimizer.iterations`).

    Returns:
      The number of training steps the optimizer has taken, restored with
      its variables from `.keras` files, checkpoints and backups.
    """
    optimizer = getattr(model, "optimizer", None)
    iterations = getattr(optimizer, "iterations", None)
    if iterations is None:
        raise ValueError(
            f"TemperatureScheduler needs a compiled model with an optimizer "
            f"(its step counter is the schedule's clock). Received a model "
            f"whose optimizer is {optimizer!r}.")
    return int(keras.ops.convert_to_numpy(iterations))


def _check_schedulable(layer, name):
    """Checks `layer` has a fixed (not learned) scalar temperature variable."""
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(invalid(
            name, "Keras layers with a `temperature` variable (the package's "
            "GumbelSoftmax, RelaxedBernoulli, GumbelTopK, ...)", layer))
    temperature = getattr(layer, "temperature", None)
    if (getattr(layer, "learn_temperature", False)
            or getattr(temperature, "trainable", False)):
        raise ValueError(
            f"Layer '{layer.name}' learns its temperature "
            f"(learn_temperature=True): the optimizer trains it, so "
            f"TemperatureScheduler cannot also set it. Create the layer with "
            f"learn_temperature=False to anneal it, or pass only the layers "
            f"to anneal with `layers=`."
        )
    if (not isinstance(temperature, keras.Variable)
            or tuple(temperature.shape) != ()):
        raise TypeError(invalid(
            name, "Keras layers with a scalar `temperature` variable "
            "(GumbelSoftmax, RelaxedBernoulli)",
            f"<layer '{layer.name}' of type {type(layer).__name__}>"))


def _set_temperature(layer, value):
    """Uses the layer's own setter when it has one (the package's layers)."""
    if hasattr(layer, "set_temperature"):
        layer.set_temperature(value)
    else:
        layer.temperature.assign(value)
