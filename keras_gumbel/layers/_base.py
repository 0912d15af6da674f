"""The one base of the package's layers: temperature, noise, config, modes.

`GumbelLayer` owns what every layer of the package has:

- the temperature: a scalar float32 variable, non-trainable and assignable
  (`set_temperature`, the hook `TemperatureScheduler` anneals through), or
  learned as `min_learned_temperature + softplus(raw_temperature)`;
- the noise: a `keras.random.SeedGenerator`, handed as it is to the ops as
  their `seed` (the backend draws from it, once per op call, and folds in
  the replica id under `tf.distribute`);
- the config of those arguments;
- for a layer that has inference modes (`INFERENCE_MODES`, "sample" first
  where sampling at inference is one), the `inference_mode` argument and
  the dispatch of `call`: sample in training and in "sample" mode, else
  the deterministic output.

A layer states only what is new about it: its arguments, `_sample(inputs)`
and `_infer(inputs)` (or its own `call`), and its config.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_gumbel import _validation, backend
from keras_gumbel._messages import invalid


def _softplus_inverse(y):
    """`x` with `softplus(x) = y` for a Python float `y > 0`, stably."""
    return y + math.log(-math.expm1(-y))


class GumbelLayer(keras.layers.Layer):
    """Base class of the package's layers: temperature, noise, modes, config.

    Args:
      temperature: initial temperature, a positive finite float.
      learn_temperature: whether the temperature is a trainable weight.
      inference_mode: for a layer with `INFERENCE_MODES`, one of them (the
        output when `training` is false); `None` for a layer without.
      seed: int or None, the seed of the layer's noise.
      **kwargs: base layer arguments (`name`, `dtype`, ...).
    """

    #: The layer's inference modes; empty for a layer without modes.
    INFERENCE_MODES = ()

    #: Lower bound of a learned temperature, `tau = min + softplus(raw)`.
    min_learned_temperature = 0.01

    def __init__(self, temperature=1.0, learn_temperature=False,
                 inference_mode=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.learn_temperature = _validation.check_bool(
            learn_temperature, "learn_temperature")
        floor = self.min_learned_temperature if learn_temperature else 0
        self.initial_temperature = _validation.check_float(
            temperature, "temperature", minimum=floor, exclusive_minimum=True)
        if self.INFERENCE_MODES:
            _validation.check_choice(inference_mode, "inference_mode",
                                     self.INFERENCE_MODES)
        elif inference_mode is not None:
            raise ValueError(invalid(
                "inference_mode", f"None ({type(self).__name__} has no "
                "inference modes)", inference_mode))
        self.inference_mode = inference_mode
        self.seed = _validation.check_int(seed, "seed", allow_none=True)
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

    @property
    def temperature(self):
        """The temperature `call` uses; pass it to the ops as it is.

        With `learn_temperature=False`: the non-trainable scalar float32
        variable. Assign it (or use `set_temperature`) to anneal; compiled
        training steps see the new value, and the ops do not check a
        variable on every step (`set_temperature` checks what it assigns).

        With `learn_temperature=True`: a read-only float32 scalar tensor,
        `min_learned_temperature + softplus(raw_temperature)`, where
        `raw_temperature` is the trainable variable.
        """
        if self.learn_temperature:
            raw = ops.convert_to_tensor(self.raw_temperature)
            return self.min_learned_temperature + ops.softplus(raw)
        return self._temperature

    def set_temperature(self, value):
        """Sets a fixed (non-learned) temperature, e.g. from a schedule.

        Args:
          value: a positive finite float (or scalar tensor).

        Raises:
          ValueError: if `value` is not positive and finite, or if the layer
            learns its temperature (`learn_temperature=True`): the optimizer
            owns it then, and a schedule would silently fight it.
          TypeError: if `value` is not a number.
        """
        if self.learn_temperature:
            raise ValueError(
                f"Layer {self.name!r} learns its temperature "
                f"(learn_temperature=True), so it cannot be set by a "
                f"schedule. Create the layer with learn_temperature=False to "
                f"anneal the temperature.")
        _validation.check_positive_finite(value, "temperature")
        if np.ndim(value) != 0:
            raise ValueError(
                invalid("temperature", "a scalar (the layer's temperature is "
                        "one value)", value))
        self._temperature.assign(ops.cast(value, "float32"))

    def __call__(self, inputs, *args, **kwargs):
        # Before Keras converts NumPy input: JAX and torch would fail on
        # strings with errors of their own.
        _validation.check_host_input(inputs, "inputs")
        return super().__call__(inputs, *args, **kwargs)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, training=None):
        if training or self.inference_mode == "sample":
            return self._sample(inputs)
        return self._infer(inputs)

    def _sample(self, inputs):
        """The output in training (and in "sample" mode)."""
        raise NotImplementedError

    def _infer(self, inputs):
        """The deterministic output of `inference_mode` outside training."""
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "temperature": self.initial_temperature,
            "learn_temperature": self.learn_temperature,
            "seed": self.seed,
        })
        if self.INFERENCE_MODES:
            config["inference_mode"] = self.inference_mode
        return config


def find_layers(root):
    """Returns the package's layers reachable from `root`, each once.

    Walks the attributes of `root` and of every layer found (including
    layers held in lists, tuples and dicts), so nested models and layers
    inside subclassed models and layers are found. Uses only public Python
    introspection, not Keras internals.

    Args:
      root: a Keras layer or model.

    Returns:
      A list of the `GumbelLayer`s found, in the order found (depth first).
    """
    found, seen, stack = [], set(), [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, GumbelLayer):
            found.append(obj)
        if isinstance(obj, keras.layers.Layer):
            children = list(vars(obj).values())
        elif isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        else:
            continue
        stack.extend(reversed([c for c in children if isinstance(
            c, (keras.layers.Layer, dict, list, tuple, set, frozenset))]))
    return found
