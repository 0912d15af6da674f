"""Relaxed samples in log space, with densities that hold at any temperature.

At small temperatures a float32 Gumbel-Softmax sample is often an exact
vertex of the simplex (`[1, 0, 0]`), where its density is infinite or zero
and its log cannot be evaluated. Maddison et al. (2017) work in log space
instead: the ExpConcrete sample `x = log_softmax((logits + g) / tau)` is a
finite vector for every finite temperature, and so is its log density; the
binary Concrete sample in logit space is a Logistic variable. The samples
here use the same noise as `gumbel_softmax` and `relaxed_bernoulli` for the
same seed: `exp(log_gumbel_softmax(...))` is the `gumbel_softmax` sample and
`sigmoid(logit_relaxed_bernoulli(...))` the `relaxed_bernoulli` one.

The log densities are densities of the log-space variables (not of the
simplex ones: the two differ by the Jacobian of `exp`), which is what a KL
term or a likelihood ratio needs as long as both densities are taken in the
same space (Maddison et al. 2017, appendix C).
"""

import numpy as np
from keras import ops

from keras_gumbel import _dtypes, _validation, backend
from keras_gumbel.ops._logistic import tempered_logistic

__all__ = ["log_gumbel_softmax", "log_gumbel_softmax_log_prob",
           "logit_relaxed_bernoulli", "logit_relaxed_bernoulli_log_prob"]


def _divide(z, tau, tau_is_number):
    """`z / tau`, with no NaN gradient for `tau` where `z` is infinite."""
    if tau_is_number:
        return z if tau == 1.0 else z * (1.0 / tau)
    # d(z / tau)/d tau = -z / tau^2 is 0 * inf = NaN for an infinite `z`
    # (an infinite logit): divide only the finite values.
    finite = ops.isfinite(z)
    return ops.where(finite, ops.where(finite, z, 0.0) / tau, z)


def log_gumbel_softmax(logits, temperature=1.0, axis=-1, seed=None):
    """Draws the log of a Gumbel-Softmax sample (an ExpConcrete sample).

    ```
    x = log_softmax((logits + g) / temperature),   g_i ~ Gumbel(0, 1)
    ```
    with the noise `gumbel_softmax` draws for the same seed and shape, so
    `exp(x)` is the `gumbel_softmax` sample (where that one does not
    underflow to 0). Unlike the simplex sample, `x` stays finite and
    informative at small temperatures (down to 1e-3 in float32): use it with
    `log_gumbel_softmax_log_prob` for densities and KL terms of annealed
    models. `-inf` logits give `-inf` entries (probability zero).

    Computation is in float32 (float64 for float64 logits); float16 and
    bfloat16 logits are cast back at the end. Differentiable with respect to
    the logits and a tensor temperature.

    Args:
      logits: float tensor of rank >= 1.
      temperature: positive float, tensor or variable; a tensor broadcasts to
        the logits' shape with `axis` removed (e.g. `[B]` for `[B, K]`).
      axis: the axis of the categories.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A tensor with the shape and dtype of `logits`, whose `exp` sums to 1
      along `axis`.

    Example:
    >>> import numpy as np
    >>> logits = np.log([[0.2, 0.3, 0.5]]).astype("float32")
    >>> x = log_gumbel_softmax(logits, temperature=0.01, seed=0)  # finite

    References:
      Maddison, Mnih, Teh. The Concrete Distribution. ICLR 2017.
    """
    logits = _validation.convert_logits(logits)
    axis = _validation.normalize_axis(
        axis, _validation.known_rank(logits, "logits"))
    cdt = _dtypes.compute_dtype(logits.dtype)
    tau, tau_is_number = _validation.convert_temperature(
        temperature, cdt, tuple(logits.shape), axis)
    x = ops.cast(logits, cdt)
    z = x + backend.gumbel_noise(backend.shape_of(x), backend.draw_seed(seed),
                                 cdt)
    s = _divide(z, tau, tau_is_number)
    return ops.cast(ops.log_softmax(s, axis=axis), logits.dtype)


