"""Inference latency of one encoder served from each export format.

The encoder is the categorical VAE's (`examples/categorical_vae.py`):
`Dense 784 -> 512 -> 256 -> 20 * 10` logits (ReLU hidden layers), reshaped to
20 variables of 10 categories, then `GumbelSoftmax(hard=True)` in
`inference_mode="argmax"` (deterministic) or `"sample"` (a fresh one-hot
sample per call). Weights are random: latency does not depend on them.

It is exported with `keras_gumbel.export.export` (TensorFlow backend) and
timed, in one process, as:

- `keras`: the model's own `tf.function` (`model(x, training=False)`),
  the in-process reference;
- `tf_saved_model`: `tf.saved_model.load(path).serve` (what TF Serving runs);
- `onnx`: `onnxruntime.InferenceSession(path).run` on the CPU provider;
- `litert`: `ai_edge_litert.interpreter.Interpreter` (default delegates,
  one interpreter per batch size, so no call re-allocates tensors).

Every runtime gets the same number of intra-op threads (`--threads`, 1 by
default: the machine is shared, and one thread keeps the figures stable).
Candidates run in alternation after a warm-up: each round gives each
candidate, per batch size and in turn, one untimed call (to wake its
threads) and `--calls` timed ones; the table gives the median and the
10th/90th percentiles of the per-call wall time. Before timing, the
argmax outputs of every format are checked equal to Keras'.

Usage:
  python -m benchmarks.export_latency            # about a minute when idle
  python -m benchmarks.export_latency --quick    # a smoke test
  python -m benchmarks.export_latency --threads 2
"""

import argparse
import os
import platform
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gumbel as kg  # noqa: E402
from benchmarks import _timing  # noqa: E402

INPUT_DIM, HIDDEN, LATENT, CATEGORIES = 784, (512, 256), 20, 10
BATCHES = (1, 256)
FORMATS = ("keras", "tf_saved_model", "onnx", "litert")


def build_encoder(mode, seed=0):
    """The VAE encoder with a `GumbelSoftmax` in `inference_mode=mode`."""
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((INPUT_DIM,), name="x")]
    layers += [keras.layers.Dense(units, activation="relu") for units in HIDDEN]
    layers += [keras.layers.Dense(LATENT * CATEGORIES),
               keras.layers.Reshape((LATENT, CATEGORIES)),
               kg.layers.GumbelSoftmax(temperature=1.0, hard=True,
                                       inference_mode=mode, seed=seed)]
    model = keras.Sequential(layers, name=f"encoder_{mode}")
    model(np.zeros((1, INPUT_DIM), "float32"))
    return model


def runners(model, directory, threads):
    """`{format: {batch: fn(x) -> np.ndarray}}` for every format."""
    import onnxruntime as ort
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    paths = {"tf_saved_model": os.path.join(directory, "saved_model"),
             "onnx": os.path.join(directory, "model.onnx"),
             "litert": os.path.join(directory, "model.tflite")}
    for fmt, path in paths.items():
        kg.export.export(model, path, format=fmt, verbose=False)

    spec = tf.TensorSpec([None, INPUT_DIM], tf.float32)
    keras_fn = tf.function(lambda x: model(x, training=False),
                           input_signature=[spec])
    loaded = tf.saved_model.load(paths["tf_saved_model"])

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(paths["onnx"], options,
                                   providers=["CPUExecutionProvider"])
    onnx_input = session.get_inputs()[0].name

    def litert(batch):
        interpreter = Interpreter(model_path=paths["litert"],
                                  num_threads=threads)
        (inp,) = interpreter.get_input_details()
        (out,) = interpreter.get_output_details()
        interpreter.resize_tensor_input(inp["index"], [batch, INPUT_DIM])
        interpreter.allocate_tensors()

        def run(x):
            interpreter.set_tensor(inp["index"], x)
            interpreter.invoke()
            return interpreter.get_tensor(out["index"])
        return run

    def same_for_every_batch(fn):
        return {batch: fn for batch in BATCHES}

    return {
        "keras": same_for_every_batch(lambda x: keras_fn(x).numpy()),
        "tf_saved_model": same_for_every_batch(
            lambda x: loaded.serve(x).numpy()),
        "onnx": same_for_every_batch(
            lambda x: session.run(None, {onnx_input: x})[0]),
        "litert": {batch: litert(batch) for batch in BATCHES},
    }


