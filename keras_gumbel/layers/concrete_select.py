"""The `ConcreteSelect` layer: learned feature selection (Abid et al. 2019)."""

import keras
import numpy as np
from keras import ops

from keras_gumbel import _validation
from keras_gumbel._messages import invalid
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel.layers._shapes import reshape_tail
from keras_gumbel.ops.gumbel_softmax import gumbel_softmax

__all__ = ["ConcreteSelect"]


@keras.saving.register_keras_serializable(package="keras_gumbel")
class ConcreteSelect(GumbelLayer):
    """Selects `units` of the `d` input features, with learned choices.

    The concrete selector layer of Abid, Balin and Zou (2019). It holds a
    trainable matrix of selector logits `logits` of shape `[units, d]`; row
    `i` is a categorical distribution over the input features. In training,
    every output is a relaxed (Concrete) pick of one feature:
    ```
    w_i = softmax((logits_i + g_i) / temperature),  g ~ Gumbel(0, 1)
    y_i = x . w_i
    ```
    with one draw of `w` per call (shared by the batch, as in the paper).
    Annealing the temperature (the paper: exponentially from 10 to 0.01 over
    training, with `TemperatureScheduler` and
    `schedules.ExponentialDecay`) makes every `w_i` one-hot. Outside
    training the layer outputs exactly `x[..., selected_indices()]`, the
    feature of largest logit of each row: no arithmetic, so the values are
    the input values bit for bit. Two rows may pick the same feature (the
    paper observes it rarely happens once trained).

    The temperature is a non-trainable float32 variable, as in
    `GumbelSoftmax` (or learned, with `learn_temperature=True`); the logits are a float32 weight also under mixed
    precision (the selection and the product are computed in float32, the
    output is cast to the compute dtype).

    Args:
      units: int >= 1, the number of features to select.
      temperature: initial temperature, a positive finite float (the paper
        starts at 10).
      learn_temperature: whether the temperature is a trainable weight.
      seed: int or None, the seed of the layer's noise and of the logits'
        initializer (Glorot normal, as in the paper's code).
      **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
      inputs: float tensor `[..., d]`, `d` known.
      training: Python bool; `None` follows Keras (true inside `fit`).

    Returns:
      A tensor `[..., units]` in the layer's compute dtype.

    Example:
    >>> import keras
    >>> selector = ConcreteSelect(units=4)
    >>> model = keras.Sequential([keras.Input((20,)), selector,
    ...                           keras.layers.Dense(20)])
    >>> features = selector.selected_indices()  # NumPy ints, shape [4]

    References:
      Abid, Balin, Zou. Concrete Autoencoders: Differentiable Feature
      Selection and Reconstruction. ICML 2019.
    """

    def __init__(self, units, temperature=10.0, learn_temperature=False,
                 seed=None, **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature, seed=seed,
                         **kwargs)
        self.units = _validation.check_int(units, "units", minimum=1)
        self.logits = None

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(invalid(
                "inputs", "a tensor whose last dimension (the features) is "
                "known", f"<tensor of shape {tuple(input_shape)}>"))
        self.logits = self.add_weight(
            name="logits", shape=(self.units, features), dtype="float32",
            initializer=keras.initializers.GlorotNormal(seed=self.seed),
            trainable=True, autocast=False)
        super().build(input_shape)

    def _sample(self, inputs):
        weights = gumbel_softmax(self.logits, temperature=self.temperature,
                                 seed=self.seed_generator)
        x = ops.cast(inputs, "float32")
        return ops.cast(ops.matmul(x, ops.transpose(weights)),
                        self.compute_dtype)

    def _infer(self, inputs):
        index = ops.argmax(self.logits, axis=-1)
        # `take` along the first axis of a matrix, not along the last axis:
        # Keras' torch `take` then calls `ravel`, which torch.onnx (2.13)
        # cannot export.
        x = ops.transpose(ops.reshape(inputs, (-1, self.logits.shape[-1])))
        selected = ops.transpose(ops.take(x, index, axis=0))  # [M, units]
        selected = reshape_tail(selected, 1, (self.units,), like=inputs)
        return ops.cast(selected, self.compute_dtype)

    def selected_indices(self):
        """The feature chosen by each output at inference.

        Returns:
          A NumPy int array of shape `[units]`: the argmax of each row of
          `logits`.
        """
        if self.logits is None:
            raise ValueError(
                f"Layer {self.name!r} is not built yet: call it on data (or "
                f"build it) before asking for its selected features.")
        return np.argmax(ops.convert_to_numpy(self.logits), axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        return config
