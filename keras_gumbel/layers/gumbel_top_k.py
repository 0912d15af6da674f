"""The `GumbelTopK` layer: a k-subset bottleneck for Keras models."""

import keras
from keras import ops

from keras_gumbel import _dtypes, _validation
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel.ops._nonfinite import Slices
from keras_gumbel.ops._top_k import top_k_mask
from keras_gumbel.ops.subsets import relaxed_top_k

__all__ = ["GumbelTopK"]


@keras.saving.register_keras_serializable(package="keras_gumbel")
class GumbelTopK(GumbelLayer):
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
    - `"top_k"`: `k_hot(top_k(logits))`, deterministic (ties go to the
      lower index, `-inf` items are never taken, a slice with a NaN logit
      comes out as NaN).

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

    INFERENCE_MODES = ("sample", "top_k")

    def __init__(self, k, temperature=1.0, hard=False, axis=-1,
                 learn_temperature=False, inference_mode="sample", seed=None,
                 **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature,
                         inference_mode=inference_mode, seed=seed, **kwargs)
        self.k = _validation.check_int(k, "k", minimum=1)
        self.hard = _validation.check_bool(hard, "hard")
        self.axis = _validation.check_int(axis, "axis")

    def build(self, input_shape):
        axis = _validation.normalize_axis(self.axis, len(input_shape))
        _validation.check_categories(input_shape, axis, "inputs")
        _validation.check_int(self.k, "k", minimum=1,
                              maximum=input_shape[axis])
        super().build(input_shape)

    def _sample(self, inputs):
        return relaxed_top_k(inputs, self.k, temperature=self.temperature,
                             hard=self.hard, axis=self.axis,
                             seed=self.seed_generator)

    def _infer(self, inputs):
        logits, axis = _validation.convert_categorical(inputs, self.axis)
        x = ops.cast(logits, _dtypes.compute_dtype(logits.dtype))
        mask = ops.cast(top_k_mask(x, self.k, axis), x.dtype)
        return ops.cast(Slices(x, axis).mark_undefined(mask,
                                                       all_minus_inf=False),
                        logits.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"k": self.k, "hard": self.hard, "axis": self.axis})
        return config
