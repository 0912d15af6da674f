"""What the categorical ops do with NaN and infinite logits, on every backend.

The decisions, per slice along the category axis:

- A NaN logit: the slice has no distribution, so every output in it is
  NaN (never a confident one-hot; the backends' `argmax` of NaN differ).
- `-inf` logits: probability zero, never drawn. A slice of only `-inf`
  has no category to draw: NaN for the categorical samplers, zero items
  for the subset samplers (their "fewer than k finite logits" rule).
- `+inf` logits: drawn with probability 1 (the limit of a growing logit).
  Several `+inf` in one slice act as the same logit, infinitely above the
  finite ones: the sample is drawn uniformly among them, with the same
  noise (a one-hot over them for `gumbel_max`, a Gumbel-Softmax over them
  with equal logits for the relaxed sample). The subset samplers take the
  `+inf` items first (in a uniformly random order), then fill the
  remaining places from the finite logits as usual.

Cost: one global `sum` of the logits, finite exactly when every logit is
(barring an overflow of the sum, which only sends finite logits down the
slow path). When it is finite, a `cond` skips every fix, so finite logits
give bit for bit the samples they gave before, for the price of one
reduction (measured in docs/results.md: a quarter of an element-wise pass
on TF; a row-wise `max` costs several passes there). Otherwise the slow
path finds the slices to fix from their row-wise `max` (NaN for a NaN
slice, `+inf` with a `+inf` logit, `-inf` for a slice of only `-inf`, on
every backend), so logits masked with `-inf` pay a few more passes.
"""

import numpy as np
from keras import ops

from keras_gumbel import backend


def _cond(pred, true_fn, false_fn):
    """`ops.cond`; a Python `if` when `pred` is known; the fix when None."""
    if pred is None:
        return false_fn()
    value = backend.static_value(pred)
    if value is not None:
        return true_fn() if bool(value) else false_fn()
    return ops.cond(pred, true_fn, false_fn)


class Slices:
    """The non-finite slices of `x` along `axis`, and their fixes.

    Args:
      x: logits (float32 or float64), rank >= 1.
      axis: the non-negative category axis.
    """

    def __init__(self, x, axis):
        self.x, self.axis = x, axis
        self._top_cache = None
        if backend.NAME == "jax" and backend.static_value(x) is None:
            # Under `jax.jit`: every fix is an exact no-op on finite slices
            # and XLA fuses its selects into the surrounding loops, so they
            # always run (one row-wise max); a `lax.cond` costs copies of
            # whole tensors instead (measured: 1.3x to 1.4x fwd+bwd).
            self.finite = None
        else:
            self.finite = ops.isfinite(ops.sum(x))

    def _top(self):
        """The row-wise maximum (computed in the slow path only)."""
        if self.finite is None:  # Shared by every fix under `jax.jit`.
            if self._top_cache is None:
                self._top_cache = backend.row_max(self.x, self.axis)
            return self._top_cache
        return backend.row_max(self.x, self.axis)

    def categorical_logits(self):
        """The logits to sample from: in a slice with `+inf`, 0 on the
        `+inf` entries and `-inf` elsewhere (no gradient there)."""

        def fix():
            frozen = ops.stop_gradient(self.x)
            on_top = ops.where(frozen == np.inf, ops.zeros_like(frozen),
                               ops.full_like(frozen, -np.inf))
            return ops.where(self._top() == np.inf, on_top, self.x)

        return _cond(self.finite, lambda: self.x, fix)

    def subset_logits(self, gap):
        """The logits of the subset samplers: `+inf` entries become the
        slice's largest finite logit plus `gap` (no gradient there).

        `gap` must exceed the spread of the Gumbel noise (below 43 in
        float64), scaled by the temperature for relaxed samples, so that the
        noise never orders a finite item before a `+inf` one.
        """

        def fix():
            frozen = ops.stop_gradient(self.x)
            finite_top = backend.row_max(
                ops.where(frozen < np.inf, frozen,
                          ops.full_like(frozen, -np.inf)), self.axis)
            finite_top = ops.where(ops.isfinite(finite_top), finite_top,
                                   ops.zeros_like(finite_top))
            return ops.where(frozen == np.inf, finite_top + gap, self.x)

        return _cond(self.finite, lambda: self.x, fix)

    def mark_undefined(self, y, all_minus_inf=True, reduced=False):
        """`y` with NaN on the slices that have no distribution.

        Args:
          y: an output of the op, the logits' shape (or with `axis` removed
            when `reduced`).
          all_minus_inf: whether a slice of only `-inf` is undefined too.
          reduced: whether `y` has `axis` removed.
        """

        def fix():
            top = self._top()
            undefined = ops.isnan(top)
            if all_minus_inf:
                undefined = undefined | (top == -np.inf)
            if reduced:
                undefined = ops.squeeze(undefined, self.axis)
            return ops.where(undefined, ops.full_like(y, np.nan), y)

        return _cond(self.finite, lambda: y, fix)


def one_hot_argmax(logits, axis, dtype):
    """`one_hot(argmax(logits))` (first maximum on ties), NaN on NaN slices.

    The deterministic argmax of the layers' inference modes and of
    `straight_through`: `+inf` and `-inf` are ordinary values for it.
    """
    slices = Slices(logits, axis)
    return slices.mark_undefined(backend.one_hot_argmax(logits, axis, dtype),
                                 all_minus_inf=False)
