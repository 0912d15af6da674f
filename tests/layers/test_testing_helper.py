"""Tests for keras_gumbel.testing: each check catches the defect it names."""

import keras
import numpy as np
import pytest

from keras_gumbel import testing
from keras_gumbel.layers import GumbelSoftmax

X = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")


@keras.saving.register_keras_serializable(package="keras_gumbel_tests")
class Scale(keras.layers.Layer):
    """`scale * x`, with switchable defects."""

    def __init__(self, scale=2.0, defect=None, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.defect = defect

    def call(self, inputs):
        if self.defect == "float32_output":
            return keras.ops.cast(inputs, "float32") * self.scale
        if self.defect == "no_gradient":
            return keras.ops.stop_gradient(inputs) * self.scale
        return inputs * self.scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["defect"] = self.defect
        if self.defect != "config":
            config["scale"] = self.scale
        return config


def test_correct_layer_passes():
    testing.run_layer_test(Scale, {"scale": 3.0}, X,
                           expected_num_trainable_weights=0)


@pytest.mark.parametrize("defect, kwargs, message", [
    ("config", {}, "get_config() lacks argument `scale`"),
    ("float32_output", {"run_training_check": False}, "output dtype"),
    ("no_gradient", {"run_precision_check": False}, "no gradient reached"),
])
def test_defects_are_caught(defect, kwargs, message):
    with pytest.raises(AssertionError, match=message.replace("(", r"\(")
                       .replace(")", r"\)")):
        testing.run_layer_test(Scale, {"scale": 3.0, "defect": defect}, X,
                               **kwargs)


def test_wrong_expectations_are_caught():
    with pytest.raises(AssertionError, match="number of trainable weights"):
        testing.run_layer_test(Scale, {}, X, expected_num_trainable_weights=1,
                               run_training_check=False,
                               run_precision_check=False)
    with pytest.raises(AssertionError, match="output shape"):
        testing.run_layer_test(Scale, {}, X, expected_output_shape=(4, 2),
                               run_training_check=False,
                               run_precision_check=False)


def test_keras_file_round_trip_catches_random_outputs(tmp_path):
    # seed=None: the reloaded layer draws a new seed, so the outputs differ.
    model = keras.Sequential([keras.Input((3,)), GumbelSoftmax()])
    with pytest.raises(AssertionError, match="outputs differ"):
        testing.check_keras_file_round_trip(model, X,
                                            str(tmp_path / "m.keras"))


def test_global_policy_restores_after_errors():
    with pytest.raises(RuntimeError):
        with testing.global_policy("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == "float32"
