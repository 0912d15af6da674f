"""Temperature schedules for annealing Gumbel-Softmax layers during training.

A schedule maps the global training step (a non-negative Python int) to a
temperature (a positive Python float). `TemperatureScheduler` calls it before
every training batch and assigns the result to each Gumbel layer's
`temperature` variable. Any `callable(step) -> float` can be used instead of
the classes here; these three are serializable (`get_config`/`from_config`,
registered under the package name `"keras_gumbel"`), so they can be stored
with a callback configuration.

Jang et al. (2017) anneal `tau = max(0.5, exp(-r t))` with `r` in
{1e-5, 1e-4}, updating every N in {500, 1000} steps:
`ExponentialDecay(initial=1.0, rate=1e-4, minimum=0.5, every=1000)`.
"""

import math

import keras

from keras_gumbel import _validation
from keras_gumbel._messages import invalid

__all__ = ["CosineDecay", "ExponentialDecay", "LinearDecay",
           "TemperatureSchedule"]


class TemperatureSchedule:
    """Base class of the serializable temperature schedules.

    Subclasses implement `__call__(step) -> float` and `get_config()`;
    `from_config(config)` calls the constructor with the config.
    """

    def __call__(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="keras_gumbel")
class ExponentialDecay(TemperatureSchedule):
    """Exponential decay with a floor, updated every `every` steps.

    The schedule of Jang et al. (2017):

    ```
    tau(step) = max(minimum, initial * exp(-rate * every * floor(step / every)))
    ```

    Args:
      initial: temperature at step 0, a positive float.
      rate: decay rate per step, a non-negative float.
      minimum: the floor, a positive float not larger than `initial`.
      every: the temperature changes only every `every` steps (a positive
        int); 1 updates it on every step.

    Example:
    >>> schedule = ExponentialDecay(initial=1.0, rate=1e-4, minimum=0.5,
    ...                             every=1000)
    >>> schedule(0), schedule(999), schedule(1000)
    (1.0, 1.0, 0.9048374180359595)

    References:
      Jang, Gu, Poole. Categorical Reparameterization with Gumbel-Softmax.
      ICLR 2017.
    """

    def __init__(self, initial=1.0, rate=1e-4, minimum=0.5, every=1):
        self.initial = _validation.check_positive_float(initial, "initial")
        self.rate = _validation.check_float(rate, "rate", minimum=0.0)
        self.minimum = _validation.check_positive_float(minimum, "minimum")
        if self.minimum > self.initial:
            raise ValueError(invalid(
                "minimum", f"a positive float <= initial={self.initial}",
                minimum))
        self.every = _validation.check_int(every, "every", minimum=1)

    def __call__(self, step):
        step = _validation.check_int(step, "step", minimum=0)
        decayed_steps = self.every * (step // self.every)
        return max(self.minimum,
                   self.initial * math.exp(-self.rate * decayed_steps))

    def get_config(self):
        return {"initial": self.initial, "rate": self.rate,
                "minimum": self.minimum, "every": self.every}


class _Interpolation(TemperatureSchedule):
    """Shared arguments of the schedules that go from `initial` to `final`."""

    def __init__(self, initial=1.0, final=0.5, steps=10000):
        self.initial = _validation.check_positive_float(initial, "initial")
        self.final = _validation.check_positive_float(final, "final")
        self.steps = _validation.check_int(steps, "steps", minimum=1)

    def __call__(self, step):
        step = _validation.check_int(step, "step", minimum=0)
        fraction = min(step, self.steps) / self.steps
        weight = self._shape(fraction)
        # Written so that both ends are exact: initial at 0, final at steps.
        return self.initial * weight + self.final * (1.0 - weight)

    def _shape(self, fraction):
        """Weight of `initial` at `fraction` in [0, 1]: 1 at 0, 0 at 1."""
        raise NotImplementedError

    def get_config(self):
        return {"initial": self.initial, "final": self.final,
                "steps": self.steps}


@keras.saving.register_keras_serializable(package="keras_gumbel")
class LinearDecay(_Interpolation):
    """Linear interpolation from `initial` to `final` over `steps` steps.

    ```
    tau(step) = final + (initial - final) * (1 - min(step, steps) / steps)
    ```
    Constant at `final` from `steps` on. `final > initial` is allowed (a
    warm-up that raises the temperature).

    Args:
      initial: temperature at step 0, a positive float.
      final: temperature from step `steps` on, a positive float.
      steps: length of the decay, a positive int.

    Example:
    >>> schedule = LinearDecay(initial=1.0, final=0.5, steps=100)
    >>> schedule(0), schedule(50), schedule(100), schedule(10**6)
    (1.0, 0.75, 0.5, 0.5)
    """

    def _shape(self, fraction):
        return 1.0 - fraction


@keras.saving.register_keras_serializable(package="keras_gumbel")
class CosineDecay(_Interpolation):
    """Half-cosine interpolation from `initial` to `final` over `steps`.

    ```
    w(step)   = (1 + cos(pi * min(step, steps) / steps)) / 2
    tau(step) = final + (initial - final) * w(step)
    ```
    Flat at both ends; constant at `final` from `steps` on.

    Args:
      initial: temperature at step 0, a positive float.
      final: temperature from step `steps` on, a positive float.
      steps: length of the decay, a positive int.

    Example:
    >>> schedule = CosineDecay(initial=1.0, final=0.5, steps=100)
    >>> schedule(0), schedule(50), schedule(100)
    (1.0, 0.75, 0.5)
    """

    def _shape(self, fraction):
        return 0.5 * (1.0 + math.cos(math.pi * fraction))
