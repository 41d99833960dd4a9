"""Small QKeras students of the shapes fpgatag trains, for tests, benchmarks and estimates.

They are built by the shipped student builders (:func:`fpgatag.nn.students.build_deepsets` and
:func:`~fpgatag.nn.students.build_mlp`, the builders the presets name), so they have exactly the
layers ``fpgatag train-student`` writes: a kernel-1 ``QConv1D`` per object (phi),
GlobalAveragePooling1D or GlobalMaxPooling1D, QDense (rho) with quantized_relu, and a linear QDense
named "logits". Weights are drawn (seeded), optionally Laplace-spread like an L1-regularised
training and pruned by magnitude; no training is needed for firmware checks.
"""

from __future__ import annotations

import numpy as np

POOLS = {"average": "mean", "mean": "mean", "max": "max"}


def _named(model, name: str):
    """``model`` under another name (hls4ml and Keras JSON carry the model's name)."""
    import tensorflow as tf

    return model if model.name == name else tf.keras.Model(model.inputs, model.outputs, name=name)


def deep_sets(n_objects: int = 16, n_features: int = 8, phi=(32, 32), rho=(32, 16), n_out: int = 2,
              bits: int = 8, pooling: str = "average", seed: int = 0, sparsity: float = 0.0,
              l1_like: bool = False, name: str = "deepsets"):
    """The shipped Deep Sets student (preset builder ``deepsets``): (N, F) -> phi per object -> pool -> rho -> logits."""
    import tensorflow as tf

    from fpgatag.nn.students import build_deepsets

    tf.keras.utils.set_random_seed(seed)
    model = build_deepsets((n_objects, n_features), n_out, phi=tuple(phi), rho=tuple(rho), pool=POOLS.get(pooling, pooling), bits=bits)
    _draw(model, seed, sparsity, l1_like)
    return _named(model, name)


def mlp(n_inputs: int = 16, hidden=(32, 16), n_out: int = 2, bits: int = 8, seed: int = 0,
        sparsity: float = 0.0, l1_like: bool = False, name: str = "mlp"):
    """The shipped MLP student (preset builder ``mlp``) on flat features: (F,) -> QDense+quantized_relu -> logits."""
    import tensorflow as tf

    from fpgatag.nn.students import build_mlp

    tf.keras.utils.set_random_seed(seed)
    model = build_mlp((n_inputs,), n_out, hidden=tuple(hidden), bits=bits)
    _draw(model, seed, sparsity, l1_like)
    return _named(model, name)


def _draw(model, seed: int, sparsity: float, l1_like: bool) -> None:
    if not (sparsity or l1_like):
        return
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        w = layer.get_weights()
        if len(w) != 2:
            continue
        k, b = w
        if l1_like:   # Laplace spread with lecun's std (fan-in: every kernel axis but the last), as after L1 training
            fan_in = int(np.prod(k.shape[:-1]))
            k = rng.laplace(0.0, np.sqrt(1.0 / (2.0 * fan_in)), size=k.shape)
        if sparsity:
            flat = k.ravel().copy()
            flat[np.argsort(np.abs(flat))[: int(round(sparsity * flat.size))]] = 0.0
            k = flat.reshape(k.shape)
        layer.set_weights([k.astype(np.float32), b])


def inputs_for(model, n: int, seed: int = 0, scale: float = 2.0) -> np.ndarray:
    """Random inputs in the model's input shape (quantize before use)."""
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    return np.random.default_rng(seed).uniform(-scale, scale, size=(n, *shape)).astype(np.float32)
