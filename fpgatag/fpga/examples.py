"""Small QKeras students of the shapes fpgatag trains, for tests, benchmarks and estimates.

Same layer types as the real students: QDense on the object axis (phi), GlobalAveragePooling1D or
GlobalMaxPooling1D, QDense (rho) with quantized_relu, and a linear QDense named "logits".
Weights are drawn (seeded), optionally Laplace-spread like an L1-regularised training and pruned
by magnitude; no training is needed for firmware checks.
"""

from __future__ import annotations

import numpy as np


def _q(bits: int):
    """A fresh weight quantizer per use: a quantizer object shared by several layers does not survive
    the Keras JSON round trip (Keras serializes it as a shared object and QKeras cannot rebuild it)."""
    from qkeras import quantized_bits

    return quantized_bits(bits, 0, alpha=1)


def _relu(bits: int) -> str:
    return f"quantized_relu({bits},3)"


def deep_sets(n_objects: int = 16, n_features: int = 8, phi=(32, 32), rho=(32, 16), n_out: int = 2,
              bits: int = 8, pooling: str = "average", seed: int = 0, sparsity: float = 0.0,
              l1_like: bool = False, name: str = "deep_sets"):
    """A quantized Deep Sets: (N, F) -> phi per object -> pool -> rho -> logits."""
    import tensorflow as tf
    from qkeras import QActivation, QDense

    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((n_objects, n_features), name="inputs")                 # (B, N, F)
    x = inp
    for i, n in enumerate(phi):
        x = QDense(n, kernel_quantizer=_q(bits), bias_quantizer=_q(bits), name=f"phi_dense{i}")(x)   # (B, N, n)
        x = QActivation(_relu(bits), name=f"phi_relu{i}")(x)
    pool = tf.keras.layers.GlobalAveragePooling1D if pooling == "average" else tf.keras.layers.GlobalMaxPooling1D
    x = pool(name="pool")(x)                                                     # (B, phi[-1])
    for i, n in enumerate(rho):
        x = QDense(n, kernel_quantizer=_q(bits), bias_quantizer=_q(bits), name=f"rho_dense{i}")(x)
        x = QActivation(_relu(bits), name=f"rho_relu{i}")(x)
    x = QDense(n_out, kernel_quantizer=_q(bits), bias_quantizer=_q(bits), name="logits")(x)   # (B, n_out) linear
    model = tf.keras.Model(inp, x, name=name)
    _draw(model, seed, sparsity, l1_like)
    return model


def mlp(n_inputs: int = 16, hidden=(32, 16), n_out: int = 2, bits: int = 8, seed: int = 0,
        sparsity: float = 0.0, l1_like: bool = False, name: str = "mlp"):
    """A quantized MLP on flat features: (F,) -> hidden QDense+quantized_relu -> logits."""
    import tensorflow as tf
    from qkeras import QActivation, QDense

    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((n_inputs,), name="inputs")
    x = inp
    for i, n in enumerate(hidden):
        x = QDense(n, kernel_quantizer=_q(bits), bias_quantizer=_q(bits), name=f"dense{i}")(x)
        x = QActivation(_relu(bits), name=f"relu{i}")(x)
    x = QDense(n_out, kernel_quantizer=_q(bits), bias_quantizer=_q(bits), name="logits")(x)
    model = tf.keras.Model(inp, x, name=name)
    _draw(model, seed, sparsity, l1_like)
    return model


def _draw(model, seed: int, sparsity: float, l1_like: bool) -> None:
    if not (sparsity or l1_like):
        return
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        w = layer.get_weights()
        if len(w) != 2:
            continue
        k, b = w
        if l1_like:   # Laplace spread with lecun's std, as after L1-regularised training
            k = rng.laplace(0.0, np.sqrt(1.0 / (2.0 * k.shape[0])), size=k.shape)
        if sparsity:
            flat = k.ravel().copy()
            flat[np.argsort(np.abs(flat))[: int(round(sparsity * flat.size))]] = 0.0
            k = flat.reshape(k.shape)
        layer.set_weights([k.astype(np.float32), b])


def inputs_for(model, n: int, seed: int = 0, scale: float = 2.0) -> np.ndarray:
    """Random inputs in the model's input shape (quantize before use)."""
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(-scale, scale, size=(n, *shape)).astype(np.float32)
