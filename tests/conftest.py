"""The suite runs once per Keras backend (`KERAS_BACKEND=tensorflow|jax|torch`).

One backend gate: the `backends` marker. A test (or a module, with
`pytestmark = pytest.mark.backends("tensorflow")`) marked with backend names
runs only on those backends; it is reported as skipped on the others. Only
tests of a backend itself carry it (TFP as the reference, `tf.function`/XLA,
SavedModel, `tf.distribute`, TF's exact Philox streams and memory use);
everything else runs on every backend.
"""

import keras
import pytest

BACKEND = keras.backend.backend()


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("backends")
        if marker is not None and BACKEND not in marker.args:
            item.add_marker(pytest.mark.skip(
                reason=f"tests {', '.join(marker.args)} itself"))
