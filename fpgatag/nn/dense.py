"""The dense teacher: an MLP on the flattened full-resolution particles.

It is the simple teacher of the first transfer-learning scenario (dense teacher on high-resolution
inputs, dense student on low-resolution inputs) and a baseline for ParticleNet. Its input is an
:class:`~fpgatag.nn.inputs.InputSpec` of kind ``flat_particles``: (B, P * F).

Layer names: ``dense{i}``, ``dense{i}_bn``, ``dense{i}_act``, ``dense{i}_drop``, ``logits``, ``probs``.
"""

from __future__ import annotations

from typing import Sequence

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.presets import builder


@builder("dense-teacher")
def build_dense_teacher(
    input_shape: Sequence[int],
    n_classes: int = 2,
    *,
    units: Sequence[int] = (256, 128, 64),
    dropout: float = 0.1,
    batch_norm: bool = True,
    name: str = "dense_teacher",
):
    """Build an uncompiled MLP: Dense -> (BatchNorm) -> ReLU -> (Dropout) per entry of ``units``."""
    import tensorflow as tf

    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (1, 2):
        raise FpgatagError(f"dense-teacher: input shape must be (features,) or (particles, features), got {shape}")
    if not units:
        raise FpgatagError("dense-teacher: units must list at least one hidden layer")
    inputs = tf.keras.Input(shape=shape, name="inputs")
    x = tf.keras.layers.Flatten(name="flatten")(inputs) if len(shape) == 2 else inputs
    for i, n in enumerate(units):
        x = tf.keras.layers.Dense(int(n), use_bias=not batch_norm, name=f"dense{i}")(x)
        if batch_norm:
            x = tf.keras.layers.BatchNormalization(momentum=0.9, name=f"dense{i}_bn")(x)
        x = tf.keras.layers.Activation("relu", name=f"dense{i}_act")(x)
        if dropout and dropout > 0:
            x = tf.keras.layers.Dropout(float(dropout), name=f"dense{i}_drop")(x)
    logits = tf.keras.layers.Dense(int(n_classes), name="logits")(x)
    probs = tf.keras.layers.Activation("softmax", dtype="float32", name="probs")(logits)
    return tf.keras.Model(inputs, probs, name=name)
