"""The binary Concrete (relaxed Bernoulli) distribution."""

import tensorflow as tf

from keras_gumbel.ops import _checks
from keras_gumbel.ops._seed import stateless_seed, uniform_noise
from keras_gumbel.ops.straight_through import replace_forward


def relaxed_bernoulli(logits, temperature=1.0, hard=False, seed=None):
    """Draws a binary Concrete sample, element-wise.

    ```
    y = sigmoid((logits + log(u) - log(1 - u)) / temperature),  u ~ U(0, 1)
    ```
    With `hard=True` the forward value is the exact Bernoulli sample
    `logits + log(u) - log(1 - u) > 0`, whatever the temperature (that is
    `round(y)`, except where `y` rounds to exactly 0.5 at a very large
    temperature), and the gradient is that of `y` (straight-through).

    Args:
      logits: float tensor (any rank), log-odds of 1.
      temperature: positive float, tensor broadcastable to `logits`, or
        variable.
      hard: whether to return exact 0/1 samples.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A tensor with the shape and dtype of `logits`, in [0, 1] (mathematically
      (0, 1); it may round to 0 or 1 at small temperatures).

    Example:
    >>> relaxed_bernoulli(tf.zeros([4]), temperature=0.5, seed=0)

    References:
      Maddison, Mnih, Teh. The Concrete Distribution. ICLR 2017.
    """
    logits = _known_rank(_checks.convert_float_tensor(logits, "logits"))
    hard = _checks.check_bool(hard, "hard")
    cdt = _checks.compute_dtype(logits.dtype)
    tau, tau_is_number = _checks.convert_temperature(temperature, cdt,
                                                     logits.shape, None)
    x = tf.cast(logits, cdt)
    u = uniform_noise(tf.shape(x), stateless_seed(seed), cdt)
    # Logistic noise; u in [tiny, 1 - eps] keeps both logarithms finite.
    z = x + (tf.math.log(u) - tf.math.log1p(-u))
    if tau_is_number:
        s = z / tau
    else:
        # Where z = +-inf (logits +-inf) the gradient of z / tau w.r.t. tau
        # would be 0 * inf = NaN; divide only finite values.
        finite = tf.math.is_finite(z)
        s = tf.where(finite, tf.where(finite, z, 0.0) / tau, z)
    y = tf.sigmoid(s)
    if hard:
        y = replace_forward(y, tf.cast(z > 0, cdt))
    return tf.cast(y, logits.dtype)


def relaxed_bernoulli_log_prob(y, logits, temperature):
    """Log-density of the binary Concrete distribution at `y` in (0, 1).

    With `x = logit(y)` and `z = temperature * x - logits` (a standard
    logistic variable):
    ```
    log p(y) = log(tau) - z - 2 softplus(-z) - log(y) - log(1 - y)
    ```

    Args:
      y: float tensor of points in (0, 1), broadcastable with `logits`.
      logits: float tensor of log-odds.
      temperature: positive float or tensor broadcastable to `logits`.

    Returns:
      Element-wise log-density, dtype of `logits`. Matches
      `tfp.distributions.RelaxedBernoulli(temperature, logits=logits)
      .log_prob(y)`.
    """
    logits = _known_rank(_checks.convert_float_tensor(logits, "logits"))
    y = _checks.convert_float_tensor(y, "y")
    cdt = tf.float64 if tf.float64 in (y.dtype, logits.dtype) else tf.float32
    tau, _ = _checks.convert_temperature(temperature, cdt, logits.shape, None)
    y = tf.cast(y, cdt)
    log_y, log1m_y = tf.math.log(y), tf.math.log1p(-y)
    z = tau * (log_y - log1m_y) - tf.cast(logits, cdt)
    log_p = (tf.math.log(_checks.to_dtype(tau, cdt)) - z - 2.0 * tf.nn.softplus(-z)
             - log_y - log1m_y)
    return tf.cast(log_p, logits.dtype)


def _known_rank(logits):
    """Element-wise ops take any rank, but it must be known statically."""
    if logits.shape.rank is None:
        raise ValueError(
            _checks.unknown_rank("logits", "a tensor of known rank"))
    return logits
