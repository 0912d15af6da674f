"""Keras 3 layers that sample discrete latent variables.

`GumbelSoftmax` (categorical, along an axis), `RelaxedBernoulli`
(element-wise binary), `GumbelTopK` (k-subsets), `GumbelSinkhorn`
(permutations), `ConcreteSelect` (learned feature selection),
`GumbelVectorQuantizer` (wav2vec 2.0's product quantizer) and
`HardConcreteGate` (L0-sparse feature gates) drop into `Sequential`,
functional and subclassed models, are registered serializable under the
package name `keras_gumbel`, run on every Keras backend and export to
SavedModel (ONNX and LiteRT: `keras_gumbel.export`).
"""

from keras_gumbel.layers.concrete_select import ConcreteSelect
from keras_gumbel.layers.gumbel_sinkhorn import GumbelSinkhorn
from keras_gumbel.layers.gumbel_softmax import GumbelSoftmax
from keras_gumbel.layers.gumbel_top_k import GumbelTopK
from keras_gumbel.layers.hard_concrete_gate import HardConcreteGate
from keras_gumbel.layers.relaxed_bernoulli import RelaxedBernoulli
from keras_gumbel.layers.vector_quantizer import GumbelVectorQuantizer

__all__ = ["ConcreteSelect", "GumbelSinkhorn", "GumbelSoftmax", "GumbelTopK",
           "GumbelVectorQuantizer", "HardConcreteGate", "RelaxedBernoulli"]
