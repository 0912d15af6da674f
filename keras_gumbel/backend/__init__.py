"""The thin seam between the package's math and the Keras backend.

Everything in `keras_gumbel.ops` and `keras_gumbel.layers` is written once
with `keras.ops`. What truly differs between TensorFlow, JAX and PyTorch
lives in one small module per backend with the same function names, chosen
once at import from `keras.backend.backend()` (as Keras chooses its own):

- seeds: `draw_seed` turns every form of the `seed` argument into the
  backend's seed, once per op call (advancing a generator, and folding in
  the replica id under `tf.distribute`); `fold_in` derives a seed from
  another;
- noise: uniform draws in `[tiny, 1)` and standard Gumbel noise;
- `custom_gradient`, with one convention on every backend: the function
  returns `(output, grad)` and `grad(upstream)` returns one gradient per
  input (a tuple when there are several);
- static information: ranks, constant values, dynamic shapes;
- `row_max`, a kept `max` along an axis that allows empty batches;
- the few kernels TensorFlow keeps for speed under XLA (`one_hot_argmax`);
- `compile_loops`: functions made of `keras.ops` loops, compiled once per
  shape where an eager call would run the loops op by op.

On JAX and PyTorch nothing here imports TensorFlow.
"""

import keras
from keras import ops

NAME = keras.backend.backend()

if NAME == "tensorflow":
    from keras_gumbel.backend import tensorflow as _impl
elif NAME == "jax":
    from keras_gumbel.backend import jax as _impl
elif NAME == "torch":
    from keras_gumbel.backend import torch as _impl
else:
    raise ImportError(
        f"keras_gumbel supports the Keras backends 'tensorflow', 'jax' and "
        f"'torch'. Received: KERAS_BACKEND={NAME!r}")

check_positive_at_run_time = _impl.check_positive_at_run_time
compile_loops = _impl.compile_loops
custom_gradient = _impl.custom_gradient
draw_seed = _impl.draw_seed
fold_in = _impl.fold_in
gumbel_noise = _impl.gumbel_noise
is_variable = _impl.is_variable
lgamma = _impl.lgamma
one_hot_argmax = _impl.one_hot_argmax
row_max = _impl.row_max
shape_of = _impl.shape_of
static_rank = _impl.static_rank
static_value = _impl.static_value
sum_to_shape = _impl.sum_to_shape
uniform = _impl.uniform
xlogy = _impl.xlogy


def logistic_noise(shape, seed, dtype):
    """Standard Logistic noise `log(u) - log(1 - u)`, finite, in `dtype`.

    `u` lies in [tiny, 1) (and below 1 - eps/2 in exported runtimes), so
    both logarithms are finite. The noise of `relaxed_bernoulli` and of
    every binary relaxation built on it: the same seed gives the same noise.
    """
    u = uniform(shape, seed, dtype)
    return ops.log(u) - ops.log1p(-u)



def weight_constant(fn, *weights):
    """`fn(*weights)`, recorded as a constant where exporters need one.

    For values computed from weights only (not from the inputs) by ops that
    some exporters cannot convert (loops): traced for ONNX or LiteRT from
    TensorFlow (see `keras_gumbel.export.exporting_to`), `fn` runs eagerly on
    the weights' current values and the result enters the graph as a
    constant; on PyTorch the result is always a constant of traced graphs
    (torch.onnx records it instead of the ops). Elsewhere (training,
    `tf.function`, SavedModel, JAX) it is `fn(*weights)` in the graph.
    """
    if NAME == "torch":
        import torch

        value = fn(*weights)
        return torch.as_tensor(value.detach().cpu().numpy(),
                               device=value.device)
    if NAME == "tensorflow":
        import tensorflow as tf

        from keras_gumbel.backend import _tf_export

        if _tf_export.export_format() is not None:
            with tf.init_scope():  # eager, on the variables' values
                value = fn(*weights).numpy()
            return tf.constant(value)
    return fn(*weights)
