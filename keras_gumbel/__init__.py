"""keras_gumbel: Gumbel-Softmax and discrete latent variables for TF/Keras 3."""

from keras_gumbel import ops
from keras_gumbel import layers
from keras_gumbel import schedules
from keras_gumbel import callbacks
from keras_gumbel import export

__version__ = "0.1.0"
