"""Speed of GumbelVectorQuantizer against Hugging Face's quantizer.

Times one training step, forward and backward (loss `sum(w * quantized) -
perplexity`, as wav2vec 2.0 trains with a contrastive loss on the output
and the diversity loss on the training perplexity; gradients for the
projection and the codebook), of
`keras_gumbel.layers.GumbelVectorQuantizer` on the current Keras backend and
of `transformers`' `Wav2Vec2GumbelVectorQuantizer` (PyTorch), in the same
process, on the same sizes and weights (default: batch 8 x 500 frames x 512
features, G = 2, V = 320, codevector_dim 256, wav2vec 2.0 base). Rounds
alternate between the two so that load changes hit both; the medians of the
per-round times are reported (`benchmarks/_timing.py`, the order reversed
on odd rounds). Our layer runs the way `fit` runs it on each
backend: `tf.function` on TensorFlow, `jax.jit` of the stateless call on
JAX, eager on PyTorch.

Run: KERAS_BACKEND=torch python -m benchmarks.vq [--rounds 7]
     (also KERAS_BACKEND=tensorflow / jax; HF's module always runs on torch)
"""

import argparse
import json
import os
import platform
import statistics

import keras
import numpy as np

from benchmarks import _timing
from keras_gumbel.layers import GumbelVectorQuantizer


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--vars", type=int, default=320)
    parser.add_argument("--codevector-dim", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=1,
                        help="steps per round (the round's time is the mean)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--json", default=None, help="write results here")
    return parser.parse_args(argv)


def hf_step(layer, x, w, device="cpu"):
    """A fwd+bwd step of HF's module with our layer's weights, on the torch
    `device`."""
    import torch
    from transformers import Wav2Vec2Config
    from transformers.models.wav2vec2 import modeling_wav2vec2

    config = Wav2Vec2Config(
        num_codevector_groups=layer.num_groups,
        num_codevectors_per_group=layer.num_vars,
        codevector_dim=layer.codevector_dim, conv_dim=(x.shape[-1],),
        conv_stride=(1,), conv_kernel=(1,))
    hf = modeling_wav2vec2.Wav2Vec2GumbelVectorQuantizer(config)
    with torch.no_grad():
        hf.weight_proj.weight.copy_(torch.tensor(
            keras.ops.convert_to_numpy(layer.weight_proj.kernel).T))
        hf.weight_proj.bias.copy_(torch.tensor(
            keras.ops.convert_to_numpy(layer.weight_proj.bias)))
        hf.codevectors.copy_(torch.tensor(
            keras.ops.convert_to_numpy(layer.codevectors))[None])
    hf.to(device).train()
    xt, wt = torch.tensor(x, device=device), torch.tensor(w, device=device)

    def step():
        hf.zero_grad(set_to_none=True)
        quantized, perplexity = hf(xt)
        ((quantized * wt).sum() - perplexity).backward()
        return float(hf.codevectors.grad[0, 0, 0])  # waits for the step

    return step


def keras_step(layer, x, w):
    """A fwd+bwd step of our layer, compiled as `fit` would run it."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        xt, wt = tf.constant(x), tf.constant(w)

        @tf.function
        def grads():
            with tf.GradientTape() as tape:
                quantized, perplexity = layer(xt, training=True)
                loss = tf.reduce_sum(quantized * wt) - perplexity
            return tape.gradient(loss, layer.trainable_variables)

        return lambda: float(grads()[0].numpy().ravel()[0])
    if backend == "jax":
        import jax

        def loss_fn(trainable, non_trainable):
            (quantized, perplexity), non_trainable = layer.stateless_call(
                trainable, non_trainable, x, training=True)
            return (quantized * w).sum() - perplexity, non_trainable

        grad_fn = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
        trainable = [v.value for v in layer.trainable_variables]
        state = {"nt": [v.value for v in layer.non_trainable_variables]}

        def step():
            (_, state["nt"]), grads = grad_fn(trainable, state["nt"])
            return float(grads[0].ravel()[0])

        return step
    # On Keras' device (a GPU where torch has one), as the layer's weights.
    xt, wt = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(w)
    params = [v.value for v in layer.trainable_variables]

    def step():
        for p in params:
            p.grad = None
        quantized, perplexity = layer(xt, training=True)
        ((quantized * wt).sum() - perplexity).backward()
        return float(params[0].grad.ravel()[0])

    return step


def main(argv=None):
    args = parse_args(argv)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    rng = np.random.default_rng(0)
    shape = (args.batch, args.frames, args.features)
    x = rng.normal(size=shape).astype("float32")
    w = rng.normal(size=shape[:-1] + (args.codevector_dim,)).astype(
        "float32")
    layer = GumbelVectorQuantizer(args.groups, args.vars,
                                  args.codevector_dim, return_perplexity=True,
                                  seed=0)
    layer.build((None, None, args.features))
    steps = {"keras_gumbel": keras_step(layer, x, w),
             "huggingface": hf_step(layer, x, w)}
    timings = _timing.measure(steps, args.rounds, calls=args.repeats,
                              warmup=args.warmup, alternate=True)
    times = {name: t.walls for name, t in timings.items()}
    import torch

    result = {
        "backend": keras.backend.backend(),
        "sizes": {k: getattr(args, k) for k in (
            "batch", "frames", "features", "groups", "vars",
            "codevector_dim")},
        "rounds": args.rounds, "repeats": args.repeats,
        "median_ms": {k: 1e3 * statistics.median(v)
                      for k, v in times.items()},
        "min_ms": {k: 1e3 * min(v) for k, v in times.items()},
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{os.cpu_count()} cores, torch threads "
                   f"{torch.get_num_threads()}",
        "load_average": os.getloadavg(),
        "versions": {"keras": keras.__version__,
                     "torch": torch.__version__},
    }
    med = result["median_ms"]
    print(f"backend {result['backend']}: fwd+bwd median over "
          f"{args.rounds} rounds of {args.repeats}: keras_gumbel "
          f"{med['keras_gumbel']:.1f} ms, Hugging Face "
          f"{med['huggingface']:.1f} ms (ratio "
          f"{med['huggingface'] / med['keras_gumbel']:.2f}x); load "
          f"{result['load_average'][0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main()
