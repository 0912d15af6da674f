"""One worker of a multi-process training run with an annealed Gumbel layer.

Run one process per worker, each with its index and the same worker list
(here both on this machine; give host names to use several machines):

    python -m examples.multi_worker --worker-index 0 \\
        --workers 127.0.0.1:12345,127.0.0.1:12346 --output worker0.json &
    python -m examples.multi_worker --worker-index 1 \\
        --workers 127.0.0.1:12345,127.0.0.1:12346 --output worker1.json

The Keras backend (`KERAS_BACKEND`) chooses the route:

- TensorFlow: `tf.distribute.MultiWorkerMirroredStrategy` (the cluster is
  given by `TF_CONFIG`, which this script writes from the arguments) with a
  custom training loop: Keras 3 `fit` does not run under that strategy
  (keras-team/keras#20585). Before each step,
  `keras_gumbel.callbacks.apply_schedule` sets the temperature from the
  optimizer's step counter, as `TemperatureScheduler` does in `fit`.
- JAX: the processes join with `jax.distributed.initialize` (the first
  address of `--workers` is the coordinator's; the others are not used), and
  `keras.distribution.DataParallel` over every process's devices runs
  `model.fit` with `TemperatureScheduler`.

Each worker trains on its own shard of one synthetic regression data set
(a categorical bottleneck: Dense -> GumbelSoftmax -> Dense) and writes a
JSON record: the weights at the end, the optimizer's step, a log of every
step (the step, the schedule's value and the temperature: on TensorFlow the
one the compiled step read, on JAX the one `TemperatureScheduler` logged)
and a sample of the layer for an input that is the same on every worker,
drawn with the same random state: on TensorFlow each replica draws
different noise because the replica id is folded into the layer's seed; on
JAX one compiled program draws the noise of the global batch, of which each
process holds its own rows.
"""

import argparse
import json
import os

import numpy as np

FEATURES = 8
CATEGORIES = 6
SAMPLES = 256


def parse_args(argv=None):
    """Parses the command line; argparse exits with status 2 on errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-index", type=int, required=True,
                        help="this worker's position in --workers")
    parser.add_argument("--workers", required=True,
                        help="comma-separated host:port of every worker")
    parser.add_argument("--steps", type=int, default=8,
                        help="training steps (all workers together)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="examples per worker and step")
    parser.add_argument("--timeout", type=int, default=60,
                        help="seconds to wait for the other workers")
    parser.add_argument("--output", default=None,
                        help="where to write this worker's JSON record")
    args = parser.parse_args(argv)
    args.workers = args.workers.split(",")
    if not 0 <= args.worker_index < len(args.workers):
        parser.error(f"--worker-index must be in [0, {len(args.workers)}). "
                     f"Received: {args.worker_index}")
    return args


def shard(index, count):
    """This worker's rows of one synthetic data set, the same everywhere."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = np.tanh(x[:, :1] * x[:, 1:2]).astype("float32")
    return x[index::count], y[index::count]


def build_model():
    """Dense -> GumbelSoftmax (6 categories) -> Dense, seeded."""
    import keras

    import keras_gumbel as kg

    return keras.Sequential([
        keras.Input((FEATURES,)),
        keras.layers.Dense(CATEGORIES),
        kg.layers.GumbelSoftmax(temperature=2.0, seed=0, name="gumbel"),
        keras.layers.Dense(1),
    ])


def schedule():
    """The temperature schedule every worker follows."""
    import keras_gumbel as kg

    return kg.schedules.ExponentialDecay(initial=2.0, rate=0.1, minimum=0.5)


def tensorflow_steps(strategy, model, optimizer, batch_size):
    """The compiled training step and sampler of `run_tensorflow`.

    Returns:
      `(train_step, sample)`: `train_step(x, y)` runs one step on every
      replica and returns the summed loss and the temperature the step read;
      `sample(logits)` is this worker's first replica's training sample of
      the layer.
    """
    import keras
    import tensorflow as tf

    layer = model.get_layer("gumbel")
    global_batch = batch_size * strategy.num_replicas_in_sync

    @tf.function
    def train_step(x, y):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                per_example = keras.ops.mean(
                    keras.ops.square(model(x, training=True) - y), axis=-1)
                loss = tf.nn.compute_average_loss(
                    per_example, global_batch_size=global_batch)
            grads = tape.gradient(loss, model.trainable_variables)
            # Keras' optimizer sums the gradients over all replicas.
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            # The temperature the compiled step read.
            return loss, tf.identity(layer.temperature)

        loss, temperature = strategy.run(replica_step, args=(x, y))
        return (strategy.reduce("SUM", loss, axis=None),
                strategy.experimental_local_results(temperature)[0])

    @tf.function
    def sample(logits):
        out = strategy.run(lambda z: layer(z, training=True), args=(logits,))
        return strategy.experimental_local_results(out)[0]

    return train_step, sample


