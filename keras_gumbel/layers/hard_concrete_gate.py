"""The `HardConcreteGate` layer: learned L0-sparse gates on features."""

import math

import keras
from keras import ops

from keras_gumbel import _validation
from keras_gumbel._messages import invalid
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel.ops.hard_concrete import (_clip_unit, hard_concrete,
                                            hard_concrete_l0)

__all__ = ["HardConcreteGate"]

@keras.saving.register_keras_serializable(package="keras_gumbel")
class HardConcreteGate(GumbelLayer):
    """Multiplies each feature by a learned hard concrete gate (L0 sparsity).

    The layer holds one trainable `log_alpha` per feature of the last axis.
    In training every example gets fresh gates (shared over any axes between
    the batch and the features, as Louizos et al. share a channel's gate
    over positions),
    ```
    z = clip(sigmoid((log_alpha + L) / temperature) * (zeta - gamma) + gamma,
             0, 1),   L ~ Logistic(0, 1)
    ```
    (`keras_gumbel.ops.hard_concrete`) and returns `inputs * z`. A gate is
    exactly 0 with a positive probability, so a feature can be switched off;
    the expected number of open gates,
    ```
    expected_l0 = sum(sigmoid(log_alpha - temperature * log(-gamma / zeta)))
    ```
    times `l0_penalty` is added to the model's losses when `l0_penalty` is
    not zero, which pushes gates to close. Outside training the output
    depends on `inference_mode`:

    - `"deterministic"`: Louizos et al.'s test-time gate
      `clip(sigmoid(log_alpha) * (zeta - gamma) + gamma, 0, 1)`, the same
      for every example; features whose gate is 0 (`active_mask()` false)
      can be removed from the network.
    - `"sample"`: the same sampling as in training (fresh gates every call).

    The temperature is a fixed float32 variable (Louizos et al. keep it at
    2/3; `TemperatureScheduler` can anneal it) or, with
    `learn_temperature=True`, a trainable weight.

    Args:
      l0_penalty: non-negative float, the weight of the expected L0 norm in
        the loss: the cost of keeping one gate open, in units of the
        (per-example, mean) loss. Louizos et al.'s objective sums the loss
        over the `N` training examples; divided by `N`, their cost of a gate
        is `lambda * m / N` for a gate that removes `m` weights.
      temperature: initial temperature, a positive finite float.
      limits: the stretch interval `(gamma, zeta)`, with
        `gamma < 0 < 1 < zeta`.
      inference_mode: `"deterministic"` or `"sample"`, the output when
        `training` is false.
      seed: int or None, the seed of the layer's noise.
      droprate_init: the initial probability of a closed gate, in (0, 1):
        `log_alpha` starts at `log(1 - droprate_init) - log(droprate_init)`
        plus Normal(0, 0.01) noise, as in Louizos et al.'s code (0.5 for
        hidden units, 0.2 for input features there).
      learn_temperature: whether the temperature is a trainable weight.
      **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
      inputs: float tensor of rank >= 1, features on the last axis.
      training: Python bool; `None` follows Keras (true inside `fit`).

    Returns:
      A tensor with the shape of `inputs`, in the layer's compute dtype.

    Example:
    >>> import keras
    >>> gate = HardConcreteGate(l0_penalty=1e-3, seed=0)
    >>> model = keras.Sequential([
    ...     keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
    ...     gate, keras.layers.Dense(10)])
    >>> kept = gate.active_mask()  # boolean, one per hidden unit

    References:
      Louizos, Welling, Kingma. Learning Sparse Neural Networks through L0
      Regularization. ICLR 2018.
    """

    INFERENCE_MODES = ("deterministic", "sample")

    def __init__(self, l0_penalty=0.0, temperature=2.0 / 3.0,
                 limits=(-0.1, 1.1), inference_mode="deterministic",
                 seed=None, droprate_init=0.5, learn_temperature=False,
                 **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature,
                         inference_mode=inference_mode, seed=seed, **kwargs)
        self.l0_penalty = _validation.check_float(l0_penalty, "l0_penalty",
                                                  minimum=0.0)
        self.limits = _validation.check_stretch_limits(limits)
        self.droprate_init = _validation.check_float(droprate_init,
                                                     "droprate_init")
        if not 0.0 < self.droprate_init < 1.0:
            raise ValueError(invalid("droprate_init", "a float in (0, 1)",
                                     droprate_init))

    def build(self, input_shape):
        rank = len(input_shape)
        if rank < 1 or input_shape[-1] is None:
            raise ValueError(invalid(
                "inputs", "a tensor of rank >= 1 with a known last axis "
                "(the features)", f"<input of shape {tuple(input_shape)}>"))
        mean = math.log(1.0 - self.droprate_init) - math.log(
            self.droprate_init)
        self.log_alpha = self.add_weight(
            name="log_alpha", shape=(input_shape[-1],), dtype="float32",
            initializer=keras.initializers.RandomNormal(
                mean, 0.01, seed=self.seed),
            trainable=True, autocast=False)
        super().build(input_shape)

    def call(self, inputs, training=None):
        inputs = _validation.convert_float_tensor(inputs, "inputs")
        if self.l0_penalty:
            self.add_loss(self.l0_penalty * self.expected_l0())
        return super().call(inputs, training=training)

    def _sample(self, inputs):
        # One gate per example and feature: broadcast log_alpha to
        # [batch, 1, ..., 1, features].
        rank = len(inputs.shape)
        head = inputs[(slice(None),) + (slice(0, 1),) * (rank - 2)] \
            if rank > 1 else inputs
        logits = ops.zeros_like(head, dtype="float32") + self.log_alpha
        gate = hard_concrete(logits, temperature=self.temperature,
                             limits=self.limits, seed=self.seed_generator)
        return inputs * ops.cast(gate, inputs.dtype)

    def _infer(self, inputs):
        return inputs * ops.cast(self.deterministic_gate(), inputs.dtype)

    def deterministic_gate(self):
        """The test-time gates, `clip(sigmoid(log_alpha) * (zeta - gamma) +
        gamma, 0, 1)`: a float32 tensor, one per feature."""
        gamma, zeta = self.limits
        stretched = ops.sigmoid(ops.convert_to_tensor(self.log_alpha)) * (
            zeta - gamma) + gamma
        return _clip_unit(stretched)

    def expected_l0(self):
        """The expected number of open gates, a differentiable float32
        scalar: `sum(hard_concrete_l0(log_alpha, temperature, limits))`."""
        return ops.sum(hard_concrete_l0(
            ops.convert_to_tensor(self.log_alpha),
            temperature=self.temperature, limits=self.limits))

    def active_mask(self):
        """Which features the deterministic gate keeps (gate > 0): a boolean
        tensor, one per feature. The others can be pruned away."""
        return self.deterministic_gate() > 0.0

    def get_config(self):
        config = super().get_config()
        config.update({"l0_penalty": self.l0_penalty, "limits": self.limits,
                       "droprate_init": self.droprate_init})
        return config