def check(mode, run, inputs):
    """Argmax: every format equals Keras. Sample: exact one-hot rows."""
    for batch, x in inputs.items():
        reference = run["keras"][batch](x)
        for fmt in FORMATS:
            y = np.asarray(run[fmt][batch](x)).reshape(reference.shape)
            np.testing.assert_array_equal(y.sum(-1), 1.0, err_msg=fmt)
            assert set(np.unique(y)) <= {0.0, 1.0}, fmt
            if mode == "argmax":
                np.testing.assert_array_equal(y, reference, err_msg=fmt)


def time_all(run, inputs, rounds, warmup, calls):
    """Per-call seconds `{(fmt, batch): [t, ...]}`, candidates alternating.

    Each round gives each candidate one untimed call (so that its runtime's
    threads are awake, as in a server under load), then `calls` timed ones
    (`benchmarks/_timing.py`, blocks of one call).
    """
    cands = {(fmt, batch): (lambda fn=run[fmt][batch], x=x: fn(x))
             for batch, x in inputs.items() for fmt in FORMATS}
    timings = _timing.measure(cands, rounds, calls=1, repeat=calls,
                              warmup=warmup, warm_calls=1)
    return {key: t.walls for key, t in timings.items()}


def quantile(values, q):
    return float(np.quantile(np.asarray(values), q))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--calls", type=int, default=5,
                        help="timed calls per candidate and round")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="10 rounds, 3 warm-up calls")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.warmup = 10, 3

    import onnxruntime as ort
    import tensorflow as tf
    from ai_edge_litert import __version__ as litert_version

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rng = np.random.default_rng(0)
    inputs = {batch: rng.uniform(size=(batch, INPUT_DIM)).astype("float32")
              for batch in BATCHES}
    load_before = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for mode in ("argmax", "sample"):
            model = build_encoder(mode)
            path = os.path.join(directory, mode)
            os.makedirs(path)
            run = runners(model, path, args.threads)
            check(mode, run, inputs)
            results[mode] = time_all(run, inputs, args.rounds, args.warmup,
                                     args.calls)
    load_after = os.getloadavg()

    print(f"machine: {platform.machine()} {platform.processor() or ''}, "
          f"{os.cpu_count()} CPUs, {platform.system()} "
          f"{platform.release()}; Python {platform.python_version()}")
    print(f"versions: TF {tf.__version__}, Keras {keras.__version__}, "
          f"onnxruntime {ort.__version__}, ai-edge-litert {litert_version}")
    print(f"load average (1, 5, 15 min): before "
          f"{', '.join(f'{v:.2f}' for v in load_before)}; after "
          f"{', '.join(f'{v:.2f}' for v in load_after)}")
    print(f"threads per runtime: {args.threads}; {args.rounds} rounds of "
          f"1 untimed + {args.calls} timed calls (warm-up {args.warmup})\n")
    print("| inference_mode | batch | format | median (ms) | p10-p90 (ms) | "
          "per example (us) |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    for mode, times in results.items():
        for batch in BATCHES:
            for fmt in FORMATS:
                t = times[fmt, batch]
                median = statistics.median(t)
                print(f"| {mode} | {batch} | {fmt} | {1e3 * median:.3f} | "
                      f"{1e3 * quantile(t, 0.1):.3f}-"
                      f"{1e3 * quantile(t, 0.9):.3f} | "
                      f"{1e6 * median / batch:.1f} |")


if __name__ == "__main__":
    main()
