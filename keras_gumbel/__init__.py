"""keras_gumbel: discrete latent variables you can backpropagate through.

Gumbel noise, the Gumbel-Max trick, the Gumbel-Softmax (Concrete)
relaxation, straight-through and better gradient estimators, as ops, Keras 3
layers, schedules and a temperature-annealing callback, on the TensorFlow,
JAX and PyTorch backends of Keras 3, with export to SavedModel, ONNX and
LiteRT.
"""

from keras_gumbel import callbacks, datasets, export, layers, ops, schedules

__version__ = "0.2.0"

__all__ = ["callbacks", "datasets", "export", "layers", "ops", "schedules"]
