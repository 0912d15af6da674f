"""The hard concrete distribution: stretched and clipped binary Concrete gates.

A binary Concrete variable `s` in (0, 1) is stretched to `(gamma, zeta)` with
`gamma < 0 < 1 < zeta` and clipped to `[0, 1]`:
```
s = sigmoid((logits + L) / temperature),  L ~ Logistic(0, 1)
z = clip(s * (zeta - gamma) + gamma, 0, 1)
```
so the gate `z` is exactly 0 with probability `P(s < -gamma / (zeta -
gamma))`, exactly 1 with probability `P(s > (1 - gamma) / (zeta - gamma))`,
and in between with a reparameterization gradient. The probability that it
is not 0, whose sum is the expected L0 norm of the gated vector, has a
closed form (Louizos et al. 2018, eq. 12):
```
P(z != 0) = sigmoid(logits - temperature * log(-gamma / zeta))
```
"""

import math

from keras import ops

from keras_gumbel import _dtypes, _validation
from keras_gumbel.ops._logistic import tempered_logistic

__all__ = ["hard_concrete", "hard_concrete_l0"]


def hard_concrete(logits, temperature=2.0 / 3.0, limits=(-0.1, 1.1),
                  seed=None):
    """Draws hard concrete gates, element-wise: exact zeros, ones, or between.

    ```
    s = sigmoid((logits + L) / temperature),  L ~ Logistic(0, 1)
    z = clip(s * (zeta - gamma) + gamma, 0, 1),  (gamma, zeta) = limits
    ```
    `s` is the binary Concrete sample of `relaxed_bernoulli` (the same noise
    for the same seed). The gradient is that of the stretched sigmoid where
    `0 < z < 1` and zero where the gate is clipped to exactly 0 or 1. The law
    of `z`: for `0 < t < 1`, with `u = (t - gamma) / (zeta - gamma)`,
    ```
    P(z <= t) = sigmoid(temperature * logit(u) - logits)
    ```
    (at `t = 0` the mass at zero; `1 - P(z < 1)` is the mass at one).

    Args:
      logits: float tensor (any rank), `log(alpha)` of each gate.
      temperature: positive float, tensor broadcastable to `logits`, or
        variable (Louizos et al. use 2/3).
      limits: the stretch interval `(gamma, zeta)`, with
        `gamma < 0 < 1 < zeta`.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A tensor with the shape and dtype of `logits`, in [0, 1].

    Example:
    >>> import numpy as np
    >>> z = hard_concrete(np.zeros([1000], "float32"), seed=0)
    >>> bool(np.mean(z == 0) > 0.1 and np.mean(z == 1) > 0.1)
    True

    References:
      Louizos, Welling, Kingma. Learning Sparse Neural Networks through L0
      Regularization. ICLR 2018.
    """
    logits = _validation.convert_float_tensor(logits, "logits")
    _validation.known_rank(logits, "logits")
    gamma, zeta = _validation.check_stretch_limits(limits)
    _, s = tempered_logistic(logits, temperature, seed)
    stretched = ops.sigmoid(s) * (zeta - gamma) + gamma
    return ops.cast(_clip_unit(stretched), logits.dtype)


def _clip_unit(x):
    """`clip(x, 0, 1)` with a gradient of exactly 0 wherever it clips.

    (`ops.clip` passes the gradient at the bounds on some backends and
    halves it there on others.)
    """
    inside = ops.logical_and(x > 0.0, x < 1.0)
    return ops.where(inside, x, ops.cast(x >= 1.0, x.dtype))


def hard_concrete_l0(logits, temperature=2.0 / 3.0, limits=(-0.1, 1.1)):
    """The probability that a hard concrete gate is not zero, element-wise.

    ```
    P(z != 0) = sigmoid(logits - temperature * log(-gamma / zeta))
    ```
    Its sum is the expected L0 norm of the gated vector, the differentiable
    penalty of Louizos et al. (2018).

    Args:
      logits: float tensor (any rank), `log(alpha)` of each gate.
      temperature: positive float, tensor broadcastable to `logits`, or
        variable.
      limits: the stretch interval `(gamma, zeta)`, with
        `gamma < 0 < 1 < zeta`.

    Returns:
      A tensor with the shape and dtype of `logits`, in [0, 1].

    Example:
    >>> import numpy as np
    >>> p = hard_concrete_l0(np.zeros([3], "float32"))  # sigmoid(1.599)
    >>> bool(np.allclose(p, 0.832, atol=1e-3))
    True
    """
    logits = _validation.convert_float_tensor(logits, "logits")
    _validation.known_rank(logits, "logits")
    gamma, zeta = _validation.check_stretch_limits(limits)
    cdt = _dtypes.compute_dtype(logits.dtype)
    tau, _ = _validation.convert_temperature(
        temperature, cdt, tuple(logits.shape), None)
    shift = tau * math.log(-gamma / zeta)
    return ops.cast(ops.sigmoid(ops.cast(logits, cdt) - shift), logits.dtype)
