"""Subsets of k items: Gumbel-top-k samples and their continuous relaxation."""

import numpy as np
from keras import ops

from keras_gumbel import _dtypes, _validation, backend
from keras_gumbel.ops._gradients import replace_forward
from keras_gumbel.ops._nonfinite import Slices
from keras_gumbel.ops._top_k import top_k_mask

__all__ = ["gumbel_top_k", "relaxed_top_k"]


#: What a `+inf` logit becomes in the subset samplers, above the largest
#: finite logit of its slice: more than the spread of the Gumbel noise
#: (below 21 in float32, 43 in float64), so no draw orders a finite item
#: before a `+inf` one. Scaled by `max(temperature, 1)` for the relaxed
#: sample, where it leaves the other items `exp(-85)` of the mass.
_INF_GAP = 128.0


def _prepare(logits, k, axis):
    """Checks the common arguments; returns `(logits, axis, k)`."""
    logits, axis = _validation.convert_categorical(logits, axis)
    k = _validation.check_int(k, "k", minimum=1, maximum=logits.shape[axis])
    return logits, axis, k


def gumbel_top_k(logits, k, axis=-1, seed=None):
    """Draws `k` items without replacement, as a k-hot vector.

    ```
    sample = k_hot(top_k(logits + g)),   g_i ~ Gumbel(0, 1) i.i.d.
    ```
    The indices of the `k` largest perturbed logits are an exact draw of
    `k` distinct items where each next item is chosen with probability
    proportional to `softmax(logits)` among the items left (the
    Plackett-Luce law; Kool et al. 2019). `-inf` logits (probability zero)
    are never drawn: a slice with only `c < k` finite logits gets those `c`
    items (none for a slice of only `-inf`). `+inf` logits are drawn first,
    in a uniformly random order (the limit of growing logits), then the
    remaining places are filled from the finite logits as usual. A slice
    with a NaN logit has no distribution: its output is NaN, on every
    backend. The noise is the noise `gumbel_softmax` draws for the same
    seed and shape.

    Args:
      logits: float tensor of rank >= 1, unnormalized log-probabilities.
      k: int in `[1, n]`, `n` the size of `axis` (not checked against an
        unknown TF graph dimension: `top_k` fails at run time then).
      axis: the axis of the items.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A tensor of 0s and 1s with the shape and dtype of `logits`, `k` ones
      along `axis`. It carries no gradient; use
      `relaxed_top_k(..., hard=True)` for one that does.

    Raises:
      ValueError: `k` not an int in `[1, n]`, `axis` out of range.

    Example:
    >>> import numpy as np
    >>> subset = gumbel_top_k(np.log([[0.1, 0.2, 0.3, 0.4]]), k=2, seed=0)

    References:
      Kool, van Hoof, Welling. Stochastic Beams and Where to Find Them: The
      Gumbel-Top-k Trick for Sampling Sequences Without Replacement. ICML
      2019.
    """
    logits, axis, k = _prepare(logits, k, axis)
    cdt = _dtypes.compute_dtype(logits.dtype)
    slices = Slices(ops.cast(logits, cdt), axis)
    x = slices.subset_logits(_INF_GAP)
    z = x + backend.gumbel_noise(backend.shape_of(x), backend.draw_seed(seed), cdt)
    sample = slices.mark_undefined(ops.cast(top_k_mask(z, k, axis), cdt),
                                   all_minus_inf=False)
    return ops.stop_gradient(ops.cast(sample, logits.dtype))


