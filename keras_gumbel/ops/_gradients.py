"""Hand-written backward passes shared by the ops.

`replace_forward` is the straight-through construction: a forward value
with the gradient of another tensor. `softmax_vjp` and `temperature_vjp`
are the backward pass of a tempered softmax from its output alone, shared
by the relaxed sample (`gumbel_softmax`) and the Gumbel-Rao estimator,
whose gradients keep only the relaxed sample `y`. For `y = softmax(s)`,
`s = z / tau`, and upstream gradient `u`:
```
ds   = y * (u - sum(y * u))
dtau = -sum(ds * s) / tau = -sum(y * log(y) * (u - sum(y * u))) / tau
```
The second form uses `s = log(y) + const` and `sum(ds) = 0`, so it needs
only `y`; `y log y` is `xlogy(y, y)`, which is 0 where `y` underflows to 0.
"""

from keras import ops

from keras_gumbel import backend


def replace_forward(y, value):
    """Returns `value` in the forward pass and passes gradients to `y` as is.

    Unlike `y + stop_gradient(value - y)`, the forward value is exactly
    `value` (that expression may round, giving 0.99999994 instead of 1).
    """

    @backend.custom_gradient
    def _replace(y):
        def grad(upstream):
            return upstream

        return ops.copy(value), grad

    return _replace(y)


def softmax_vjp(y, upstream, axis):
    """Returns `(ds, centred)`: the gradient w.r.t. `s`, and `u - sum(y u)`."""
    centred = upstream - ops.sum(upstream * y, axis, keepdims=True)
    return y * centred, centred


def temperature_vjp(y, centred, axis, tau):
    """The gradient w.r.t. `tau`, summed over `axis` (kept, size 1)."""
    return -ops.sum(backend.xlogy(y, y) * centred, axis, keepdims=True) / tau
