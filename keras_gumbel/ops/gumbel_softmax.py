"""The Gumbel-Softmax (Concrete) relaxation: samples and log-density."""

from keras import ops

from keras_gumbel import backend
from keras_gumbel import _dtypes, _validation
from keras_gumbel.ops import _estimators
from keras_gumbel.ops._nonfinite import Slices
from keras_gumbel.ops._gradients import softmax_vjp, temperature_vjp

__all__ = ["ESTIMATORS", "gumbel_softmax", "gumbel_softmax_log_prob"]

#: The gradient estimators of `gumbel_softmax(..., hard=True)`.
ESTIMATORS = ("straight_through", "gumbel_rao", "reinmax")


def gumbel_softmax(logits, temperature=1.0, hard=False, axis=-1, seed=None,
                   estimator="straight_through", estimator_samples=1):
    """Draws a Gumbel-Softmax (Concrete) sample, relaxed or hard.

    ```
    y = softmax((logits + g) / temperature),   g_i ~ Gumbel(0, 1) i.i.d.
    ```
    With `hard=True` the forward value is the exact one-hot categorical
    sample `one_hot(argmax(logits + g))` (a sample of
    `Categorical(softmax(logits))` whatever the temperature), and the
    backward pass follows `estimator`:

    - `"straight_through"`: the gradient of the relaxed sample `y` drawn with
      the same noise (ST Gumbel-Softmax, Jang et al. 2017).
    - `"gumbel_rao"`: Gumbel-Rao Monte Carlo with `estimator_samples`
      conditional Gumbel draws (Paulus et al. 2021).
    - `"reinmax"`: the second-order ReinMax estimator (Liu et al. 2023).

    Computation is in float32 (float64 for float64 logits) and in log space,
    so float16/bfloat16 logits, logits up to +-1e4 and temperatures down to
    1e-3 give no NaN or inf. The backward pass keeps only the relaxed sample
    (the K relaxed samples for `"gumbel_rao"`).

    Non-finite logits, the same on every backend (see also
    `keras_gumbel.ops`): `-inf` entries are never drawn; a `+inf` entry is
    drawn with probability 1, and several `+inf` entries in one slice are
    drawn uniformly among themselves (the sample is the Gumbel-Softmax over
    them with equal logits; the gradient to that slice is 0); a slice with a
    NaN logit, or with only `-inf` logits, has no distribution and comes
    out as NaN (hard samples included: never a confident one-hot). Finite
    logits pay one global `sum` for these checks.

    Args:
      logits: float tensor of rank >= 1 with at least one category along
        `axis`.
      temperature: positive float, tensor or variable; a tensor broadcasts to
        the logits' shape with `axis` removed (e.g. `[B]` for `[B, K]`).
      hard: whether to return an exact one-hot sample.
      axis: the axis of the categories.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.
      estimator: gradient estimator for `hard=True`.
      estimator_samples: number of conditional draws for `"gumbel_rao"`
        (must stay 1 for the other estimators).

    Returns:
      A tensor with the shape and dtype of `logits`.

    Example:
    >>> import numpy as np
    >>> logits = np.log([[0.1, 0.6, 0.3]]).astype("float32")
    >>> y = gumbel_softmax(logits, temperature=0.5, seed=0)  # on the simplex
    >>> d = gumbel_softmax(logits, hard=True, seed=0)  # one-hot

    References:
      Jang, Gu, Poole. Categorical Reparameterization with Gumbel-Softmax.
      ICLR 2017. Maddison, Mnih, Teh. The Concrete Distribution. ICLR 2017.
    """
    logits, axis = _validation.convert_categorical(logits, axis)
    hard = _validation.check_bool(hard, "hard")
    _validation.check_estimator(estimator, estimator_samples, ESTIMATORS, hard)
    cdt = _dtypes.compute_dtype(logits.dtype)
    tau, tau_is_number = _validation.convert_temperature(
        temperature, cdt, tuple(logits.shape), axis)
    seed = backend.draw_seed(seed)
    slices = Slices(ops.cast(logits, cdt), axis)
    x = slices.categorical_logits()
    g = backend.gumbel_noise(backend.shape_of(x), seed, cdt)
    if hard and estimator != "straight_through":
        y = _estimators.hard_sample(x, g, tau, tau_is_number, axis, seed,
                                   estimator, estimator_samples)
    else:
        y = _softmax_sample(x, g, tau, tau_is_number, axis, hard)
    return ops.cast(slices.mark_undefined(y), logits.dtype)


