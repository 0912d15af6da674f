"""The `GumbelVectorQuantizer` layer: wav2vec 2.0's product quantizer."""

import keras
import numpy as np
from keras import ops

from keras_gumbel import _dtypes, _validation, backend
from keras_gumbel._messages import invalid
from keras_gumbel.layers._base import GumbelLayer
from keras_gumbel.layers._shapes import reshape_tail
from keras_gumbel.ops.gumbel_softmax import gumbel_softmax

__all__ = ["GumbelVectorQuantizer"]

#: Added to the marginal probabilities inside the log of the perplexity, as
#: in fairseq's wav2vec 2.0 (`log(p + 1e-7)`).
_PERPLEXITY_EPSILON = 1e-7


@keras.saving.register_keras_serializable(package="keras_gumbel")
class GumbelVectorQuantizer(GumbelLayer):
    """Product quantization with a straight-through Gumbel-Softmax.

    The quantizer of wav2vec 2.0 (Baevski et al. 2020): numerically the same
    as Hugging Face's `Wav2Vec2GumbelVectorQuantizer` given the same weights
    (up to the `1e-7` of the perplexity, see below). A Dense projection
    `weight_proj` maps each feature vector `x` (the last axis of the input)
    to `G * V` logits, `G = num_groups` groups of `V = num_vars`. Each group
    selects one of its `V` codevectors (rows of the weight `codevectors`, of
    size `codevector_dim // G`); the output is the concatenation of the `G`
    selected codevectors:
    ```
    logits[g] = (x @ kernel + bias)[g*V : (g+1)*V]           (float32)
    training:  d[g] = one_hot(argmax(logits[g] + gumbel))    (ST gradient of
                      softmax((logits[g] + gumbel) / temperature))
    inference: d[g] = one_hot(argmax(logits[g]))
    output = concat_g(d[g] @ codevectors[g*V : (g+1)*V])
    ```
    In training each group's output is exactly one codevector, drawn with
    probabilities `softmax(logits[g])`; the temperature only shapes the
    straight-through gradient. The codebook usage is measured by the
    perplexity, computed from `p = softmax(logits)` in training and from the
    one-hots `d` at inference, averaged over the positions (only the
    positions where `mask` is true):
    ```
    pbar[g] = mean over positions of p[g]
    perplexity = sum_g exp(-sum_v pbar[g, v] * log(pbar[g, v] + 1e-7))
    ```
    It lies in `[G, G * V]` (up to the `1e-7`). With `diversity_weight = w >
    0` the layer adds wav2vec 2.0's diversity loss in training (`add_loss`):
    ```
    loss = w * (G * V - perplexity) / (G * V)
    ```
    (fairseq's formula; Hugging Face's class now uses `xlogy(p, p)` instead
    of `p * log(p + 1e-7)`: the two perplexities differ by a relative amount
    below `V * 1e-7`.)

    The logits, the sampling and the perplexity are computed in float32
    (float64 for a float64 layer) under any dtype policy, as wav2vec 2.0
    does under mixed precision: the inputs arrive in the compute dtype (as
    Keras casts them) and `weight_proj` is a float32 layer; the
    codevectors are looked up in the layer's compute dtype, which is the
    output's dtype. The perplexity is always float32 (float64).

    The temperature is a scalar float32 variable (`set_temperature`,
    annealed by `keras_gumbel.callbacks.TemperatureScheduler`), or learned
    with `learn_temperature=True`. wav2vec 2.0 anneals it as
    `max(2 * 0.999995**step, 0.5)`, which is
    `keras_gumbel.schedules.ExponentialDecay(initial=2.0,
    rate=-math.log(0.999995), minimum=0.5)`.

    The weights are initialized as in wav2vec 2.0: kernel `N(0, 1)`, bias
    zero, codevectors `U(0, 1)`.

    Args:
      num_groups: int >= 1, the number of groups `G`.
      num_vars: int >= 1, the number of codevectors per group `V`.
      codevector_dim: int, the output size; a multiple of `num_groups`.
      temperature: initial temperature of the straight-through Gumbel-Softmax
        (a positive finite float; wav2vec 2.0 starts at 2).
      return_perplexity: whether the layer returns `(quantized, perplexity)`
        instead of `quantized`.
      diversity_weight: non-negative float `w`, the weight of the diversity
        loss added in training (0 adds none).
      learn_temperature: whether the temperature is a trainable weight.
      seed: int or None, the seed of the layer's noise.
      **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
      inputs: float tensor `[batch, ..., D]`.
      training: Python bool; `None` follows Keras (true inside `fit`).
      mask: optional bool tensor `[batch, ...]` (the input's shape without
        its last axis), from Keras masking or passed explicitly: positions
        where it is false are quantized but left out of the perplexity (and
        the diversity loss), like `mask_time_indices` in Hugging Face.

    Returns:
      `quantized`, `[batch, ..., codevector_dim]` in the compute dtype, or
      `(quantized, perplexity)` with a scalar perplexity when
      `return_perplexity=True`.

    Example:
    >>> import numpy as np
    >>> vq = GumbelVectorQuantizer(num_groups=2, num_vars=8,
    ...                            codevector_dim=16, return_perplexity=True)
    >>> q, perplexity = vq(np.ones((4, 10, 32), "float32"))  # [4, 10, 16]

    References:
      Baevski, Zhou, Mohamed, Auli. wav2vec 2.0: A Framework for
      Self-Supervised Learning of Speech Representations. NeurIPS 2020.
      Jang, Gu, Poole. Categorical Reparameterization with Gumbel-Softmax.
      ICLR 2017.
    """

    def __init__(self, num_groups, num_vars, codevector_dim, temperature=2.0,
                 return_perplexity=False, diversity_weight=0.0,
                 learn_temperature=False, seed=None, **kwargs):
        super().__init__(temperature=temperature,
                         learn_temperature=learn_temperature, seed=seed,
                         **kwargs)
        self.num_groups = _validation.check_int(num_groups, "num_groups",
                                                minimum=1)
        self.num_vars = _validation.check_int(num_vars, "num_vars", minimum=1)
        self.codevector_dim = _validation.check_int(
            codevector_dim, "codevector_dim", minimum=1)
        if self.codevector_dim % self.num_groups:
            raise ValueError(invalid(
                "codevector_dim", f"a multiple of num_groups={num_groups} "
                "(the output concatenates one codevector per group)",
                codevector_dim))
        self.return_perplexity = _validation.check_bool(
            return_perplexity, "return_perplexity")
        self.diversity_weight = _validation.check_float(
            diversity_weight, "diversity_weight", minimum=0.0)
        # wav2vec 2.0 computes the logits in float32 under mixed precision.
        self._logits_dtype = _dtypes.compute_dtype(self.compute_dtype)
        self.weight_proj = keras.layers.Dense(
            self.num_groups * self.num_vars,
            kernel_initializer=keras.initializers.RandomNormal(0.0, 1.0),
            bias_initializer="zeros", dtype=self._logits_dtype,
            name="weight_proj")

    @property
    def codevector_size(self):
        """The size of one codevector, `codevector_dim // num_groups`."""
        return self.codevector_dim // self.num_groups

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(invalid(
                "inputs", "a tensor [batch, ..., features] of rank >= 2 with "
                "a known last dimension", f"<shape {input_shape}>"))
        self.weight_proj.build(input_shape)
        self.codevectors = self.add_weight(
            name="codevectors",
            shape=(self.num_groups * self.num_vars, self.codevector_size),
            initializer=keras.initializers.RandomUniform(0.0, 1.0),
            trainable=True)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        g, v = self.num_groups, self.num_vars
        ldt = self._logits_dtype
        if mask is not None:
            mask = ops.convert_to_tensor(mask)
            lead = tuple(inputs.shape[:-1])
            if len(mask.shape) != len(lead) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(mask.shape, lead)):
                raise ValueError(invalid(
                    "mask", f"a bool tensor of shape {lead} (the input's "
                    f"shape without its last axis)",
                    f"<tensor of shape {tuple(mask.shape)}>"))
        logits = self.weight_proj(ops.cast(inputs, ldt))
        logits = reshape_tail(logits, 1, (g, v))  # [..., G, V]
        axis = len(logits.shape) - 1
        add_diversity = bool(training) and self.diversity_weight > 0
        # Computed only when returned or used by the diversity loss.
        perplexity = None
        if training:
            onehot = gumbel_softmax(logits, self.temperature, hard=True,
                                    axis=axis, seed=self.seed_generator)
            if self.return_perplexity or add_diversity:
                perplexity = self._perplexity(
                    ops.softmax(logits, axis=-1), mask)
        else:
            onehot = backend.one_hot_argmax(logits, axis, ldt)
            if self.return_perplexity:
                perplexity = self._perplexity(onehot, mask)
        codebook = ops.reshape(ops.cast(self.codevectors, self.compute_dtype),
                               (g, v, self.codevector_size))
        # An exact lookup: one 1 and zeros times the codebook, summed. A
        # batched matmul over the groups ([G, N, V] @ [G, V, d]): TF's
        # gradient of the equivalent einsum "...gv,gvd->...gd" is ~100x
        # slower.
        flat = ops.transpose(
            ops.reshape(ops.cast(onehot, self.compute_dtype), (-1, g, v)),
            (1, 0, 2))
        quantized = ops.transpose(ops.matmul(flat, codebook), (1, 0, 2))
        quantized = reshape_tail(quantized, 2, (self.codevector_dim,),
                                  like=logits)
        if add_diversity:
            total = float(g * v)
            self.add_loss(self.diversity_weight * (total - perplexity) / total)
        if self.return_perplexity:
            return quantized, perplexity
        return quantized

    def _logits(self, inputs):
        """The `[..., G, V]` logits of the groups (float32, or float64)."""
        logits = self.weight_proj(ops.cast(inputs, self._logits_dtype))
        return reshape_tail(logits, 1, (self.num_groups, self.num_vars))

    def _check_built(self, what):
        if not self.built:
            raise ValueError(
                f"Layer {self.name!r} is not built yet: call it on data (or "
                f"build it) before asking for its {what}.")

    def code_indices(self, inputs):
        """The indices of the codes the layer picks at inference.

        `argmax` of each group's logits: the codes whose codevectors make up
        `layer(inputs, training=False)`, so that
        `lookup(code_indices(x))` equals it exactly. Use them to store the
        codes, count their usage, or feed them to a prior.

        Args:
          inputs: float tensor `[batch, ..., D]`, as for `call`.

        Returns:
          int32 tensor `[batch, ..., num_groups]` with values in
          `[0, num_vars)`.

        Example:
        >>> import numpy as np
        >>> vq = GumbelVectorQuantizer(num_groups=2, num_vars=8,
        ...                            codevector_dim=16)
        >>> x = np.ones((4, 10, 32), "float32")
        >>> codes = vq.code_indices(x)  # [4, 10, 2], builds the layer
        >>> q = vq.lookup(codes)  # [4, 10, 16], equal to vq(x)
        """
        inputs = ops.convert_to_tensor(inputs)
        if not self.built:
            self.build(inputs.shape)
        return ops.cast(ops.argmax(self._logits(inputs), axis=-1), "int32")

    def lookup(self, indices):
        """The codevectors of given code indices, concatenated over groups.

        Args:
          indices: int tensor `[..., num_groups]`, one index in
            `[0, num_vars)` per group (checked when the values are known
            statically, e.g. NumPy input).

        Returns:
          A tensor `[..., codevector_dim]` in the layer's compute dtype: for
          the layer's own `code_indices(x)`, exactly its inference output
          `layer(x, training=False)`.
        """
        self._check_built("codevectors")
        indices = ops.convert_to_tensor(indices)
        if _dtypes.dtype_of(indices) not in ("int8", "int16", "int32",
                                             "int64", "uint8", "uint16",
                                             "uint32"):
            raise TypeError(invalid(
                "indices", "an integer tensor",
                f"<tensor of dtype {_dtypes.dtype_of(indices)}>"))
        shape = tuple(indices.shape)
        if not shape or shape[-1] != self.num_groups:
            raise ValueError(invalid(
                "indices", f"a tensor [..., num_groups={self.num_groups}]",
                f"<tensor of shape {shape}>"))
        static = backend.static_value(indices)
        if static is not None and (np.any(np.asarray(static) < 0) or np.any(
                np.asarray(static) >= self.num_vars)):
            raise ValueError(invalid(
                "indices", f"values in [0, num_vars={self.num_vars})",
                f"<values in [{np.min(static)}, {np.max(static)}]>"))
        offsets = ops.arange(self.num_groups, dtype="int32") * self.num_vars
        rows = ops.reshape(ops.cast(indices, "int32") + offsets, (-1,))
        codebook = ops.cast(self.codevectors, self.compute_dtype)
        vectors = ops.take(codebook, rows, axis=0)  # [N * G, size]
        return reshape_tail(vectors, 1, (self.codevector_dim,), like=indices)

    def _perplexity(self, probs, mask):
        """`sum_g exp(entropy(mean of probs over the (masked) positions))`."""
        g, v = self.num_groups, self.num_vars
        flat = ops.reshape(probs, (-1, g, v))
        if mask is None:
            marginal = ops.mean(flat, axis=0)
        else:
            keep = ops.reshape(ops.cast(mask, "bool"), (-1, 1, 1))
            flat = ops.where(keep, flat, ops.zeros_like(flat))
            count = ops.sum(ops.cast(keep, flat.dtype))
            # No position kept: zero marginals, perplexity G (not NaN).
            marginal = ops.sum(flat, axis=0) / ops.maximum(count, 1.0)
        entropy = -ops.sum(
            marginal * ops.log(marginal + _PERPLEXITY_EPSILON), axis=-1)
        return ops.sum(ops.exp(entropy))

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)[:-1] + (self.codevector_dim,)
        if self.return_perplexity:
            return shape, ()
        return shape

    def compute_output_spec(self, inputs, training=None, mask=None):
        shape = self.compute_output_shape(inputs.shape)
        if not self.return_perplexity:
            return keras.KerasTensor(shape, dtype=self.compute_dtype)
        return (keras.KerasTensor(shape[0], dtype=self.compute_dtype),
                keras.KerasTensor((), dtype=self._logits_dtype))

    def compute_mask(self, inputs, mask=None):
        if self.return_perplexity:
            return mask, None
        return mask

    def get_config(self):
        config = super().get_config()
        config.update({
            "num_groups": self.num_groups,
            "num_vars": self.num_vars,
            "codevector_dim": self.codevector_dim,
            "return_perplexity": self.return_perplexity,
            "diversity_weight": self.diversity_weight,
        })
        return config
