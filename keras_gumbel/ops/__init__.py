"""Pure-TensorFlow ops for Gumbel noise and discrete relaxations.

Every op takes `seed`: `None` (fresh noise on every call, also inside
`tf.function` and XLA), a Python int (the same noise on every call), a
shape-[2] integer tensor (a TF stateless seed), or a
`keras.random.SeedGenerator` (advances on every call).
"""

from keras_gumbel.ops.gumbel import gumbel_cdf, gumbel_log_prob, sample_gumbel
from keras_gumbel.ops.gumbel_max import gumbel_max
from keras_gumbel.ops.gumbel_softmax import (ESTIMATORS, gumbel_softmax,
                                             gumbel_softmax_log_prob)
from keras_gumbel.ops.kl import categorical_kl_uniform
from keras_gumbel.ops.relaxed_bernoulli import (relaxed_bernoulli,
                                                relaxed_bernoulli_log_prob)
from keras_gumbel.ops.straight_through import straight_through

__all__ = [
    "ESTIMATORS",
    "categorical_kl_uniform",
    "gumbel_cdf",
    "gumbel_log_prob",
    "gumbel_max",
    "gumbel_softmax",
    "gumbel_softmax_log_prob",
    "relaxed_bernoulli",
    "relaxed_bernoulli_log_prob",
    "sample_gumbel",
    "straight_through",
]