def run_tensorflow(args):
    """MultiWorkerMirroredStrategy and a custom training loop."""
    import tensorflow as tf

    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": args.workers},
        "task": {"type": "worker", "index": args.worker_index}})
    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        communication_options=tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=args.timeout))

    import keras

    import keras_gumbel as kg

    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_model()
        optimizer = keras.optimizers.SGD(0.1)
        optimizer.build(model.trainable_variables)
    layer = model.get_layer("gumbel")
    train_step, sample = tensorflow_steps(
        strategy, model, optimizer, args.batch_size)
    x, y = shard(strategy.cluster_resolver.task_id,
                 strategy.num_replicas_in_sync)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(
        args.batch_size)
    annealing = schedule()
    log = []
    for x_batch, y_batch in dataset.take(args.steps):
        step = int(optimizer.iterations.numpy())
        scheduled = kg.callbacks.apply_schedule(annealing, model,
                                                optimizer.iterations)
        loss, temperature = train_step(x_batch, y_batch)
        log.append({"step": step, "scheduled": scheduled,
                    "temperature": float(temperature), "loss": float(loss)})
    noise = sample(tf.zeros((4, CATEGORIES)))
    return {
        "replicas": strategy.num_replicas_in_sync,
        "log": log,
        "iterations": int(optimizer.iterations.numpy()),
        "temperature": float(layer.temperature.numpy()),
        "weights": [np.asarray(w).tolist() for w in model.get_weights()],
        "sample": noise.numpy().tolist(),
    }


def run_jax(args):
    """`jax.distributed` processes, `keras.distribution` and `fit`."""
    import jax

    jax.distributed.initialize(
        coordinator_address=args.workers[0],
        num_processes=len(args.workers), process_id=args.worker_index,
        initialization_timeout=args.timeout)

    import keras

    import keras_gumbel as kg

    distribution = keras.distribution.DataParallel(
        devices=keras.distribution.list_devices())
    # Each process feeds its own shard (NumPy arrays cannot be sharded by
    # Keras across processes; a tf.data.Dataset can).
    distribution.auto_shard_dataset = False
    keras.distribution.set_distribution(distribution)
    # The same initial weights in every process: JAX checks that a
    # replicated value is the same everywhere.
    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = shard(jax.process_index(), jax.process_count())
    x = np.resize(x, (args.steps * args.batch_size, FEATURES))
    y = np.resize(y, (args.steps * args.batch_size, 1))
    annealing = schedule()
    log = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: log.append(
            {"step": batch, "scheduled": annealing(batch),
             "temperature": logs["temperature"], "loss": logs["loss"]}))
    history = model.fit(
        x, y, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0,
        callbacks=[kg.callbacks.TemperatureScheduler(annealing), record])
    return {
        "replicas": jax.device_count(),
        "log": log,
        "history": history.history,
        "sample": global_batch_sample(model.get_layer("gumbel"),
                                      args.batch_size).tolist(),
        "iterations": int(keras.ops.convert_to_numpy(
            model.optimizer.iterations)),
        "temperature": float(keras.ops.convert_to_numpy(
            model.get_layer("gumbel").temperature)),
        "weights": [np.asarray(w).tolist() for w in model.get_weights()],
    }


def global_batch_sample(layer, batch_size):
    """This process's rows of the layer's sample for a global batch of zeros.

    As in `fit`'s compiled step: one `jax.jit` program over the batch of all
    processes, sharded along the batch axis, with the layer's random state
    (the same in every process) passed in as in Keras' stateless calls.
    """
    import jax
    import keras
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = Mesh(np.array(jax.devices()), ("batch",))
    x = jax.make_array_from_process_local_data(
        NamedSharding(mesh, PartitionSpec("batch")),
        np.zeros((batch_size, CATEGORIES), "float32"))

    def sample(x, state):
        mapping = [(layer.seed_generator.state, state)]
        with keras.StatelessScope(state_mapping=mapping):
            return layer(x, training=True)

    out = jax.jit(sample)(x, layer.seed_generator.state.value)
    return np.asarray(out.addressable_shards[0].data)


def main(argv=None):
    """Runs this worker and writes its JSON record (`--output`)."""
    args = parse_args(argv)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "tensorflow":
        record = run_tensorflow(args)
    elif backend == "jax":
        record = run_jax(args)
    else:
        raise SystemExit(f"multi_worker runs on KERAS_BACKEND=tensorflow or "
                         f"jax. Received: KERAS_BACKEND={backend!r}")
    record["worker_index"] = args.worker_index
    text = json.dumps(record)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    print(f"worker {args.worker_index}: {record['iterations']} steps, "
          f"temperature {record['temperature']:.4g}")


if __name__ == "__main__":
    main()
