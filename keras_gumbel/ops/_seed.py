"""Turns the `seed` argument of every op into the backend's seed.

See `keras_gumbel.backend`: a shape-[2] int64 tensor on TensorFlow and
PyTorch, a `uint32[2]` key on JAX.
"""

from keras_gumbel import backend


def stateless_seed(seed):
    """The backend seed for `seed`.

    Args:
      seed: `None` (fresh randomness on every call; on TensorFlow also on
        every call of a `tf.function` or XLA-compiled function), a Python int
        (the same noise every call), a shape-[2] integer tensor, a
        `keras.random.SeedGenerator` (advances on every call) or, on
        TensorFlow, a `tf.random.Generator`.
    """
    return backend.draw_seed(seed)
