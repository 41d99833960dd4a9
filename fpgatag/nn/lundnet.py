"""LundNet (Dreyer & Qu, "Jet tagging in the Lund plane with graph networks", JHEP 03 (2021) 052) in Keras.

The graph is the jet's Lund declustering tree (``fpgatag.data.lund``): one node per declustering,
connected to its parent and to the declusterings of its harder and softer subjets. It is fixed by the
clustering, so there is no kNN search. Architecture, as in the published model:

* batch normalisation of the node features (``ln kt, ln Delta, ln z, ln m, psi`` for LundNet-5,
  the first three for LundNet-3);
* six EdgeConv blocks with channels (32, 32), (32, 32), (64, 64), (64, 64), (128, 128), (128, 128):
  edge features from ``(x_i, x_j - x_i)`` over the tree neighbours j of node i, two 1x1 convolutions
  each followed by batch normalisation and ReLU, mean over the real neighbours, a shortcut (identity
  when the width does not change, else 1x1 convolution + batch normalisation) and a final ReLU;
* a fusion block: the outputs of all blocks concatenated, a dense layer of
  ``clip(128 * (C_total // 128), 128, 1024)`` units, ReLU, batch normalisation;
* mean over the real nodes, fully connected layers (256 units, dropout 0.1), ``logits`` and a float32
  softmax ``probs``.

Input: one zero-padded array (B, N, F) from an :class:`~fpgatag.nn.inputs.InputSpec` of kind
``lund``; the columns named in ``graph_columns`` (default the last three: parent, harder, softer)
hold neighbour index + 1 (0: none) and the others are the node features. A node is real when any
input column is non-zero. Padded nodes are nobody's neighbour and stay out of the pooling, so the
output does not depend on the amount of padding.

Layer names: ``graph``, ``node_features``, ``fts_bn``, ``edgeconv{i}_conv{j}``, ``edgeconv{i}_bn{j}``,
``edgeconv{i}_act{j}``, ``edgeconv{i}_mean``, ``edgeconv{i}_sc_conv``, ``edgeconv{i}_sc_bn``,
``edgeconv{i}_add``, ``edgeconv{i}_out``, ``fusion_concat``, ``fusion``, ``fusion_act``, ``fusion_bn``,
``pool``, ``fc{i}``, ``fc{i}_drop``, ``logits``, ``probs``. Transfer learning freezes the blocks whose
names start with ``fts_bn`` and ``edgeconv`` (``fpgatag.train.transfer``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.particlenet import classifier_head
from fpgatag.nn.presets import builder

BN_MOMENTUM = 0.9
PUBLISHED_CONV = ((32, 32), (32, 32), (64, 64), (64, 64), (128, 128), (128, 128))


def fusion_units(conv_channels: Sequence[Sequence[int]]) -> int:
    total = sum(int(c[-1]) for c in conv_channels)
    return int(np.clip((total // 128) * 128, 128, 1024))


@builder("lundnet")
def build_lundnet(
    input_shape: Sequence[int],
    n_classes: int = 2,
    *,
    conv_channels: Sequence[Sequence[int]] = PUBLISHED_CONV,
    fc: Sequence[Sequence[float]] | Sequence[int] = ((256, 0.1),),
    fusion: bool = True,
    graph_columns: Sequence[int] = (-3, -2, -1),
    name: str = "lundnet",
):
    """Build an uncompiled LundNet for inputs of shape ``(N, F)`` (nodes, node features + graph columns)."""
    import tensorflow as tf

    from fpgatag.nn import layers as L

    if len(input_shape) != 2:
        raise FpgatagError(f"lundnet: input shape must be (nodes, features), got {tuple(input_shape)}")
    n_nodes, n_columns = int(input_shape[0]), int(input_shape[1])
    graph = sorted({int(c) % n_columns for c in graph_columns}) if n_columns else []
    if len(graph) != 3 or any(not -n_columns <= int(c) < n_columns for c in graph_columns):
        raise FpgatagError(f"lundnet: graph_columns {list(graph_columns)} must name 3 of the {n_columns} input columns")
    kinematic = [c for c in range(n_columns) if c not in graph]
    if not kinematic:
        raise FpgatagError("lundnet: no node feature columns besides the graph columns")
    if not conv_channels:
        raise FpgatagError("lundnet: conv_channels must list at least one EdgeConv block")

    inputs = tf.keras.Input(shape=(n_nodes, n_columns), name="lund")                    # (B, N, F + 3)
    mask = L.ParticleMask(name="mask")(inputs)                                          # (B, N, 1)
    idx, nmask = L.TreeNeighbours([int(c) % n_columns for c in graph_columns], name="graph")(inputs)  # (B, N, 3)
    fts = L.TakeFeatures(kinematic, name="node_features")(inputs)                       # (B, N, F)
    fts = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="fts_bn")(fts)
    outputs = []
    for i, channels in enumerate(conv_channels):
        p = f"edgeconv{i}"
        x = None
        for j, ch in enumerate(channels):
            if j == 0:
                x = L.EdgeConvProjection(int(ch), name=f"{p}_conv0")([fts, idx])              # (B, N, 3, ch)
            else:
                x = tf.keras.layers.Dense(int(ch), use_bias=False, kernel_initializer="glorot_normal",
                                          name=f"{p}_conv{j}")(x)
            x = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{p}_bn{j}")(x)
            x = tf.keras.layers.Activation("relu", name=f"{p}_act{j}")(x)
        x = L.MaskedNeighbourMean(name=f"{p}_mean")([x, nmask])                         # (B, N, C')
        sc = fts
        if int(fts.shape[-1]) != int(channels[-1]):
            sc = tf.keras.layers.Dense(int(channels[-1]), use_bias=False, kernel_initializer="glorot_normal",
                                       name=f"{p}_sc_conv")(fts)
            sc = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{p}_sc_bn")(sc)
        x = tf.keras.layers.Add(name=f"{p}_add")([sc, x])
        fts = tf.keras.layers.Activation("relu", name=f"{p}_out")(x)                    # (B, N, C')
        outputs.append(fts)
    if fusion:
        x = tf.keras.layers.Concatenate(axis=-1, name="fusion_concat")(outputs) if len(outputs) > 1 else outputs[0]
        x = tf.keras.layers.Dense(fusion_units(conv_channels), name="fusion")(x)
        x = tf.keras.layers.Activation("relu", name="fusion_act")(x)
        fts = tf.keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="fusion_bn")(x)
    x = L.MaskedGlobalAverage(name="pool")([fts, mask])                                 # (B, C)
    return tf.keras.Model(inputs, classifier_head(x, fc, n_classes), name=name)


def published_parameter_count(n_features: int, n_classes: int = 2,
                              conv_channels: Sequence[Sequence[int]] = PUBLISHED_CONV,
                              fc: Sequence[int] = (256,)) -> int:
    """Trainable parameters of the published LundNet (its PyTorch definition, counted by hand):
    input BN; per block theta and phi (no bias), further linear layers (no bias), BN per layer,
    shortcut linear + BN when the width changes; fusion linear + BN; FC layers and the output layer."""
    total = 2 * n_features
    c_in = n_features
    for channels in conv_channels:
        total += 2 * c_in * channels[0] + 2 * channels[0]
        for a, b in zip(channels[:-1], channels[1:]):
            total += a * b + 2 * b
        if c_in != channels[-1]:
            total += c_in * channels[-1] + 2 * channels[-1]
        c_in = channels[-1]
    f_in = sum(c[-1] for c in conv_channels)
    f_out = fusion_units(conv_channels)
    total += f_in * f_out + f_out + 2 * f_out
    prev = f_out
    for units in fc:
        total += prev * units + units
        prev = units
    return total + prev * n_classes + n_classes
