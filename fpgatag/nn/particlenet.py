"""ParticleNet (Qu & Gouskos, "Jet Tagging via Particle Clouds", arXiv:1902.08570) in Keras.

Architecture, as in the paper and its reference implementation:

* batch normalisation of the input features;
* EdgeConv blocks: k nearest neighbours found in coordinate space (deta, dphi) for the first block
  and in the previous block's feature space after it; edge features ``(x_i, x_j - x_i)``; three
  1x1 convolutions, each followed by batch normalisation and ReLU (the first one is computed per
  particle before gathering the neighbours, ``EdgeConvProjection``; the others are Dense layers on
  the channel axis); mean over the neighbours;
  a shortcut (1x1 convolution + batch normalisation) added before the final ReLU;
* channel-wise global average pooling over the real particles;
* fully connected layers with ReLU and dropout, then a dense layer named ``logits`` and a float32
  softmax named ``probs``.

Inputs are one zero-padded array (B, P, F) prepared by an :class:`~fpgatag.nn.inputs.InputSpec`;
the particle mask is derived inside the model from all-zero rows (see :mod:`fpgatag.nn.layers`),
so the model has a single input and saves/loads like any other fpgatag model. ``coordinates``
names the feature columns used for the first kNN search (default: the first two, deta and dphi).

Layer names are deterministic: ``fts_bn``, ``edgeconv{i}_knn``, ``edgeconv{i}_conv{j}``,
``edgeconv{i}_bn{j}``, ``edgeconv{i}_act{j}``, ``edgeconv{i}_mean``, ``edgeconv{i}_sc_conv``,
``edgeconv{i}_sc_bn``, ``edgeconv{i}_add``, ``edgeconv{i}_out``, ``pool``, ``fc{i}``, ``fc{i}_drop``,
``logits``, ``probs``.
"""

from __future__ import annotations

from typing import Sequence

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.presets import builder

BN_MOMENTUM = 0.9  # PyTorch's default 0.1 in Keras' convention; 0.99 lags badly on short runs


@builder("particlenet")
def build_particlenet(
    input_shape: Sequence[int],
    n_classes: int = 2,
    *,
    k: int | Sequence[int] = 16,
    conv_channels: Sequence[Sequence[int]] = ((64, 64, 64), (128, 128, 128), (256, 256, 256)),
    fc: Sequence[Sequence[float]] | Sequence[int] = ((256, 0.1),),
    coordinates: Sequence[int] = (0, 1),
    input_bn: bool = True,
    name: str = "particlenet",
):
    """Build an uncompiled ParticleNet for inputs of shape ``(P, F)``.

    ``k`` is one number or one per EdgeConv block; ``conv_channels`` lists each block's channels;
    ``fc`` lists ``(units, dropout)`` pairs (or plain unit counts, no dropout).
    """
    import tensorflow as tf

    from fpgatag.nn import layers as L

    if len(input_shape) != 2:
        raise FpgatagError(f"particlenet: input shape must be (particles, features), got {tuple(input_shape)}")
    n_particles, n_features = int(input_shape[0]), int(input_shape[1])
    ks = [int(k)] * len(conv_channels) if isinstance(k, (int, float)) else [int(v) for v in k]
    if len(ks) != len(conv_channels):
        raise FpgatagError(f"particlenet: k has {len(ks)} values for {len(conv_channels)} EdgeConv blocks")
    if n_particles <= max(ks):
        raise FpgatagError(f"particlenet: needs more particles ({n_particles}) than neighbours k={max(ks)}")
    coordinates = [int(c) for c in coordinates]
    if not coordinates or max(coordinates) >= n_features or min(coordinates) < 0:
        raise FpgatagError(f"particlenet: coordinates {coordinates} are not feature columns 0..{n_features - 1}")

    inputs = tf.keras.Input(shape=(n_particles, n_features), name="particles")          # (B, P, F)
    mask = L.ParticleMask(name="mask")(inputs)                                          # (B, P, 1)
    points = L.TakeFeatures(coordinates, name="coordinates")(inputs)                    # (B, P, 2)
    fts = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="fts_bn")(inputs) if input_bn else inputs

    for i, (kk, channels) in enumerate(zip(ks, conv_channels)):
        p = f"edgeconv{i}"
        pts = points if i == 0 else fts
        idx, nmask = L.KNearest(kk, name=f"{p}_knn")([pts, mask])                      # (B, P, K)
        x = None
        for j, ch in enumerate(channels):
            if j == 0:  # 1x1 convolution of the edges (x_i, x_j - x_i), computed per particle
                x = L.EdgeConvProjection(int(ch), name=f"{p}_conv0")([fts, idx])          # (B, P, K, ch)
            else:       # 1x1 convolution = Dense on the channel axis
                x = tf.keras.layers.Dense(int(ch), use_bias=False, kernel_initializer="glorot_normal",
                                          name=f"{p}_conv{j}")(x)                        # (B, P, K, ch)
            x = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{p}_bn{j}")(x)
            x = tf.keras.layers.Activation("relu", name=f"{p}_act{j}")(x)
        x = L.MaskedNeighbourMean(name=f"{p}_mean")([x, nmask])                         # (B, P, C')
        sc = tf.keras.layers.Dense(int(channels[-1]), use_bias=False, kernel_initializer="glorot_normal",
                                   name=f"{p}_sc_conv")(fts)                             # (B, P, C')
        sc = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{p}_sc_bn")(sc)
        x = tf.keras.layers.Add(name=f"{p}_add")([sc, x])
        fts = tf.keras.layers.Activation("relu", name=f"{p}_out")(x)                    # (B, P, C')

    x = L.MaskedGlobalAverage(name="pool")([fts, mask])                                 # (B, C')
    return tf.keras.Model(inputs, classifier_head(x, fc, n_classes), name=name)


def classifier_head(x, fc, n_classes: int):
    """The pooled features through the fully connected layers (``fc``: units or [units, dropout]) to the
    class probabilities; layers named fc{i}, fc{i}_drop, logits and probs (shared by the graph teachers)."""
    import tensorflow as tf

    for i, layer in enumerate(fc):
        units, drop = (layer, 0.0) if isinstance(layer, (int, float)) else (layer[0], layer[1] if len(layer) > 1 else 0.0)
        x = tf.keras.layers.Dense(int(units), activation="relu", name=f"fc{i}")(x)
        if drop and float(drop) > 0:
            x = tf.keras.layers.Dropout(float(drop), name=f"fc{i}_drop")(x)
    logits = tf.keras.layers.Dense(int(n_classes), name="logits")(x)
    return tf.keras.layers.Activation("softmax", dtype="float32", name="probs")(logits)
