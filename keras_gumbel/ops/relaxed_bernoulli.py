"""The binary Concrete (relaxed Bernoulli) distribution."""

import numpy as np
from keras import ops

from keras_gumbel import _validation
from keras_gumbel.ops._gradients import replace_forward
from keras_gumbel.ops._logistic import tempered_logistic

__all__ = ["relaxed_bernoulli", "relaxed_bernoulli_log_prob"]


def relaxed_bernoulli(logits, temperature=1.0, hard=False, seed=None):
    """Draws a binary Concrete sample, element-wise.

    ```
    y = sigmoid((logits + log(u) - log(1 - u)) / temperature),  u ~ U(0, 1)
    ```
    With `hard=True` the forward value is the exact Bernoulli sample
    `logits + log(u) - log(1 - u) > 0`, whatever the temperature (that is
    `round(y)`, except where `y` rounds to exactly 0.5 at a very large
    temperature), and the gradient is that of `y` (straight-through).

    Non-finite logits, element-wise and the same on every backend: `+inf`
    gives 1, `-inf` gives 0 (relaxed and hard), NaN gives NaN (hard
    samples included: never a confident 0 or 1).

    Args:
      logits: float tensor (any rank, empty allowed), log-odds of 1.
      temperature: positive float, tensor broadcastable to `logits`, or
        variable.
      hard: whether to return exact 0/1 samples.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A tensor with the shape and dtype of `logits`, in [0, 1] (mathematically
      (0, 1); it may round to 0 or 1 at small temperatures).

    Example:
    >>> import numpy as np
    >>> y = relaxed_bernoulli(np.zeros([4], "float32"), temperature=0.5,
    ...                       seed=0)

    References:
      Maddison, Mnih, Teh. The Concrete Distribution. ICLR 2017.
    """
    logits = _validation.convert_float_tensor(logits, "logits")
    _validation.known_rank(logits, "logits")
    hard = _validation.check_bool(hard, "hard")
    z, s = tempered_logistic(logits, temperature, seed)
    y = ops.sigmoid(s)
    if hard:
        # `z > 0` is False for NaN: keep NaN where the logit is NaN.
        bit = ops.where(ops.isnan(z), ops.full_like(z, np.nan),
                        ops.cast(z > 0, z.dtype))
        y = replace_forward(y, bit)
    return ops.cast(y, logits.dtype)


def relaxed_bernoulli_log_prob(y, logits, temperature):
    """Log-density of the binary Concrete distribution at `y` in [0, 1].

    With `x = logit(y)` and `z = temperature * x - logits` (a standard
    logistic variable):
    ```
    log p(y) = log(tau) - z - 2 softplus(-z) - log(y) - log(1 - y)
    ```
    At small temperatures float32 samples round to exactly 0 or 1, where
    `p(y) ~ (tau / exp(+-logits)) * y^(tau - 1)` (and the same in `1 - y`):
    there the op returns the limit, `+inf` for `tau < 1`, `-inf` for
    `tau > 1`, `log(tau) -+ logits` for `tau = 1`. Such values carry no
    information about the logits: at small temperatures sample with
    `logit_relaxed_bernoulli` and use `logit_relaxed_bernoulli_log_prob`,
    which stay finite.

    Outside the support (`y < 0` or `y > 1`) the density is zero and the op
    returns `-inf` (no run-time assertion, which would not run under XLA);
    NaN in `y` gives NaN.

    Args:
      y: float tensor of points in [0, 1], broadcastable with `logits`.
      logits: float tensor of log-odds.
      temperature: positive float or tensor broadcastable to `logits`.

    Returns:
      Element-wise log-density, dtype of `logits`. Matches
      `tfp.distributions.RelaxedBernoulli(temperature, logits=logits)
      .log_prob(y)` in (0, 1) (TFP returns NaN at 0 and 1).

    Raises:
      ValueError: shapes of `y` and `logits` that cannot broadcast.
    """
    inf = float("inf")
    y, logits, tau, cdt, _, _ = _validation.convert_density_arguments(
        y, "y", logits, temperature)
    x = ops.cast(logits, cdt)
    y = ops.cast(y, cdt)
    interior = (y > 0) & (y < 1)
    # 1/2 where y is not in (0, 1): finite values (and gradients) in the
    # branch of the `where` below that is not taken.
    safe = ops.where(interior, y, ops.full_like(y, 0.5))
    log_y, log1m_y = ops.log(safe), ops.log1p(-safe)
    z = tau * (log_y - log1m_y) - x
    log_p = (ops.log(tau) - z - 2.0 * ops.softplus(-z) - log_y - log1m_y)
    limit = ops.where(tau < 1.0, inf, ops.where(
        tau > 1.0, -inf, ops.log(tau) + ops.where(y == 1, x, -x)))
    log_p = ops.where(interior, log_p, ops.where(
        (y == 0) | (y == 1), limit, ops.where(ops.isnan(y), y, -inf)))
    return ops.cast(log_p, logits.dtype)
