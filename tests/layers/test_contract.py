"""The contract every layer of the package meets, on every backend.

One table, `CASES`, keyed by layer class name: each layer of
`keras_gumbel.layers.__all__` has at least one case (a test fails
otherwise), and each case runs

1. `keras_gumbel.testing.run_layer_test`: config round trip (every
   constructor argument in `get_config`, `from_config`, Keras
   (de)serialization), eager calls with `training` false and true (shape,
   `compute_output_shape`, dtype, finite values, weight counts), a symbolic
   call, one `fit` step whose gradient reaches the layer below, and the
   `mixed_float16` / `mixed_bfloat16` policies;
2. a `.keras` file round trip in safe mode (once per layer with a fixed
   and once with a learned temperature), after the temperature (or the
   learned raw temperature) was moved off its initial value: every weight,
   the config and the `predict` output come back identical (in "sample"
   mode too: the generator's state is saved with the model, so the reloaded
   model draws the same noise).

A layer's own test file holds only what is new about that layer. Adding a
layer: one line in `CASES`.
"""

import collections

import keras
import numpy as np
import pytest

import keras_gumbel as kg
from keras_gumbel import testing
from tests.backend_utils import to_numpy

Case = collections.namedtuple(
    "Case", ["kwargs", "input_shape", "output_shape", "own_weights"],
    defaults=[(3, 4, 5), None, 0])
Case.__doc__ = """A layer's constructor arguments, the input shape (batch
first), the output shape (`None`: the input's) and the number of the
layer's trainable weights besides a learned temperature."""

# The cases cover every inference mode, learned and fixed temperatures, the
# estimators and the axis arguments once each.
CASES = {
    "GumbelSoftmax": [
        Case({"temperature": 0.5, "seed": 1}),
        Case({"hard": True, "inference_mode": "argmax",
              "estimator": "gumbel_rao", "estimator_samples": 3, "seed": 2}),
        Case({"hard": True, "inference_mode": "softmax", "axis": 1,
              "estimator": "reinmax", "temperature": 2.0, "seed": 3}),
        Case({"hard": True, "learn_temperature": True, "seed": 4}, (4, 5)),
    ],
    "RelaxedBernoulli": [
        Case({"temperature": 0.5, "seed": 1}),
        Case({"hard": True, "inference_mode": "round",
              "learn_temperature": True, "seed": 2}),
        Case({"inference_mode": "sigmoid", "temperature": 2.0, "seed": 3},
             (4, 6)),
    ],
    "GumbelTopK": [
        Case({"k": 2, "temperature": 0.5, "seed": 1}),
        Case({"k": 3, "hard": True, "axis": 1, "inference_mode": "top_k",
              "learn_temperature": True, "seed": 2}, (3, 4, 5)),
    ],
    "ConcreteSelect": [
        Case({"units": 3, "seed": 1}, (4, 7), (4, 3), own_weights=1),
        Case({"units": 2, "temperature": 0.5, "learn_temperature": True},
             (4, 5, 7), (4, 5, 2), own_weights=1),
        Case({"units": 9, "distinct": False, "seed": 2}, (4, 7), (4, 9),
             own_weights=1),
    ],
    "HardConcreteGate": [
        Case({"l0_penalty": 0.01, "seed": 1}, own_weights=1),
        Case({"inference_mode": "sample", "learn_temperature": True,
              "limits": (-0.2, 1.3), "droprate_init": 0.2,
              "temperature": 0.5, "l0_penalty": 0.1, "seed": 2}, (4, 6),
             own_weights=1),
    ],
    "GumbelSinkhorn": [
        Case({"temperature": 0.5, "n_iters": 5, "seed": 1}, (4, 5, 5)),
        Case({"hard": True, "n_iters": 5, "inference_mode": "sinkhorn",
              "learn_temperature": True, "seed": 2}, (4, 5, 5)),
    ],
    "GumbelVectorQuantizer": [
        Case({"num_groups": 2, "num_vars": 8, "codevector_dim": 12,
              "seed": 1}, (4, 5, 16), (4, 5, 12), own_weights=3),
        Case({"num_groups": 2, "num_vars": 8, "codevector_dim": 12,
              "diversity_weight": 0.1, "temperature": 0.7,
              "learn_temperature": True, "seed": 2}, (4, 5, 16), (4, 5, 12),
             own_weights=3),
    ],
}

PARAMS = [pytest.param(name, case, id=f"{name}-{i}")
          for name, cases in CASES.items() for i, case in enumerate(cases)]


def test_every_layer_of_the_package_has_a_case():
    assert set(CASES) == set(kg.layers.__all__), (
        "add a line to CASES for each layer of keras_gumbel.layers.__all__: "
        f"missing {sorted(set(kg.layers.__all__) - set(CASES))}, "
        f"unknown {sorted(set(CASES) - set(kg.layers.__all__))}")


def _data(shape):
    return np.random.default_rng(0).normal(size=shape).astype("float32")


@pytest.mark.parametrize("name, case", PARAMS)
def test_layer_contract(name, case):
    layer_cls = getattr(kg.layers, name)
    learned = case.kwargs.get("learn_temperature", False)
    testing.run_layer_test(
        layer_cls, case.kwargs, _data(case.input_shape),
        expected_output_shape=case.output_shape,
        expected_num_trainable_weights=case.own_weights + learned,
        expected_num_non_trainable_weights=int(not learned))


# A `.keras` file per layer, with a fixed and with a learned temperature
# (the other cases' configs round trip in `run_layer_test`).
ROUND_TRIPS = [
    pytest.param(name, case, id=f"{name}-{i}")
    for name, cases in CASES.items()
    for i, case in enumerate(cases)
    if i == 0 or (case.kwargs.get("learn_temperature", False) and not any(
        c.kwargs.get("learn_temperature", False) for c in cases[:i]))]


@pytest.mark.parametrize("name, case", ROUND_TRIPS)
def test_keras_file_round_trip(name, case, tmp_path):
    layer = getattr(kg.layers, name)(**case.kwargs)
    inputs = keras.Input(case.input_shape[1:])
    model = keras.Model(inputs, layer(keras.layers.Dense(
        case.input_shape[-1])(inputs)))
    if layer.learn_temperature:
        layer.raw_temperature.assign(to_numpy(layer.raw_temperature) - 0.3)
    else:
        layer.set_temperature(0.37)
    temperature = to_numpy(layer.temperature)
    restored = testing.check_keras_file_round_trip(
        model, _data(case.input_shape), str(tmp_path / "model.keras"))
    restored_layer = restored.layers[-1]
    assert type(restored_layer) is type(layer)
    assert restored_layer.get_config() == layer.get_config()
    assert to_numpy(restored_layer.temperature) == temperature
