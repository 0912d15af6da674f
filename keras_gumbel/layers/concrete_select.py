"""The `ConcreteSelect` layer: learned feature selection (Abid et al. 2019)."""

import keras
import numpy as np
from keras import ops

from keras_gumbel import _validation, backend
from keras_gumbel._messages import invalid
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel.layers._shapes import reshape_tail
from keras_gumbel.ops._assignment import max_weight_assignment
from keras_gumbel.ops._gradients import replace_forward
from keras_gumbel.ops.gumbel_softmax import gumbel_softmax

__all__ = ["ConcreteSelect"]


@keras.saving.register_keras_serializable(package="keras_gumbel")
class ConcreteSelect(GumbelLayer):
    """Selects `units` of the `d` input features, with learned choices.

    The concrete selector layer of Abid, Balin and Zou (2019). It holds a
    trainable matrix of selector logits `logits` of shape `[units, d]`; row
    `i` is a categorical distribution over the input features, and output
    `i` is the input feature it picks. One draw of the selection per call,
    shared by the batch, as in the paper.

    With `distinct=True` (the default) the `units` selected features are
    always different, in training and at inference:

    - at inference, the selection is a maximum-weight matching of the
      logits (`selected_indices()`): the `units` distinct features that
      maximize `sum_i logits[i, sigma(i)]`, found exactly in the graph
      (shortest augmenting paths). Where the rows' argmaxes are already
      distinct this is those argmaxes; where several rows prefer the same
      feature, the matching gives it to one of them and the others their
      best remaining choice (not independent argmaxes, which may repeat);
    - in training, the layer draws the matching of the perturbed logits
      `logits + g`, `g ~ Gumbel(0, 1)` (perturb-and-MAP for matchings, as in
      Mena et al. 2018): a random set of distinct features, which for a
      single row is exactly the Gumbel-Max sample of that row. The forward
      value is that hard selection (the outputs are input features exactly),
      and the gradient is the straight-through gradient of the relaxed
      weights `softmax((logits_i + g_i) / temperature)` drawn with the same
      noise. Hard samples are what make the training selection distinct
      (relaxed rows can always share a feature); annealing the temperature
      then only sharpens the gradient, which tends to the gradient of the
      selected features as `temperature -> 0`.

    With `distinct=False` this is the paper's layer: in training every
    output is a relaxed (Concrete) pick of one feature,
    ```
    w_i = softmax((logits_i + g_i) / temperature),  g ~ Gumbel(0, 1)
    y_i = x . w_i
    ```
    and at inference the feature of largest logit of each row; two rows may
    pick the same feature (the digits example selected 14 distinct pixels
    of 16 that way).

    Annealing the temperature (the paper: exponentially from 10 to 0.01 over
    training, with `TemperatureScheduler` and `schedules.ExponentialDecay`)
    concentrates every row on one feature. Outside training the output is
    exactly `x[..., selected_indices()]`: no arithmetic, the input values
    bit for bit.

    The temperature is a non-trainable float32 variable, as in
    `GumbelSoftmax` (or learned, with `learn_temperature=True`); the logits
    are a float32 weight also under mixed precision (the selection and the
    product are computed in float32, the output is cast to the compute
    dtype).

    Args:
      units: int >= 1, the number of features to select; with
        `distinct=True` at most the number of input features.
      distinct: whether the selected features are all different (a
        matching, above) or chosen independently per row (the paper).
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

    Raises:
      ValueError: `units` larger than the number of input features with
        `distinct=True` (when the layer is built).

    Example:
    >>> import keras
    >>> selector = ConcreteSelect(units=4)
    >>> model = keras.Sequential([keras.Input((20,)), selector,
    ...                           keras.layers.Dense(20)])
    >>> features = selector.selected_indices()  # 4 distinct NumPy ints

    References:
      Abid, Balin, Zou. Concrete Autoencoders: Differentiable Feature
      Selection and Reconstruction. ICML 2019. Mena, Belanger, Linderman,
      Snoek. Learning Latent Permutations with Gumbel-Sinkhorn Networks.
      ICLR 2018.
    """

    def __init__(self, units, distinct=True, temperature=10.0,
                 learn_temperature=False, seed=None, **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature, seed=seed,
                         **kwargs)
        self.units = _validation.check_int(units, "units", minimum=1)
        self.distinct = _validation.check_bool(distinct, "distinct")
        self.logits = None

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError(invalid(
                "inputs", "a tensor whose last dimension (the features) is "
                "known", f"<tensor of shape {tuple(input_shape)}>"))
        if self.distinct and self.units > features:
            raise ValueError(invalid(
                "units", f"at most the number of input features, {features}, "
                "with distinct=True (pass distinct=False to allow repeats)",
                self.units))
        self.logits = self.add_weight(
            name="logits", shape=(self.units, features), dtype="float32",
            initializer=keras.initializers.GlorotNormal(seed=self.seed),
            trainable=True, autocast=False)
        super().build(input_shape)

    def _sample(self, inputs):
        if self.distinct:
            weights = self._distinct_sample()
        else:
            weights = gumbel_softmax(self.logits, temperature=self.temperature,
                                     seed=self.seed_generator)
        x = ops.cast(inputs, "float32")
        return ops.cast(ops.matmul(x, ops.transpose(weights)),
                        self.compute_dtype)

    def _distinct_sample(self):
        """The one-hot rows of the matching of `logits + g` (forward), with
        the gradient of `softmax((logits + g) / temperature)`."""
        g = backend.gumbel_noise(backend.shape_of(self.logits),
                                 backend.draw_seed(self.seed_generator),
                                 "float32")
        z = ops.add(self.logits, g)
        relaxed = ops.softmax(ops.divide(z, self.temperature), axis=-1)
        hard = ops.one_hot(max_weight_assignment(z), self.logits.shape[-1],
                           dtype="float32")
        return replace_forward(relaxed, hard)

    def _indices(self):
        if self.distinct:
            return backend.weight_constant(max_weight_assignment,
                                           self.logits)
        return ops.argmax(self.logits, axis=-1)

    def _infer(self, inputs):
        index = self._indices()
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
          A NumPy int array of shape `[units]`: with `distinct=True` the
          maximum-weight matching of the rows of `logits` to distinct
          features, else the argmax of each row.
        """
        if self.logits is None:
            raise ValueError(
                f"Layer {self.name!r} is not built yet: call it on data (or "
                f"build it) before asking for its selected features.")
        return np.asarray(ops.convert_to_numpy(self._indices())).astype(
            np.int64)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def get_config(self):
        config = super().get_config()
        config["units"] = self.units
        config["distinct"] = self.distinct
        return config