def log_gumbel_softmax_log_prob(log_y, logits, temperature, axis=-1):
    """Log-density of the ExpConcrete distribution at `log_y`.

    The density of `x = log_gumbel_softmax(logits, temperature)` with `k`
    categories, with respect to the Lebesgue measure of its `k - 1`
    log-ratios `x_i - x_k` (the chart of the log-simplex of Maddison et al.
    2017, eq. 24 in appendix C, and TFP's):
    ```
    log p(x) = lgamma(k) + (k - 1) log(tau)
               + sum_i log_softmax(logits - tau x)_i
    ```
    It is finite for every finite `x` on the log-simplex, whatever the
    temperature: unlike `gumbel_softmax_log_prob` of `exp(x)`, it holds for
    float32 samples at temperature 1e-3. Equals TFP's
    `ExpRelaxedOneHotCategorical(temperature, logits=logits).log_prob(x)`.

    Outside the support it returns `-inf`: where an entry of `log_y` is
    `-inf` (the limit of the density there) or `+inf`, or where `logsumexp(log_y)`
    differs from 0 by more than `sqrt(eps)` of the dtype of `log_y` (a point
    off the log-simplex, beyond rounding). NaN in, NaN out.

    Args:
      log_y: float tensor broadcastable with `logits`; extra leading (sample)
        dimensions are allowed, as in `dist.log_prob(dist.sample(n))`.
      logits: float tensor of rank >= 1.
      temperature: positive float or tensor (batch convention as in
        `log_gumbel_softmax`).
      axis: the axis of the categories in `logits`; it is reduced.

    Returns:
      One log-density per point and distribution (`axis` removed from the
      broadcast shape of `log_y` and `logits`), dtype of `logits`.

    Raises:
      ValueError: shapes of `log_y` and `logits` that cannot broadcast, a
        temperature that is not positive and finite (when known statically).

    Example:
    >>> import numpy as np
    >>> logits = np.log([0.2, 0.3, 0.5]).astype("float32")
    >>> x = log_gumbel_softmax(logits, 0.001, seed=0)
    >>> log_p = log_gumbel_softmax_log_prob(x, logits, 0.001)  # finite
    """
    log_y, logits, tau, cdt, axis, y_axis = (
        _validation.convert_density_arguments(log_y, "log_y", logits,
                                              temperature, axis))
    tol = _dtypes.rounding_tolerance(log_y.dtype)
    x = ops.cast(log_y, cdt)
    on_boundary = ops.any(ops.isinf(x), axis=y_axis, keepdims=True)
    off_simplex = ops.abs(ops.logsumexp(
        ops.where(on_boundary, ops.zeros_like(x), x), axis=y_axis,
        keepdims=True)) > tol
    # Inner `where`: infinite entries would give NaN gradients in the branch
    # that is not taken.
    x = ops.where(on_boundary, ops.zeros_like(x), x)
    k = ops.cast(ops.shape(x)[y_axis], cdt)
    a = ops.cast(logits, cdt) - tau * x
    log_p = (backend.lgamma(k) + (k - 1.0) * ops.log(tau)
             + ops.sum(ops.log_softmax(a, axis=y_axis), y_axis, keepdims=True))
    log_p = ops.where(on_boundary | off_simplex, -np.inf, log_p)
    return ops.cast(ops.squeeze(log_p, y_axis), logits.dtype)


def logit_relaxed_bernoulli(logits, temperature=1.0, seed=None):
    """Draws the logit of a binary Concrete sample: a Logistic variable.

    ```
    z = (logits + L) / temperature,   L = log(u) - log(1 - u) ~ Logistic(0, 1)
    ```
    so `z ~ Logistic(logits / temperature, 1 / temperature)`, with the
    noise `relaxed_bernoulli` draws for the same seed and shape:
    `sigmoid(z)` is the `relaxed_bernoulli` sample. `z` stays finite at
    small temperatures where the sigmoid rounds to 0 or 1; use it with
    `logit_relaxed_bernoulli_log_prob`.

    Args:
      logits: float tensor (any rank), log-odds of 1.
      temperature: positive float, tensor broadcastable to `logits`, or
        variable.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A tensor with the shape and dtype of `logits`.

    Example:
    >>> import numpy as np
    >>> z = logit_relaxed_bernoulli(np.zeros([4], "float32"), 0.01, seed=0)

    References:
      Maddison, Mnih, Teh. The Concrete Distribution. ICLR 2017.
    """
    logits = _validation.convert_float_tensor(logits, "logits")
    _validation.known_rank(logits, "logits")
    _, s = tempered_logistic(logits, temperature, seed)
    return ops.cast(s, logits.dtype)


def logit_relaxed_bernoulli_log_prob(z, logits, temperature):
    """Log-density of `Logistic(logits / tau, 1 / tau)` at `z`.

    The density of `logit_relaxed_bernoulli(logits, tau)`, finite for every
    finite `z` at any temperature. With `u = tau * z - logits`:
    ```
    log p(z) = log(tau) - |u| - 2 log1p(exp(-|u|))
    ```
    TFP's `RelaxedBernoulli(tau, logits=logits)` is the sigmoid of this
    variable, `tfd.Logistic(logits / tau, 1 / tau)`. `z = +-inf` gives
    `-inf` (the limit).

    Args:
      z: float tensor of points, broadcastable with `logits`.
      logits: float tensor of log-odds.
      temperature: positive float or tensor broadcastable to `logits`.

    Returns:
      Element-wise log-density, broadcast shape, dtype of `logits`.

    Raises:
      ValueError: shapes of `z` and `logits` that cannot broadcast.

    Example:
    >>> import numpy as np
    >>> log_p = logit_relaxed_bernoulli_log_prob(np.float32(3.0),
    ...                                          np.float32(0.5), 0.1)
    """
    z, logits, tau, cdt, _, _ = _validation.convert_density_arguments(
        z, "z", logits, temperature)
    z = ops.cast(z, cdt)
    infinite = ops.isinf(z)
    # Inner `where`: no NaN gradient from the branch that is not taken.
    u = ops.abs(tau * ops.where(infinite, 0.0, z) - ops.cast(logits, cdt))
    log_p = ops.log(tau) - u - 2.0 * ops.log1p(ops.exp(-u))
    log_p = ops.where(infinite, -np.inf, log_p)
    return ops.cast(log_p, logits.dtype)
