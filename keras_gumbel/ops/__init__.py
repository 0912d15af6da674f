"""Backend-neutral ops for Gumbel noise and discrete relaxations.

The ops take and return the tensors of the active Keras backend
(TensorFlow, JAX or PyTorch; NumPy input accepted). Every op takes `seed`:
`None` (fresh noise on every call; on TensorFlow also inside `tf.function`
and XLA; on JAX not possible inside `jit`), a Python int (the same noise on
every call), a shape-[2] integer tensor, a `keras.random.SeedGenerator`
(advances on every call) or, on TensorFlow, a `tf.random.Generator`.
"""

from keras_gumbel.ops.gumbel import gumbel_cdf, gumbel_log_prob, sample_gumbel
from keras_gumbel.ops.gumbel_max import gumbel_max
from keras_gumbel.ops.gumbel_softmax import (ESTIMATORS, gumbel_softmax,
                                             gumbel_softmax_log_prob)
from keras_gumbel.ops.hard_concrete import hard_concrete, hard_concrete_l0
from keras_gumbel.ops.kl import categorical_kl_uniform
from keras_gumbel.ops.log_space import (log_gumbel_softmax,
                                        log_gumbel_softmax_log_prob,
                                        logit_relaxed_bernoulli,
                                        logit_relaxed_bernoulli_log_prob)
from keras_gumbel.ops.matching import matching
from keras_gumbel.ops.relaxed_bernoulli import (relaxed_bernoulli,
                                                relaxed_bernoulli_log_prob)
from keras_gumbel.ops.sinkhorn import gumbel_sinkhorn, sinkhorn
from keras_gumbel.ops.straight_through import straight_through
from keras_gumbel.ops.subsets import gumbel_top_k, relaxed_top_k

__all__ = [
    "ESTIMATORS",
    "categorical_kl_uniform",
    "gumbel_cdf",
    "gumbel_log_prob",
    "gumbel_max",
    "gumbel_sinkhorn",
    "gumbel_softmax",
    "gumbel_softmax_log_prob",
    "gumbel_top_k",
    "hard_concrete",
    "hard_concrete_l0",
    "log_gumbel_softmax",
    "log_gumbel_softmax_log_prob",
    "logit_relaxed_bernoulli",
    "logit_relaxed_bernoulli_log_prob",
    "matching",
    "relaxed_bernoulli",
    "relaxed_bernoulli_log_prob",
    "relaxed_top_k",
    "sample_gumbel",
    "sinkhorn",
    "straight_through",
]
