"""The draw the binary relaxations share: noisy logits over a temperature.

`relaxed_bernoulli`, `logit_relaxed_bernoulli` and `hard_concrete` are
functions of one draw, `z = logits + L` with `L ~ Logistic(0, 1)` from
`backend.logistic_noise`, and `s = z / temperature`: for the same seed the
three see the same `z` and `s`.
"""

from keras import ops

from keras_gumbel import _dtypes, _validation, backend


def tempered_logistic(logits, temperature, seed):
    """Returns `(z, s)` in the compute dtype of the float tensor `logits`.

    Checks `temperature` (element-wise convention: it broadcasts to the
    logits' shape) and draws the seed once.
    """
    cdt = _dtypes.compute_dtype(logits.dtype)
    tau, tau_is_number = _validation.convert_temperature(
        temperature, cdt, tuple(logits.shape), None)
    x = ops.cast(logits, cdt)
    z = x + backend.logistic_noise(backend.shape_of(x),
                                   backend.draw_seed(seed), cdt)
    if tau_is_number:
        return z, z / tau
    # Where z = +-inf (logits +-inf) the gradient of z / tau w.r.t. tau
    # would be 0 * inf = NaN; divide only finite values.
    finite = ops.isfinite(z)
    return z, ops.where(finite, ops.where(finite, z, 0.0) / tau, z)
