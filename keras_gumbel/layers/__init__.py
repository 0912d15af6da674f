"""Keras 3 layers that sample discrete latent variables.

`GumbelSoftmax` (categorical, along an axis) and `RelaxedBernoulli`
(element-wise binary) drop into `Sequential`, functional and subclassed
models, are registered serializable under the package name `keras_gumbel`
and export to SavedModel.
"""

from keras_gumbel.layers.gumbel_softmax import GumbelSoftmax
from keras_gumbel.layers.relaxed_bernoulli import RelaxedBernoulli
from keras_gumbel.layers.vector_quantizer import GumbelVectorQuantizer

__all__ = ["GumbelSoftmax", "GumbelVectorQuantizer", "RelaxedBernoulli"]
