"""Custom Keras layers of the teachers (ParticleNet's masked EdgeConv pieces).

Every layer is registered with ``register_keras_serializable(package="fpgatag")`` so models built
from them round-trip through ``fpgatag.nn.io.save_model`` / ``load_model`` (architecture JSON +
HDF5 weights). Shapes are written beside the operations: B jets, P particles, K neighbours,
C channels.

Masking convention: the model input is zero padded, and a particle is *real* when any of its input
features is non-zero (``ParticleMask``). Padded particles

* are never anyone's neighbour: their coordinates are shifted far away before the kNN search, and
  any padded particle that still lands among the k nearest (jets with fewer than k+1 particles) is
  dropped from the neighbour average (``EdgeFeatures`` returns the neighbour mask, and
  ``MaskedNeighbourMean`` averages over the real neighbours only);
* do not enter the global pooling (``MaskedGlobalAverage`` divides by the number of real particles).

So a jet's output does not depend on the order of its particles nor on how much padding follows them.
Distances are computed in float32 even under mixed precision (the far-away shift would overflow float16).
"""

from __future__ import annotations

import tensorflow as tf

PADDING_SHIFT = 1.0e4  # added to every coordinate of padded particles before the kNN search


def _register(cls):
    return tf.keras.utils.register_keras_serializable(package="fpgatag")(cls)


@_register
class ParticleMask(tf.keras.layers.Layer):
    """(B, P, F) zero-padded inputs -> (B, P, 1) float mask, 1 for real particles."""

    def call(self, x):
        return tf.cast(tf.reduce_any(tf.not_equal(x, 0), axis=-1, keepdims=True), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([1])


@_register
class TakeFeatures(tf.keras.layers.Layer):
    """Select feature columns ``indices`` of a (B, P, F) tensor: (B, P, len(indices))."""

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, x):
        return tf.gather(x, self.indices, axis=-1)

    def get_config(self):
        return {**super().get_config(), "indices": self.indices}


@_register
class EdgeFeatures(tf.keras.layers.Layer):
    """EdgeConv edge features of the k nearest neighbours, found in the space of ``points``.

    Inputs ``[points (B, P, D), features (B, P, C), mask (B, P, 1)]``; outputs
    ``[edges (B, P, K, 2C), neighbour_mask (B, P, K, 1)]`` where an edge is
    ``(x_i, x_j - x_i)`` for neighbour j of particle i (the particle itself excluded).
    """

    def __init__(self, k: int, **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)

    def call(self, inputs):
        points, features, mask = inputs
        mask32 = tf.cast(mask, tf.float32)                                   # (B, P, 1)
        pts = tf.cast(points, tf.float32) + (1.0 - mask32) * PADDING_SHIFT   # (B, P, D)
        sq = tf.reduce_sum(tf.square(pts), axis=-1, keepdims=True)           # (B, P, 1)
        dist = sq - 2.0 * tf.matmul(pts, pts, transpose_b=True) + tf.transpose(sq, (0, 2, 1))  # (B, P, P)
        # the particle itself is at distance 0: put it last so top_k never picks it
        n = tf.shape(pts)[1]
        dist = dist + tf.eye(n, dtype=tf.float32)[None] * 1.0e30
        _, idx = tf.math.top_k(-dist, k=self.k)                              # (B, P, K)
        neighbours = tf.gather(features, idx, batch_dims=1)                  # (B, P, K, C)
        centre = tf.expand_dims(features, 2)                                 # (B, P, 1, C)
        centre_k = tf.broadcast_to(centre, tf.shape(neighbours))             # (B, P, K, C)
        edges = tf.concat([centre_k, neighbours - centre_k], axis=-1)        # (B, P, K, 2C)
        nmask = tf.gather(mask, idx, batch_dims=1)                           # (B, P, K, 1)
        return edges, tf.cast(nmask, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        pshape, fshape, _ = (tf.TensorShape(s) for s in input_shape)
        b, p, c = fshape[0], fshape[1], fshape[2]
        return [tf.TensorShape([b, p, self.k, None if c is None else 2 * c]), tf.TensorShape([b, p, self.k, 1])]

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@_register
class MaskedNeighbourMean(tf.keras.layers.Layer):
    """Average over real neighbours: ``[x (B, P, K, C), neighbour_mask (B, P, K, 1)]`` -> (B, P, C)."""

    def call(self, inputs):
        x, nmask = inputs
        nmask = tf.cast(nmask, x.dtype)
        total = tf.reduce_sum(x * nmask, axis=2)                             # (B, P, C)
        count = tf.maximum(tf.reduce_sum(nmask, axis=2), 1.0)                # (B, P, 1)
        return total / count

    def compute_output_shape(self, input_shape):
        s = tf.TensorShape(input_shape[0])
        return tf.TensorShape([s[0], s[1], s[3]])


@_register
class MaskedGlobalAverage(tf.keras.layers.Layer):
    """Channel-wise average over real particles: ``[x (B, P, C), mask (B, P, 1)]`` -> (B, C)."""

    def call(self, inputs):
        x, mask = inputs
        mask = tf.cast(mask, x.dtype)
        total = tf.reduce_sum(x * mask, axis=1)                              # (B, C)
        count = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)                 # (B, 1)
        return total / count

    def compute_output_shape(self, input_shape):
        s = tf.TensorShape(input_shape[0])
        return tf.TensorShape([s[0], s[2]])
