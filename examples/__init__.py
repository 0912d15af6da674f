"""Runnable examples of keras_gumbel; run each as a module from the
repository root, for example `python -m examples.categorical_vae`.

The modules they share (and `benchmarks.paper_vae` reuses): `cli` (argument
types, data and output options, one-line errors), `vae_model` (the
categorical VAE and its negative ELBO), `training` (`fit` with annealing,
TensorBoard callbacks), `plotting` and `exporting` (serving models,
SavedModels and the serving check).
"""

import os

# On CPU-only machines TensorFlow's C++ start-up logs an error line about CUDA
# ("failed call to cuInit: ... UNKNOWN ERROR (303)"): harmless, but it alarms
# newcomers. It is an ERROR-level line, so only level 3 hides it (measured
# with TF 2.21: level 2 does not). Set before TensorFlow is imported, unless
# the user chose a level (TF_CPP_MIN_LOG_LEVEL=0 shows everything). Lines TF
# logs before its logging is initialised ("Could not find cuda drivers",
# "oneDNN custom operations") ignore the level; they are harmless too.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
