"""Quick start: sample, backpropagate through a hard sample, train a layer.

Run: python examples/quickstart.py
"""

import tensorflow as tf

import keras_gumbel as kg


def main():
    logits = tf.math.log([[0.1, 0.6, 0.3]])
    relaxed = kg.ops.gumbel_softmax(logits, temperature=0.5, seed=0)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        hard = kg.ops.gumbel_softmax(logits, temperature=0.5, hard=True,
                                     seed=0)
        loss = tf.reduce_sum(hard * [[1.0, 2.0, 3.0]])
    grad = tape.gradient(loss, logits)
    print("relaxed sample:", relaxed.numpy())
    print("hard sample:   ", hard.numpy())
    print("d loss / d logits (straight-through):", grad.numpy())
    counts = tf.reduce_sum(kg.ops.gumbel_max(tf.tile(logits, [10000, 1]),
                                             seed=1), 0)
    print("Gumbel-Max frequencies over 10000 draws:", (counts / 1e4).numpy())


if __name__ == "__main__":
    main()
