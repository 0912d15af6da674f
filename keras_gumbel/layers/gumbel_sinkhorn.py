"""The `GumbelSinkhorn` layer: a relaxed permutation for Keras models."""

import keras
from keras import ops

from keras_gumbel import _dtypes, _validation
from keras_gumbel._messages import invalid
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel.ops.matching import matching
from keras_gumbel.ops.sinkhorn import gumbel_sinkhorn, sinkhorn

__all__ = ["GumbelSinkhorn"]


@keras.saving.register_keras_serializable(package="keras_gumbel")
class GumbelSinkhorn(GumbelLayer):
    """Turns `[batch, n, n]` scores into a relaxed (or exact) permutation.

    In training the layer draws a Gumbel-Sinkhorn sample (Mena et al. 2018,
    see `keras_gumbel.ops.gumbel_sinkhorn`):
    ```
    y = sinkhorn((scores + noise_factor * g) / temperature, n_iters)
    ```
    a doubly stochastic matrix near a permutation at small temperatures;
    with `hard=True`, the exact permutation matrix of the same noisy scores
    with the straight-through gradient of `y`. Outside training the output
    depends on `inference_mode`:

    - `"sample"`: the same sampling as in training (fresh noise every call).
    - `"matching"`: `matching(scores)`, the exact maximum-weight permutation
      matrix, computed in the graph (it exports with the model).
    - `"sinkhorn"`: `sinkhorn(scores / temperature, n_iters)`, the
      deterministic soft permutation.

    Temperature, randomness and serialization work as in the other layers
    of the package: a float32 temperature variable annealed by
    `TemperatureScheduler` (`set_temperature`), or `learn_temperature=True`;
    a layer-owned `keras.random.SeedGenerator`.

    Args:
      temperature: initial temperature, a positive finite float.
      n_iters: int >= 1, the number of Sinkhorn iterations.
      hard: whether to output exact permutation matrices (straight-through).
      noise_factor: float >= 0, the scale of the Gumbel noise (0: no noise).
      inference_mode: `"sample"`, `"matching"` or `"sinkhorn"`.
      seed: int or None, the seed of the layer's noise.
      learn_temperature: whether the temperature is a trainable weight.
      **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
      inputs: float scores `[batch, ..., n, n]` (static `n`).
      training: Python bool; `None` follows Keras (true inside `fit`).

    Returns:
      A tensor with the shape of `inputs`, in the layer's compute dtype.

    Example:
    >>> import keras
    >>> n = 5
    >>> model = keras.Sequential([
    ...     keras.Input((n, 1)),
    ...     keras.layers.Dense(n),          # each item scored at each place
    ...     GumbelSinkhorn(temperature=0.5),
    ... ])

    References:
      Mena, Belanger, Linderman, Snoek. Learning Latent Permutations with
      Gumbel-Sinkhorn Networks. ICLR 2018.
    """

    INFERENCE_MODES = ("sample", "matching", "sinkhorn")

    def __init__(self, temperature=1.0, n_iters=20, hard=False,
                 noise_factor=1.0, inference_mode="matching", seed=None,
                 learn_temperature=False, **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature,
                         inference_mode=inference_mode, seed=seed, **kwargs)
        self.n_iters = _validation.check_int(n_iters, "n_iters", minimum=1)
        self.hard = _validation.check_bool(hard, "hard")
        self.noise_factor = _validation.check_float(
            noise_factor, "noise_factor", minimum=0)

    def build(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) < 3 or shape[-1] is None or shape[-1] != shape[-2]:
            raise ValueError(invalid(
                "input_shape", "[batch, ..., n, n] with a static n",
                shape))
        super().build(input_shape)

    def _sample(self, inputs):
        return gumbel_sinkhorn(inputs, temperature=self.temperature,
                               n_iters=self.n_iters, hard=self.hard,
                               seed=self.seed_generator,
                               noise_factor=self.noise_factor)

    def _infer(self, inputs):
        if self.inference_mode == "matching":
            return matching(inputs)
        x = _validation.convert_square_matrices(inputs, "inputs")
        cdt = _dtypes.compute_dtype(x.dtype)
        tau = ops.cast(self.temperature, cdt)
        return ops.cast(sinkhorn(ops.cast(x, cdt) / tau, self.n_iters),
                        x.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"n_iters": self.n_iters, "hard": self.hard,
                       "noise_factor": self.noise_factor})
        return config
