"""Shared machinery of the relaxed-sampling layers.

`RelaxedSamplingLayer` owns what `GumbelSoftmax` and `RelaxedBernoulli` have
in common: argument validation, the temperature variable (fixed and
assignable, or learned and kept positive), the random state (a
`keras.random.SeedGenerator`, whose state TF tracking can also see, with
the replica id folded in under `tf.distribute`), the `training` /
`inference_mode` dispatch and the config. A subclass implements
`_sample(inputs, temperature, seed)` and `_deterministic(inputs,
temperature)`.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_gumbel import backend
from keras_gumbel.ops import _checks
from keras_gumbel.ops._checks import invalid


def check_bool(value, name):
    """Raises `ValueError` unless `value` is a Python or NumPy bool."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(invalid(name, "a bool", value))
    return bool(value)


def check_int(value, name, allow_none=False):
    """Raises `ValueError` unless `value` is an int (not a bool)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, np.integer)):
        expected = "an int" + (" or None" if allow_none else "")
        raise ValueError(invalid(name, expected, value))
    return int(value)


def _softplus_inverse(y):
    """`x` with `softplus(x) = y` for a Python float `y > 0`, stably."""
    return y + math.log(-math.expm1(-y))


class RelaxedSamplingLayer(keras.layers.Layer):
    """Base class: temperature, random state, modes and config.

    Subclasses set `_INFERENCE_MODES` (the first one is "sample") and
    implement `_sample` and `_deterministic`.
    """

    _INFERENCE_MODES = ("sample",)

    #: Lower bound of a learned temperature, `tau = min + softplus(raw)`.
    min_learned_temperature = 0.01

    def __init__(self, temperature=1.0, hard=False, learn_temperature=False,
                 inference_mode="sample", seed=None, **kwargs):
        super().__init__(**kwargs)
        self.hard = check_bool(hard, "hard")
        self.learn_temperature = check_bool(learn_temperature,
                                            "learn_temperature")
        if inference_mode not in self._INFERENCE_MODES:
            raise ValueError(
                invalid("inference_mode", f"one of {self._INFERENCE_MODES}",
                        inference_mode))
        self.inference_mode = inference_mode
        self.seed = check_int(seed, "seed", allow_none=True)
        self.initial_temperature = self._check_temperature(temperature)
        self.supports_masking = True

        if self.learn_temperature:
            self.raw_temperature = self.add_weight(
                name="raw_temperature", shape=(), dtype="float32",
                initializer=keras.initializers.Constant(_softplus_inverse(
                    self.initial_temperature - self.min_learned_temperature)),
                trainable=True, autocast=False)
            self._temperature = None
        else:
            self.raw_temperature = None
            self._temperature = self.add_weight(
                name="temperature", shape=(), dtype="float32",
                initializer=keras.initializers.Constant(
                    self.initial_temperature),
                trainable=False, autocast=False)

        self.seed_generator = keras.random.SeedGenerator(self.seed)
        if backend.NAME == "tensorflow":
            # Keras tracks the generator for `layer.variables` and `.keras`
            # files, but its state is invisible to TF tracking:
            # `tf.saved_model.save` would refuse a function that captures it
            # ("untracked resource"). Holding the underlying tf.Variable as
            # an attribute makes it a TF dependency of the layer; Keras' own
            # tracker ignores raw tf.Variables, so `layer.weights` and
            # `.keras` files are unchanged. (On torch the same assignment
            # would register the tensor as a module parameter.)
            self._seed_state = self.seed_generator.state.value

    def _check_temperature(self, temperature):
        if isinstance(temperature, (bool, np.bool_)) or not isinstance(
                temperature, (int, float, np.integer, np.floating)):
            raise ValueError(
                invalid("temperature", "a positive finite float", temperature))
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(
                invalid("temperature", "a positive finite float", temperature))
        if (self.learn_temperature
                and not temperature > self.min_learned_temperature):
            raise ValueError(invalid(
                "temperature",
                f"a float > {self.min_learned_temperature} (the floor of a "
                f"learned temperature) when learn_temperature=True",
                temperature))
        return float(temperature)

    @property
    def temperature(self):
        """The current temperature.

        With `learn_temperature=False`: the non-trainable scalar float32
        variable that `call` reads. Assign it (or use `set_temperature`) to
        anneal; compiled training steps see the new value.

        With `learn_temperature=True`: a read-only float32 scalar tensor,
        `min_learned_temperature + softplus(raw_temperature)`, where
        `raw_temperature` is the trainable variable.
        """
        if self.learn_temperature:
            return self.current_temperature()
        return self._temperature

    def current_temperature(self):
        """Returns the temperature `call` uses, as a float32 scalar tensor."""
        if self.learn_temperature:
            raw = ops.convert_to_tensor(self.raw_temperature)
            return self.min_learned_temperature + ops.softplus(raw)
        return ops.convert_to_tensor(self._temperature)

    def set_temperature(self, value):
        """Sets a fixed (non-learned) temperature, e.g. from a schedule.

        Args:
          value: a positive finite float (or scalar tensor).

        Raises:
          ValueError: if `value` is not positive and finite, or if the layer
            learns its temperature (`learn_temperature=True`): the optimizer
            owns it then, and a schedule would silently fight it.
        """
        if self.learn_temperature:
            raise ValueError(
                f"Layer {self.name!r} learns its temperature "
                f"(learn_temperature=True), so it cannot be set by a "
                f"schedule. Create the layer with learn_temperature=False to "
                f"anneal the temperature.")
        try:
            _checks.check_positive_finite(value, "temperature")
        except TypeError as error:  # The layer's contract: ValueError.
            raise ValueError(str(error)) from None
        if np.ndim(value) != 0:
            raise ValueError(
                invalid("temperature", "a scalar (the layer's temperature is "
                        "one value)", value))
        self._temperature.assign(ops.cast(value, "float32"))

    def _next_seed(self):
        """A fresh backend seed; differs across `tf.distribute` replicas."""
        return backend.replica_fold_in(backend.draw_seed(self.seed_generator))

    def build(self, input_shape):
        self.built = True

    def _op_temperature(self):
        """The temperature to pass to the ops in `call`.

        The variable itself when fixed: the ops skip checking variables
        (`set_temperature` checks what it assigns), so no per-step check,
        and on torch no copy of the value to the host.
        """
        if self.learn_temperature:
            return self.current_temperature()
        return self._temperature

    def call(self, inputs, training=None):
        temperature = self._op_temperature()
        if training or self.inference_mode == "sample":
            return self._sample(inputs, temperature, self._next_seed())
        return self._deterministic(inputs, temperature)

    def _sample(self, inputs, temperature, seed):
        raise NotImplementedError

    def _deterministic(self, inputs, temperature):
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "temperature": self.initial_temperature,
            "hard": self.hard,
            "learn_temperature": self.learn_temperature,
            "inference_mode": self.inference_mode,
            "seed": self.seed,
        })
        return config
