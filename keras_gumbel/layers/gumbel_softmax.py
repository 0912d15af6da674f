"""The `GumbelSoftmax` layer: a categorical bottleneck for Keras models."""

import keras
from keras import ops

from keras_gumbel import _dtypes, _validation
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel.ops._nonfinite import Slices, one_hot_argmax
from keras_gumbel.ops.gumbel_softmax import ESTIMATORS, gumbel_softmax

__all__ = ["GumbelSoftmax"]


@keras.saving.register_keras_serializable(package="keras_gumbel")
class GumbelSoftmax(GumbelLayer):
    """Samples a relaxed (or hard) one-hot vector; samples at inference too.

    By default (`inference_mode="sample"`) the layer also samples outside
    training, so `predict` is random; pass `inference_mode="argmax"` (or
    `"softmax"`) for deterministic predictions.

    In training the layer draws a Gumbel-Softmax (Concrete) sample along
    `axis`:
    ```
    y = softmax((logits + g) / temperature),   g_i ~ Gumbel(0, 1) i.i.d.
    ```
    With `hard=True` the output is the exact one-hot categorical sample
    `one_hot(argmax(logits + g))` and gradients follow `estimator`
    (straight-through by default). Outside training the output depends on
    `inference_mode`:

    - `"sample"`: the same sampling as in training (fresh noise every call).
    - `"argmax"`: `one_hot(argmax(logits))`, deterministic (ties go to the
      first maximum).
    - `"softmax"`: `softmax(logits / temperature)`, deterministic.

    Non-finite logits are treated as in `keras_gumbel.ops.gumbel_softmax`
    in every mode: a slice with a NaN logit comes out as NaN, `+inf` logits
    take the whole mass; in "softmax" mode a slice of only `-inf` is NaN.

    The temperature is a scalar float32 variable read on every call, never a
    Python float, so a callback can anneal it inside compiled `fit`
    (`layer.set_temperature(value)`). With `learn_temperature=True` it is
    trained instead, as `temperature = min_learned_temperature +
    softplus(raw_temperature)`, which stays positive whatever the step size.

    `get_config()["temperature"]` is the constructor's (initial) value; the
    current value, set by `set_temperature` or a schedule, is a weight and
    travels with the weights (`.keras` files, checkpoints).

    Noise comes from a `keras.random.SeedGenerator` owned by the layer: new
    noise on every call and training step, reproducible with an int `seed`,
    different on each replica under `tf.distribute`.

    Args:
      temperature: initial temperature, a positive finite float.
      hard: whether to output exact one-hot samples (straight-through or
        `estimator` gradients) instead of relaxed ones.
      axis: int, the axis of the categories.
      learn_temperature: whether the temperature is a trainable weight.
      inference_mode: `"sample"`, `"argmax"` or `"softmax"`, the output when
        `training` is false.
      estimator: gradient estimator used with `hard=True`:
        `"straight_through"`, `"gumbel_rao"` or `"reinmax"` (see
        `keras_gumbel.ops.gumbel_softmax`).
      estimator_samples: int >= 1, the number of conditional Gumbel draws of
        `"gumbel_rao"`.
      seed: int or None, the seed of the layer's noise.
      **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
      inputs: float logits of rank >= 2 (batch first).
      training: Python bool; `None` follows Keras (true inside `fit`).

    Returns:
      A tensor with the shape of `inputs`, in the layer's compute dtype.

    Example:
    >>> import keras
    >>> model = keras.Sequential([
    ...     keras.Input((8,)),
    ...     keras.layers.Dense(4),
    ...     GumbelSoftmax(temperature=0.5, hard=True, inference_mode="argmax"),
    ...     keras.layers.Dense(1),
    ... ])

    References:
      Jang, Gu, Poole. Categorical Reparameterization with Gumbel-Softmax.
      ICLR 2017. Maddison, Mnih, Teh. The Concrete Distribution: A Continuous
      Relaxation of Discrete Random Variables. ICLR 2017.
    """

    INFERENCE_MODES = ("sample", "argmax", "softmax")

    def __init__(self, temperature=1.0, hard=False, axis=-1,
                 learn_temperature=False, inference_mode="sample",
                 estimator="straight_through", estimator_samples=1, seed=None,
                 **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature,
                         inference_mode=inference_mode, seed=seed, **kwargs)
        self.hard = _validation.check_bool(hard, "hard")
        self.axis = _validation.check_int(axis, "axis")
        self.estimator_samples = _validation.check_estimator(
            estimator, estimator_samples, ESTIMATORS, self.hard)
        self.estimator = estimator

    def build(self, input_shape):
        axis = _validation.normalize_axis(self.axis, len(input_shape))
        _validation.check_categories(input_shape, axis, "inputs")
        super().build(input_shape)

    def _sample(self, inputs):
        return gumbel_softmax(
            inputs, temperature=self.temperature, hard=self.hard,
            axis=self.axis, seed=self.seed_generator,
            estimator=self.estimator,
            estimator_samples=self.estimator_samples)

    def _infer(self, inputs):
        logits, axis = _validation.convert_categorical(inputs, self.axis)
        dtype = _dtypes.dtype_of(logits)
        if self.inference_mode == "argmax":
            return one_hot_argmax(logits, axis, dtype)
        cdt = _dtypes.compute_dtype(dtype)
        slices = Slices(ops.cast(logits, cdt), axis)
        scaled = slices.categorical_logits() / ops.cast(self.temperature, cdt)
        return ops.cast(slices.mark_undefined(ops.softmax(scaled, axis=axis)),
                        dtype)

    def get_config(self):
        config = super().get_config()
        config.update({
            "hard": self.hard,
            "axis": self.axis,
            "estimator": self.estimator,
            "estimator_samples": self.estimator_samples,
        })
        return config
