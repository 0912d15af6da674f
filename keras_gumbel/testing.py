"""A test helper for Keras layers: `run_layer_test`.

Keras' own `run_layer_test` lives in the private `keras.src` package; this is
the small public equivalent that the package's tests (and users writing their
own layers on top of keras_gumbel) can rely on. It raises `AssertionError`
with a message naming the failed check, so it works with pytest, unittest or
plain scripts.
"""

import contextlib
import json

import keras
import numpy as np

__all__ = ["PRECISION_POLICIES", "check_keras_file_round_trip",
           "global_policy", "run_layer_test", "serve_twice_from_saved_model"]

PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16")
"""The mixed-precision policies `run_layer_test` checks."""


def run_layer_test(layer_cls, init_kwargs, input_data, *,
                   expected_output_shape=None,
                   expected_num_trainable_weights=None,
                   expected_num_non_trainable_weights=None,
                   run_training_check=True, jit_compile=False,
                   expect_gradient=True, run_precision_check=True):
    """Checks the contract every Keras layer should meet.

    1. Config: `get_config()` holds every constructor argument with its
       value, is JSON-serializable, and survives `from_config` and
       `keras.saving.serialize_keras_object` / `deserialize_keras_object`
       (which needs the class to be registered serializable).
    2. Eager call with `training=False` and `training=True`: output shape
       (equal to `compute_output_shape`), dtype (the layer's compute dtype),
       finite values, weight counts.
    3. Symbolic call on a `keras.Input` with a `None` batch dimension.
    4. One `fit` step of `Input -> Dense -> layer`, with `jit_compile` as
       given: the loss is finite and, with `expect_gradient`, the Dense
       kernel changes (gradients pass through the layer).
    5. Precision loop: for `mixed_float16` and `mixed_bfloat16` (passed as
       the layer's `dtype`, so the global policy is untouched) the output
       has the compute dtype, is finite, and every weight is float32.

    Args:
      layer_cls: the layer class.
      init_kwargs: dict of constructor arguments.
      input_data: a NumPy array (batch first) to call the layer on.
      expected_output_shape: full output shape; defaults to the input shape.
      expected_num_trainable_weights: int or None (not checked).
      expected_num_non_trainable_weights: int or None (not checked).
      run_training_check: whether to run step 4.
      jit_compile: passed to `model.compile` in step 4.
      expect_gradient: whether step 4 checks that gradients flow.
      run_precision_check: whether to run step 5.

    Raises:
      AssertionError: naming the check that failed.

    Example:
    >>> run_layer_test(keras_gumbel.layers.GumbelSoftmax, {"hard": True},
    ...                np.zeros((2, 5), "float32"))
    """
    input_data = np.asarray(input_data)
    input_shape = tuple(input_data.shape)
    if expected_output_shape is None:
        expected_output_shape = input_shape
    expected_output_shape = tuple(expected_output_shape)

    _check_config(layer_cls, init_kwargs)

    layer = layer_cls(**init_kwargs)
    for training in (False, True):
        output = layer(input_data, training=training)
        where = f"eager call, training={training}"
        _check_output(output, expected_output_shape, layer.compute_dtype,
                      where)
    _check_equal(tuple(layer.compute_output_shape(input_shape)),
                 expected_output_shape, "compute_output_shape")
    if expected_num_trainable_weights is not None:
        _check_equal(len(layer.trainable_weights),
                     expected_num_trainable_weights,
                     "number of trainable weights")
    if expected_num_non_trainable_weights is not None:
        _check_equal(len(layer.non_trainable_weights),
                     expected_num_non_trainable_weights,
                     "number of non-trainable weights")

    symbolic_input = keras.Input(shape=input_shape[1:])
    symbolic_output = layer_cls(**init_kwargs)(symbolic_input)
    _check_equal(tuple(symbolic_output.shape),
                 (None,) + expected_output_shape[1:], "symbolic output shape")

    if run_training_check:
        _check_fit_step(layer_cls, init_kwargs, input_data,
                        expected_output_shape, jit_compile, expect_gradient)
    if run_precision_check:
        for policy in PRECISION_POLICIES:
            _check_precision(layer_cls, init_kwargs, input_data,
                             expected_output_shape, policy)


def _check_equal(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected}, got {actual}")


def _check_output(output, expected_shape, expected_dtype, where):
    _check_equal(tuple(output.shape), expected_shape,
                 f"output shape ({where})")
    _check_equal(keras.backend.standardize_dtype(output.dtype),
                 keras.backend.standardize_dtype(expected_dtype),
                 f"output dtype ({where})")
    values = keras.ops.convert_to_numpy(keras.ops.cast(output, "float32"))
    if not np.all(np.isfinite(values)):
        raise AssertionError(f"non-finite output ({where}): {values}")


