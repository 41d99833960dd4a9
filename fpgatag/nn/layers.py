"""Custom Keras layers of the teachers (ParticleNet's masked EdgeConv pieces).

Every layer is registered with ``register_keras_serializable(package="fpgatag")`` so models built
from them round-trip through ``fpgatag.nn.io.save_model`` / ``load_model`` (architecture JSON +
HDF5 weights). Shapes are written beside the operations: B jets, P particles, K neighbours,
C channels.

Masking convention: the model input is zero padded, and a particle is *real* when any of its input
features is non-zero (``ParticleMask``). Padded particles

* are never anyone's neighbour: their coordinates are shifted far away before the kNN search, and
  any padded particle that still lands among the k nearest (jets with fewer than k+1 particles) is
  dropped from the neighbour average (``KNearest`` returns the neighbour mask, and
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
class KNearest(tf.keras.layers.Layer):
    """Indices of the k nearest real neighbours in the space of ``points``.

    Inputs ``[points (B, P, D), mask (B, P, 1)]``; outputs ``[indices (B, P, K) int32,
    neighbour_mask (B, P, K, 1)]`` (the particle itself excluded).
    """

    def __init__(self, k: int, **kwargs):
        super().__init__(**kwargs)
        self.k = int(k)

    def call(self, inputs):
        points, mask = inputs
        mask32 = tf.cast(mask, tf.float32)                                   # (B, P, 1)
        pts = tf.cast(points, tf.float32) + (1.0 - mask32) * PADDING_SHIFT   # (B, P, D)
        sq = tf.reduce_sum(tf.square(pts), axis=-1, keepdims=True)           # (B, P, 1)
        dist = sq - 2.0 * tf.matmul(pts, pts, transpose_b=True) + tf.transpose(sq, (0, 2, 1))  # (B, P, P)
        n = tf.shape(pts)[1]
        dist = dist + tf.eye(n, dtype=tf.float32)[None] * 1.0e30             # never oneself
        _, idx = tf.math.top_k(-dist, k=self.k)                              # (B, P, K)
        idx = tf.stop_gradient(idx)
        nmask = tf.gather(mask, idx, batch_dims=1)                           # (B, P, K, 1)
        return idx, tf.cast(nmask, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        s = tf.TensorShape(input_shape[0])
        return [tf.TensorShape([s[0], s[1], self.k]), tf.TensorShape([s[0], s[1], self.k, 1])]

    def get_config(self):
        return {**super().get_config(), "k": self.k}


@_register
class EdgeConvProjection(tf.keras.layers.Layer):
    """First 1x1 convolution of an EdgeConv block, applied to the edges ``(x_i, x_j - x_i)``.

    Inputs ``[features (B, P, C), indices (B, P, K)]`` -> (B, P, K, units). The kernel is the
    (2C, units) kernel of a 1x1 convolution over the concatenated edge features (no bias). Since
    ``[x_i, x_j - x_i] W = x_i (W_a - W_b) + x_j W_b``, both terms are computed per particle and
    only the projected neighbour term is gathered: K times fewer multiplications than projecting
    every edge, and the same result.
    """

    def __init__(self, units: int, kernel_initializer="glorot_normal", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_initializer = tf.keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        c = int(tf.TensorShape(input_shape[0])[-1])
        self.kernel = self.add_weight(name="kernel", shape=(2 * c, self.units), initializer=self.kernel_initializer)
        self.built = True

    def call(self, inputs):
        features, idx = inputs
        c = tf.shape(features)[-1]
        w_centre, w_diff = self.kernel[:c], self.kernel[c:]
        centre = tf.matmul(features, w_centre - w_diff)                      # (B, P, units)
        other = tf.matmul(features, w_diff)                                  # (B, P, units)
        return tf.expand_dims(centre, 2) + tf.gather(other, idx, batch_dims=1)  # (B, P, K, units)

    def compute_output_shape(self, input_shape):
        f, i = (tf.TensorShape(s) for s in input_shape)
        return tf.TensorShape([f[0], f[1], i[2], self.units])

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": tf.keras.initializers.serialize(self.kernel_initializer)}


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


@_register
class TreeNeighbours(tf.keras.layers.Layer):
    """Neighbours on a fixed graph (LundNet's declustering tree) from index columns of the input.

    ``columns`` name the input columns that hold neighbour index + 1 (0: no neighbour). Input
    (B, N, F) -> ``[indices (B, N, K) int32, neighbour_mask (B, N, K, 1)]`` with K = len(columns);
    a missing neighbour points at node 0 with mask 0.
    """

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = [int(c) for c in columns]

    def call(self, x):
        cols = tf.round(tf.cast(tf.gather(x, self.columns, axis=-1), tf.float32))   # (B, N, K)
        idx = tf.stop_gradient(tf.cast(tf.maximum(cols - 1.0, 0.0), tf.int32))
        nmask = tf.cast(cols > 0.5, self.compute_dtype)[..., None]                  # (B, N, K, 1)
        return idx, nmask

    def compute_output_shape(self, input_shape):
        s = tf.TensorShape(input_shape)
        k = len(self.columns)
        return [tf.TensorShape([s[0], s[1], k]), tf.TensorShape([s[0], s[1], k, 1])]

    def get_config(self):
        return {**super().get_config(), "columns": self.columns}
