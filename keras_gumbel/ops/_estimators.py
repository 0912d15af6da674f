"""Gradient estimators for hard Gumbel-Softmax samples: Gumbel-Rao, ReinMax.

Both return the exact one-hot sample `D = one_hot(argmax(logits + g))` in the
forward pass, drawn with the same Gumbel noise `g` as the straight-through
estimator (so the same seed gives the same sample for every estimator), and
differ only in the gradient they pass to the logits. `gumbel_softmax(...,
hard=True, estimator=...)` is the public entry point; the functions here take
the logits already converted to the compute dtype and the normalized axis.

References:
  Paulus, Maddison, Krause. Rao-Blackwellizing the Straight-Through
  Gumbel-Softmax Gradient Estimator. ICLR 2021.
  Liu, Zhao, Shang, Yu, Chen, Gao. Bridging Discrete and Backpropagation:
  Straight-Through and Beyond. NeurIPS 2023.
"""

from keras import ops

from keras_gumbel import backend
from keras_gumbel._dtypes import dtype_of
from keras_gumbel.ops._gradients import softmax_vjp, temperature_vjp


def hard_sample(x, g, tau, tau_is_number, axis, seed, estimator, samples):
    """`one_hot(argmax(x + g))` with the gradient of `estimator`.

    Args:
      x: logits in the compute dtype (float32 or float64).
      g: the standard Gumbel noise of the forward sample, like `x`.
      tau: the temperature: a Python float, or a tensor shaped to broadcast
        against `x` (size 1 at `axis`).
      tau_is_number: whether `tau` is a Python float.
      axis: the non-negative category axis.
      seed: the backend seed that produced `g`; Gumbel-Rao derives its
        conditional noise from it.
      estimator: `"gumbel_rao"` or `"reinmax"`.
      samples: the number of conditional draws for `"gumbel_rao"`.

    Returns:
      The exact one-hot sample, dtype of `x`.
    """
    d = backend.one_hot_argmax(x + g, axis, dtype_of(x))
    if estimator == "gumbel_rao":
        # A seed derived deterministically from the sample's seed (hashed,
        # not added: see `keras_gumbel.backend`).
        noise_seed = backend.fold_in(seed, 1)
        return gumbel_rao(x, d, tau, tau_is_number, axis, noise_seed, samples)
    if estimator == "reinmax":
        return reinmax(x, d, tau, axis)
    raise ValueError(f"Unknown estimator {estimator!r}.")


def conditional_gumbel(x, d, axis, samples, seed):
    """`samples` Gumbel noise vectors `G` with `argmax(x + G) = argmax(d)`.

    The exact conditional law (the "top-down" construction of Maddison et al.
    2014, used by Paulus et al. 2021, Appendix): with `E ~ Exp(1)` i.i.d.,
    `pi = softmax(x)` and `i` the sampled index,
    ```
    G_i = -log(E_i) - log(pi_i)                 (so x_i + G_i ~ Gumbel(logZ))
    G_j = -log(E_j + E_i * pi_j),  j != i       (x_j + G_j truncated below it)
    ```
    `log(pi_i)` comes from `log_softmax` and `pi` from `softmax`, never from
    `exp(x)`, so large logits do not overflow; `E_j + E_i * pi_j >= E_j > 0`,
    so every `G_j` is finite, also for `-inf` logits (`G_j = -log E_j`).
    Where `pi_j` underflows to 0 the true value differs from `-log E_j` by
    less than float rounding.

    Args:
      x: logits, float32 or float64, with `d` a one-hot tensor like `x`.
      axis: the non-negative category axis of `x`.
      samples: K, the number of draws, stacked on a new leading axis.
      seed: a backend seed.

    Returns:
      A finite tensor of shape `[K] + shape(x)`, dtype of `x`.
    """
    shape = backend.shape_of(x, leading=(samples,))
    # E = -log(u) with u in [tiny, 1): 0 < E <= 88 (float32), log(E) finite.
    e = -ops.log(backend.uniform(shape, seed, dtype_of(x)))
    top = d > 0
    e_top = ops.sum(ops.where(top, e, 0.0), axis + 1, keepdims=True)
    log_pi_top = ops.sum(
        ops.where(top, ops.log_softmax(x, axis=axis), 0.0), axis,
        keepdims=True)
    g_top = -ops.log(e_top) - log_pi_top
    return ops.where(top, g_top,
                     -ops.log(e + e_top * ops.softmax(x, axis=axis)))