def _check_config(layer_cls, init_kwargs):
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    for name, value in init_kwargs.items():
        if name not in config:
            raise AssertionError(f"get_config() lacks argument `{name}`")
        if name != "dtype":
            _check_equal(config[name], value, f"get_config()[{name!r}]")
    try:
        json.dumps(config)
    except TypeError as error:
        raise AssertionError(f"get_config() is not JSON-serializable: "
                             f"{error}") from error
    _check_equal(layer_cls.from_config(config).get_config(), config,
                 "config after from_config")
    serialized = keras.saving.serialize_keras_object(layer)
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(serialized)))
    _check_equal(type(restored), layer_cls, "deserialized class")
    _check_equal(restored.get_config(), config,
                 "config after serialize/deserialize")


def _check_fit_step(layer_cls, init_kwargs, input_data, expected_shape,
                    jit_compile, expect_gradient):
    features = input_data.shape[-1]
    inputs = keras.Input(shape=input_data.shape[1:])
    dense = keras.layers.Dense(features)
    outputs = layer_cls(**init_kwargs)(dense(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse",
                  jit_compile=jit_compile)
    kernel_before = keras.ops.convert_to_numpy(dense.kernel).copy()
    rng = np.random.default_rng(0)
    target = rng.uniform(size=expected_shape).astype("float32")
    try:
        history = model.fit(input_data.astype("float32"), target,
                            batch_size=len(input_data), epochs=1, verbose=0)
    except (ValueError, RuntimeError) as error:
        # Keras says "No gradients provided" (TF, JAX); torch's autograd
        # says the loss "does not require grad".
        if expect_gradient and ("No gradients provided" in str(error)
                                or "does not require grad" in str(error)):
            raise AssertionError("fit step: no gradient reached the Dense "
                                 "layer before the tested layer") from error
        raise
    loss = history.history["loss"][-1]
    if not np.isfinite(loss):
        raise AssertionError(f"fit step gave a non-finite loss: {loss}")
    if expect_gradient:
        kernel_after = keras.ops.convert_to_numpy(dense.kernel)
        if np.array_equal(kernel_before, kernel_after):
            raise AssertionError("fit step: no gradient reached the Dense "
                                 "layer before the tested layer")


def _check_precision(layer_cls, init_kwargs, input_data, expected_shape,
                     policy_name):
    policy = keras.DTypePolicy(policy_name)
    layer = layer_cls(**{**init_kwargs, "dtype": policy_name})
    for training in (False, True):
        output = layer(input_data, training=training)
        _check_output(output, expected_shape, policy.compute_dtype,
                      f"{policy_name}, training={training}")
    for weight in layer.weights:
        _check_equal(keras.backend.standardize_dtype(weight.dtype),
                     policy.variable_dtype,
                     f"dtype of weight {weight.path!r} under {policy_name}")


@contextlib.contextmanager
def global_policy(name):
    """Sets Keras' global dtype policy for a `with` block, then restores it.

    Example:
    >>> with global_policy("mixed_float16"):
    ...     layer = keras_gumbel.layers.GumbelSoftmax()  # float16 compute
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def check_keras_file_round_trip(model, input_data, path):
    """Saves `model` to a `.keras` file, reloads it and compares.

    Reloads with `safe_mode=True` (no lambdas or unregistered classes), checks
    that every weight (including a layer's temperature) is restored exactly
    and that `predict` gives identical outputs, which requires the model to
    be deterministic at inference.

    Returns:
      The reloaded model.
    """
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    _check_equal(len(restored.weights), len(model.weights),
                 "number of weights after reload")
    for before, after in zip(model.weights, restored.weights):
        if not np.array_equal(keras.ops.convert_to_numpy(before),
                              keras.ops.convert_to_numpy(after)):
            raise AssertionError(f"weight {before.path!r} changed on reload")
    expected = model.predict(input_data, verbose=0)
    actual = restored.predict(input_data, verbose=0)
    if not np.array_equal(expected, actual):
        raise AssertionError("outputs differ after a .keras round trip")
    return restored


def serve_twice_from_saved_model(model, input_data, path):
    """Exports `model` with `tf.saved_model.save`, serves `input_data` twice.

    Checks that the export succeeds (every resource the serving function
    captures, such as a layer's random state, is tracked) and that the
    reloaded `serving_default` signature runs on a batch of any size.

    Returns:
      The two outputs, as NumPy arrays; a sampling model should return
      different values for the same request.
    """
    import tensorflow as tf  # SavedModel is TensorFlow's format.

    tf.saved_model.save(model, path)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    outputs = []
    for _ in range(2):
        (output,) = serve(tf.convert_to_tensor(input_data)).values()
        outputs.append(output.numpy())
    return tuple(outputs)
