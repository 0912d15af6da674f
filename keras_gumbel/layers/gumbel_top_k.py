"""The `GumbelTopK` layer: a k-subset bottleneck for Keras models."""

import keras
from keras import ops

from keras_gumbel.layers._base import RelaxedSamplingLayer, check_int
from keras_gumbel.ops import _checks
from keras_gumbel.ops.subsets import check_k, relaxed_top_k, top_k_mask


@keras.saving.register_keras_serializable(package="keras_gumbel")
class GumbelTopK(RelaxedSamplingLayer):
    """Samples a relaxed (or hard) k-hot vector from logits.

    In training the layer draws the relaxed top-k sample of Xie & Ermon
    (2019) along `axis` (see `keras_gumbel.ops.relaxed_top_k`): from
    `r = logits + g`, `k` successive tempered softmaxes, each removing the
    mass already chosen,
    ```
    a_j = softmax(r / temperature),   r = r + log(1 - a_j),   y = sum_j a_j
    ```
    so `y >= 0` sums to `k`. With `hard=True` the output is the exact k-hot
    sample `k_hot(top_k(logits + g))` (`k` items drawn without replacement,
    Gumbel-top-k) with the straight-through gradient of `y`. Outside
    training the output depends on `inference_mode`:

    - `"sample"`: the same sampling as in training (fresh noise every call).
    - `"top_k"`: `k_hot(top_k(logits))`, deterministic.

    Temperature, randomness and serialization work as in `GumbelSoftmax`:
    a float32 temperature variable annealed by `TemperatureScheduler`
    (`set_temperature`), or `learn_temperature=True`; a layer-owned
    `keras.random.SeedGenerator`.

    Args:
      k: int >= 1, the number of items; at most the size of `axis`.
      temperature: initial temperature, a positive finite float.
      hard: whether to output exact k-hot samples (straight-through).
      axis: int, the axis of the items.
      learn_temperature: whether the temperature is a trainable weight.
      inference_mode: `"sample"` or `"top_k"`, the output when `training`
        is false.
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
    ...     keras.layers.Dense(10),
    ...     GumbelTopK(k=3, temperature=0.5, hard=True, inference_mode="top_k"),
    ...     keras.layers.Dense(1),
    ... ])

    References:
      Xie, Ermon. Reparameterizable Subset Sampling via Continuous
      Relaxations. IJCAI 2019. Kool, van Hoof, Welling. Stochastic Beams and
      Where to Find Them: The Gumbel-Top-k Trick for Sampling Sequences
      Without Replacement. ICML 2019.
    """

    _INFERENCE_MODES = ("sample", "top_k")

    def __init__(self, k, temperature=1.0, hard=False, axis=-1,
                 learn_temperature=False, inference_mode="sample", seed=None,
                 **kwargs):
        self.k = check_k(k)
        self.axis = check_int(axis, "axis")
        super().__init__(temperature=temperature, hard=hard,
                         learn_temperature=learn_temperature,
                         inference_mode=inference_mode, seed=seed, **kwargs)

    def build(self, input_shape):
        axis = _checks.normalize_axis(self.axis, len(input_shape))
        check_k(self.k, input_shape[axis])
        super().build(input_shape)

    def _sample(self, inputs, temperature, seed):
        return relaxed_top_k(inputs, self.k, temperature=temperature,
                             hard=self.hard, axis=self.axis, seed=seed)

    def _deterministic(self, inputs, temperature):
        logits = _checks.convert_logits(inputs)
        axis = _checks.normalize_axis(self.axis,
                                      _checks.known_rank(logits, "logits"))
        x = ops.cast(logits, _checks.compute_dtype(logits.dtype))
        return ops.cast(top_k_mask(x, self.k, axis), logits.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"k": self.k, "axis": self.axis})
        return config