def gumbel_rao(x, d, tau, tau_is_number, axis, seed, samples):
    """Gumbel-Rao Monte Carlo (GR-MC K): `d` forward, averaged ST backward.

    ```
    forward:  D
    backward: d/dx mean_k softmax((x + G_k) / tau),   G_k ~ Gumbel | argmax = D
    ```
    The conditional noise `G_k` is a constant for backprop (as in the
    authors' code). The backward pass keeps the K relaxed samples `y_k` (it
    needs them) and `tau`; with upstream gradient `u`:
    ```
    dx   = mean_k y_k * (u - sum(y_k * u)) / tau
    dtau = -mean_k sum(y_k log(y_k) * (u - sum(y_k * u))) / tau
    ```
    (`s_k = (x + G_k) / tau = log(y_k) + const` and the centred factor sums
    to zero against `y_k`, so the constant drops out.)

    Args:
      x: logits in the compute dtype; `d` the one-hot sample, like `x`.
      tau: Python float, or a tensor with size 1 at `axis`.
      tau_is_number: whether `tau` is a Python float (then no `dtau`).
      axis: the non-negative category axis.
      seed: stateless seed of the conditional noise.
      samples: K >= 1.

    Returns:
      `d`, with the Gumbel-Rao gradient to `x` (and `tau`).
    """
    k_axis = axis + 1

    def relaxed(x, inv_tau):
        noise = conditional_gumbel(x, d, axis, samples, seed)
        return ops.softmax((x + noise) * inv_tau, axis=k_axis)

    if tau_is_number:
        inv_tau = 1.0 / tau

        @backend.custom_gradient
        def sample(x):
            y = relaxed(x, inv_tau)

            def grad(upstream):
                ds, _ = softmax_vjp(y, upstream, k_axis)
                return ops.mean(ds, 0) * inv_tau

            return ops.copy(d), grad

        return sample(x)

    @backend.custom_gradient
    def sample_with_tau(x, tau):
        y = relaxed(x, 1.0 / tau)

        def grad(upstream):
            ds, centred = softmax_vjp(y, upstream, k_axis)
            dtau = ops.mean(temperature_vjp(y, centred, k_axis, tau), 0)
            return ops.mean(ds, 0) / tau, backend.sum_to_shape(dtau, tau)

        return ops.copy(d), grad

    return sample_with_tau(x, tau)


def reinmax(x, d, tau, axis):
    """ReinMax (Liu et al. 2023): `d` forward, a second-order gradient.

    With upstream gradient `u` and `J(p)(v) = p * v - p * sum(p * v)` (the
    softmax Jacobian at `p` applied to `v`):
    ```
    pi0 = softmax(x),   pi1 = (softmax(x / tau) + D) / 2
    dx  = J(pi1)(2 u) + J(pi0)(-u / 2)
    ```
    Both terms sum to zero along `axis`, so `dx` is centred by construction;
    the authors' code also subtracts the mean, which here would give a
    non-zero gradient to `-inf` logits, so it is left out. The gradient does
    not reach the temperature. The backward pass keeps only `x`, `D` and
    `tau`, and computes the two softmaxes when it runs.

    Args:
      x: logits in the compute dtype; `d` the one-hot sample, like `x`.
      tau: Python float, or a tensor with size 1 at `axis`.
      axis: the non-negative category axis.

    Returns:
      `d`, with the ReinMax gradient to `x`.
    """
    if not isinstance(tau, float):
        tau = ops.stop_gradient(tau)

    def jacobian_product(p, v):
        pv = p * v
        return pv - p * ops.sum(pv, axis, keepdims=True)

    @backend.custom_gradient
    def sample(x):
        def grad(upstream):
            pi0 = ops.softmax(x, axis=axis)
            pi1 = 0.5 * (ops.softmax(x / tau, axis=axis) + d)
            return (jacobian_product(pi1, 2.0 * upstream)
                    + jacobian_product(pi0, -0.5 * upstream))

        return ops.copy(d), grad

    return sample(x)