def _softmax_sample(x, g, tau, tau_is_number, axis, hard):
    """`softmax((x + g) / tau)`, or its one-hot argmax when `hard`.

    The gradient is that of the softmax in both cases (straight-through for
    `hard`), written by hand (see `_gradients`) so that the backward pass
    keeps only the relaxed sample `y` (and `tau`), not the noise or `x + g`:
    `dx = ds / tau` with `ds` the softmax's vector-Jacobian product.
    """

    def forward(x, inv_tau):
        z = x + g
        # `z * 1.0 == z`: skip a full element-wise pass at the default tau.
        s = z if inv_tau is None else z * inv_tau
        y = ops.softmax(s, axis=axis)
        # `z`, not `y`: the argmax of `y` could tie after rounding where the
        # exact Gumbel-Max index `argmax(z)` does not.
        out = backend.one_hot_argmax(z, axis, _dtypes.dtype_of(z)) if hard else y
        return y, out

    if tau_is_number:
        inv_tau = None if tau == 1.0 else 1.0 / tau

        @backend.custom_gradient
        def sample(x):
            y, out = forward(x, inv_tau)

            def grad(upstream):
                ds, _ = softmax_vjp(y, upstream, axis)
                return ds if inv_tau is None else ds * inv_tau

            return out, grad

        return sample(x)

    @backend.custom_gradient
    def sample_with_tau(x, tau):
        y, out = forward(x, 1.0 / tau)

        def grad(upstream):
            ds, centred = softmax_vjp(y, upstream, axis)
            dtau = temperature_vjp(y, centred, axis, tau)
            return ds / tau, backend.sum_to_shape(dtau, tau)

        return out, grad

    return sample_with_tau(x, tau)


def gumbel_softmax_log_prob(y, logits, temperature, axis=-1):
    """Log-density of the Gumbel-Softmax (Concrete) distribution at `y`.

    With `k` categories and `pi = softmax(logits)`:
    ```
    p(y) = Gamma(k) tau^(k-1) (sum_i pi_i / y_i^tau)^(-k)
           prod_i (pi_i / y_i^(tau + 1))
    ```
    computed in log space (`log_softmax`, `logsumexp`).

    At small temperatures float32 samples reach the boundary of the simplex
    (an exact 0 or 1 in `y`, e.g. `[1, 0, 0]` at temperature 0.01), where
    the density is infinite or zero: there the op returns the limit of the
    log density as the `m` zero coordinates of `y` vanish together, which is
    `+inf` when `(k - m) tau < m`, `-inf` when `(k - m) tau > m`, and a
    finite number when they are equal (e.g. `k = 2`, `tau = 1`). Such values
    carry no information about the logits: for densities at small
    temperatures (KL terms, likelihood ratios) sample with
    `log_gumbel_softmax` and use `log_gumbel_softmax_log_prob`, which stay
    finite.

    Outside the support the density is zero and the op returns `-inf`: a
    point with an entry below 0 or above 1, or whose sum differs from 1 by
    more than `sqrt(eps)` of the dtype of `y` (beyond rounding). No run-time
    assertion is made (it would not run under XLA); NaN in `y` gives NaN.

    Args:
      y: points on the simplex, float tensor broadcastable with `logits`;
        extra leading (sample) dimensions are allowed, as in
        `dist.log_prob(dist.sample(n))`.
      logits: float tensor of rank >= 1.
      temperature: positive float or tensor (batch convention as in
        `gumbel_softmax`).
      axis: the axis of the categories in `logits`; it is reduced.

    Returns:
      One log-density per point and distribution (`axis` removed from the
      broadcast shape of `y` and `logits`), dtype of `logits`.
      Matches `tfp.distributions.RelaxedOneHotCategorical(temperature,
      logits=logits).log_prob(y)` inside the simplex (TFP returns NaN on its
      boundary).

    Raises:
      ValueError: shapes of `y` and `logits` that cannot broadcast, a
        temperature that is not positive and finite (when known statically).
    """
    inf = float("inf")
    y, logits, tau, cdt, axis, y_axis = _validation.convert_density_arguments(
        y, "y", logits, temperature, axis)
    tol = _dtypes.rounding_tolerance(y.dtype)
    log_pi = ops.log_softmax(ops.cast(logits, cdt), axis=axis)
    y = ops.cast(y, cdt)
    outside = (ops.any((y < 0) | (y > 1), y_axis, keepdims=True)
               | (ops.abs(ops.sum(y, y_axis, keepdims=True) - 1.0) > tol))
    zero = y == 0
    # log(1) = 0 where y is not positive: finite values (and gradients) in
    # the branches of the `where`s below that are not taken.
    log_y = ops.log(ops.where(y > 0, y, ops.ones_like(y)))
    k = ops.cast(ops.shape(log_pi)[axis], cdt)  # dynamic in TF graphs
    m = ops.sum(ops.cast(zero, cdt), y_axis, keepdims=True)
    log_p = (backend.lgamma(k) + (k - 1.0) * ops.log(tau)
             + ops.sum(log_pi - (tau + 1.0) * log_y, y_axis, keepdims=True))
    inside = log_p - k * ops.logsumexp(log_pi - tau * log_y, y_axis,
                                       keepdims=True)
    log_pi_zeros = ops.where(zero, log_pi, ops.full_like(log_pi, -inf))
    limit = log_p - k * ops.logsumexp(log_pi_zeros, y_axis, keepdims=True)
    power = (k - m) * tau - m  # log p ~ power * log(eps) near the boundary
    limit = ops.where(power < 0, inf, ops.where(power > 0, -inf, limit))
    log_p = ops.where(outside, -inf, ops.where(m > 0, limit, inside))
    return ops.cast(ops.squeeze(log_p, y_axis), logits.dtype)
