"""The suite runs once per Keras backend (`KERAS_BACKEND=tensorflow|jax|torch`).

The files below test TensorFlow itself as much as the package: TFP as the
reference, `tf.function`/XLA modes, SavedModel export, `tf.distribute`,
TF's exact Philox streams, its memory use. They run on the TensorFlow
backend only; the laws they check on TF are checked on every backend by the
backend-neutral files (test_laws.py, test_backend_layers.py, ...).
"""

import keras

TF_ONLY = [
    "test_docs.py",
    "test_estimators.py",
    "test_example_vae.py",
    "test_export.py",
    "test_gumbel.py",
    "test_gumbel_max.py",
    "test_gumbel_softmax.py",
    "test_kl.py",
    "test_layers_gumbel_softmax.py",
    "test_layers_relaxed_bernoulli.py",
    "test_numerics.py",
    "test_relaxed_bernoulli.py",
    "test_seed.py",
    "test_speed_memory.py",
    "test_straight_through.py",
]

if keras.backend.backend() != "tensorflow":
    collect_ignore = TF_ONLY