def relaxed_top_k(logits, k, temperature=1.0, hard=False, axis=-1,
                  seed=None):
    """Draws a relaxed k-hot sample (Xie & Ermon 2019), or a hard one.

    From the perturbed logits `r = logits + g` (the noise of
    `gumbel_top_k` and `gumbel_softmax` for the same seed), `k` successive
    tempered softmaxes each take out the mass already chosen:
    ```
    for j = 1..k:
        a_j = softmax(r / temperature)
        r   = r + log(1 - a_j)
    y = a_1 + ... + a_k
    ```
    Every `y_i` is >= 0 and `sum(y) = k` (up to rounding). As the
    temperature goes to 0, `y` tends to `gumbel_top_k` with the same seed.
    With `hard=True` the forward value is exactly that k-hot sample, and the
    gradient is the gradient of the relaxed `y` drawn with the same noise
    (straight-through).

    `log(1 - a_j)` is computed in log space (`log1p(-a)` for every entry but
    the largest, whose `1 - a` is the sum of the others, a `logsumexp`), so
    temperatures down to 1e-3, logits up to +-1e4 and `-inf` logits give no
    NaN or inf, in the value or the gradient. `-inf` logits get exactly 0;
    a slice with only `c < k` finite logits sums to `c`. `+inf` logits are
    taken first, as in `gumbel_top_k`: each becomes the slice's largest
    finite logit plus `128 * max(temperature, 1)`, which leaves the finite
    items about `exp(-85)` of each of the first steps' mass (and no
    gradient to the `+inf` entries). A slice with a NaN logit comes out as
    NaN, on every backend. Computation is in
    float32 (float64 for float64 logits). Cost: about `k` softmax passes
    forward and backward (automatic differentiation through the loop).

    Args:
      logits: float tensor of rank >= 1.
      k: int in `[1, n]`, `n` the size of `axis`.
      temperature: positive float, tensor or variable; a tensor broadcasts to
        the logits' shape with `axis` removed (e.g. `[B]` for `[B, n]`), and
        receives a gradient.
      hard: whether to return the exact k-hot sample (straight-through).
      axis: the axis of the items.
      seed: None, int, shape-[2] int tensor or `keras.random.SeedGenerator`.

    Returns:
      A tensor with the shape and dtype of `logits`.

    Raises:
      ValueError: `k` not an int in `[1, n]`, a temperature that is not
        positive and finite (when known statically), `axis` out of range.
      TypeError: non-float logits, `hard` not a bool.

    Example:
    >>> import numpy as np
    >>> logits = np.log([[0.1, 0.2, 0.3, 0.4]]).astype("float32")
    >>> y = relaxed_top_k(logits, k=2, temperature=0.5, seed=0)  # sums to 2
    >>> d = relaxed_top_k(logits, k=2, hard=True, seed=0)  # 2-hot

    References:
      Xie, Ermon. Reparameterizable Subset Sampling via Continuous
      Relaxations. IJCAI 2019.
    """
    logits, axis, k = _prepare(logits, k, axis)
    hard = _validation.check_bool(hard, "hard")
    cdt = _dtypes.compute_dtype(logits.dtype)
    tau, tau_is_number = _validation.convert_temperature(
        temperature, cdt, tuple(logits.shape), axis)
    slices = Slices(ops.cast(logits, cdt), axis)
    gap = (_INF_GAP * max(tau, 1.0) if tau_is_number
           else _INF_GAP * ops.maximum(ops.stop_gradient(tau), 1.0))
    x = slices.subset_logits(gap)
    z = x + backend.gumbel_noise(backend.shape_of(x), backend.draw_seed(seed), cdt)
    valid = z > -np.inf
    # Finite everywhere: `-inf` entries are masked by `valid` below, and a
    # finite placeholder keeps their gradients (and the temperature's) at 0
    # instead of `0 * inf`.
    r = ops.where(valid, z, ops.zeros_like(z))
    y = _relaxed_k_hot(r, valid, k, None if tau_is_number and tau == 1.0
                       else tau, axis)
    if hard:
        y = replace_forward(y, ops.cast(top_k_mask(z, k, axis), cdt))
    return ops.cast(slices.mark_undefined(y, all_minus_inf=False),
                    logits.dtype)


def _relaxed_k_hot(r, valid, k, tau, axis):
    """The k successive softmaxes on finite `r`, restricted to `valid`.

    Args:
      r: finite perturbed logits (0 where not `valid`).
      valid: bool, the entries that can be chosen.
      k: the number of steps.
      tau: None (temperature 1), a Python float, or a tensor with a size-1
        dimension at `axis`.
    """
    zero = ops.zeros_like(r)
    if 0 in tuple(r.shape):
        # An empty batch (Keras' max of an empty tensor raises on TensorFlow
        # and PyTorch); `r * 0` keeps the output connected to the logits.
        return r * 0.0
    minus_inf = ops.full_like(r, -np.inf)
    count = ops.sum(ops.cast(valid, "int32"), axis=axis, keepdims=True)
    total = zero
    for step in range(k):
        s = r if tau is None else r / tau
        s_valid = ops.where(valid, s, minus_inf)
        # The shift of a softmax does not change it: no gradient needed.
        top = ops.stop_gradient(backend.row_max(s_valid, axis))
        is_top = (backend.one_hot_argmax(s_valid, axis, r.dtype) > 0) & valid
        d = ops.where(valid, s - top, zero)  # <= 0, and 0 at the top entry
        e = ops.where(valid, ops.exp(d), zero)
        # >= 1 (the top entry's e is 1), or 0 in a slice without items.
        norm = ops.sum(e, axis=axis, keepdims=True)
        norm = ops.where(count > 0, norm, ops.ones_like(norm))
        a = e / norm
        # log(1 - a_i): log1p(-a_i) is accurate wherever a_i <= 1/2, that is
        # for every entry but the top one. For the top one, 1 - a is the
        # mass of the others, `logsumexp(d_others) - log(norm)`, which stays
        # finite when `a` rounds to 1 (small temperature, distant logits).
        others = valid & ~is_top
        d_others = ops.where(others, d, minus_inf)
        second = ops.stop_gradient(backend.row_max(d_others, axis))
        has_others = second > -np.inf
        second = ops.where(has_others, second, ops.zeros_like(second))
        # The inner `where`s keep `exp` finite where its value is unused, so
        # that no `0 * inf` reaches the gradients.
        e_others = ops.where(others, ops.exp(ops.where(others, d - second,
                                                       zero)), zero)
        sum_others = ops.sum(e_others, axis=axis, keepdims=True)
        log_rest = (second + ops.log(ops.where(has_others, sum_others,
                                               ops.ones_like(sum_others)))
                    - ops.log(norm))
        # A slice with a single item left has nothing else to give mass to:
        # its later steps are switched off below, keep `r` finite.
        log_rest = ops.where(has_others, log_rest, ops.zeros_like(log_rest))
        log1m_a = ops.where(is_top, log_rest + zero,
                            ops.log1p(-ops.where(is_top, zero, a)))
        # Slices with fewer than `step + 1` finite logits have run out.
        live = step < count
        total = total + ops.where(live, a, zero)
        if step + 1 < k:
            r = r + log1m_a
    return total
