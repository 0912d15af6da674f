"""The `RelaxedBernoulli` layer: element-wise binary stochastic units."""

import keras
from keras import ops

from keras_gumbel import _validation
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel import _dtypes
from keras_gumbel.ops.relaxed_bernoulli import relaxed_bernoulli

__all__ = ["RelaxedBernoulli"]


@keras.saving.register_keras_serializable(package="keras_gumbel")
class RelaxedBernoulli(GumbelLayer):
    """Samples relaxed (or hard) binary units; samples at inference too.

    By default (`inference_mode="sample"`) the layer also samples outside
    training, so `predict` is random; pass `inference_mode="round"` (or
    `"sigmoid"`) for deterministic predictions.

    In training every input is the log-odds of an independent binary
    Concrete variable:
    ```
    y = sigmoid((logits + log(u) - log(1 - u)) / temperature),  u ~ U(0, 1)
    ```
    With `hard=True` the output is the exact Bernoulli sample
    `logits + logistic noise > 0` (0 or 1; `round(y)` unless `y` rounds to
    exactly 0.5) with the straight-through gradient of `y`. Outside training the
    output depends on `inference_mode`:

    - `"sample"`: the same sampling as in training (fresh noise every call).
    - `"round"`: `logits > 0` as 0/1 floats, deterministic (NaN for NaN).
    - `"sigmoid"`: `sigmoid(logits / temperature)`, deterministic.

    Temperature, randomness and serialization work as in `GumbelSoftmax`:
    a float32 temperature variable (`set_temperature`, or
    `learn_temperature=True`), a layer-owned `keras.random.SeedGenerator`.

    Args:
      temperature: initial temperature, a positive finite float.
      hard: whether to output exact 0/1 samples (straight-through gradient).
      learn_temperature: whether the temperature is a trainable weight.
      inference_mode: `"sample"`, `"round"` or `"sigmoid"`, the output when
        `training` is false.
      seed: int or None, the seed of the layer's noise.
      **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
      inputs: float logits (log-odds), any shape.
      training: Python bool; `None` follows Keras (true inside `fit`).

    Returns:
      A tensor with the shape of `inputs`, in the layer's compute dtype.

    Example:
    >>> layer = RelaxedBernoulli(temperature=0.5, hard=True,
    ...                          inference_mode="round")
    >>> import numpy as np
    >>> bits = layer(np.zeros([2, 16], "float32"), training=True)  # p = 0.5

    References:
      Maddison, Mnih, Teh. The Concrete Distribution: A Continuous
      Relaxation of Discrete Random Variables. ICLR 2017.
    """

    INFERENCE_MODES = ("sample", "round", "sigmoid")

    def __init__(self, temperature=1.0, hard=False, learn_temperature=False,
                 inference_mode="sample", seed=None, **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature,
                         inference_mode=inference_mode, seed=seed, **kwargs)
        self.hard = _validation.check_bool(hard, "hard")

    def _sample(self, inputs):
        return relaxed_bernoulli(inputs, temperature=self.temperature,
                                 hard=self.hard, seed=self.seed_generator)

    def _infer(self, inputs):
        logits = _validation.convert_float_tensor(inputs, "logits")
        dtype = _dtypes.dtype_of(logits)
        if self.inference_mode == "round":
            # NaN stays NaN (`nan > 0` is False: never a confident 0).
            return ops.where(ops.isnan(logits), logits,
                             ops.cast(logits > 0, dtype))
        cdt = _dtypes.compute_dtype(dtype)
        scaled = ops.cast(logits, cdt) / ops.cast(self.temperature, cdt)
        return ops.cast(ops.sigmoid(scaled), dtype)

    def get_config(self):
        config = super().get_config()
        config["hard"] = self.hard
        return config
