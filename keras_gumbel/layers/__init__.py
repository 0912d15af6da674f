"""Keras 3 layers that sample discrete latent variables.

`GumbelSoftmax` (categorical, along an axis), `RelaxedBernoulli`
(element-wise binary), `GumbelTopK` (k-subsets) and `ConcreteSelect`
(learned feature selection) drop into `Sequential`, functional and subclassed
models, are registered serializable under the package name `keras_gumbel`
and export to SavedModel.
"""

from keras_gumbel.layers.concrete_select import ConcreteSelect
from keras_gumbel.layers.gumbel_softmax import GumbelSoftmax
from keras_gumbel.layers.gumbel_top_k import GumbelTopK
from keras_gumbel.layers.relaxed_bernoulli import RelaxedBernoulli

__all__ = ["ConcreteSelect", "GumbelSoftmax", "GumbelTopK", "RelaxedBernoulli"]
