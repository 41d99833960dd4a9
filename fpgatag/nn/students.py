"""Quantized QKeras students for the trigger view: Deep Sets, MLP and a dense student.

Every builder follows the preset contract ``build(input_shape, n_classes, **params)`` and returns an
uncompiled ``tf.keras.Model`` whose layers all convert with hls4ml 1.3.0 (``io_parallel``) and whose
C simulation is bit-exact with Keras on inputs already on the input grid (see
:class:`fpgatag.nn.inputs.InputSpec`).

Conventions shared by all students:

* Layer names are deterministic: ``inputs``, ``phi1``, ``phi1_relu``, ..., ``pool``, ``rho1``,
  ``rho1_relu``, ..., ``dense1``, ``dense1_relu``, ..., ``logits``. hls4ml configures layers by name.
* Weights and biases use ``quantized_bits(bits, weight_integer, alpha=1)``; activations use
  ``quantized_relu(activation_bits, activation_integer)``.
* The last layer is a ``QDense`` named ``logits`` with a linear (quantized-weight) output and no
  softmax: hls4ml's softmax is a lookup-table approximation and would break bit-exactness.
  Probabilities are ``softmax(logits)`` computed in numpy (:func:`softmax`).

Deep Sets and padded objects: the input holds ``n_objects`` rows, padded objects being all-zero rows.
Exactly as in firmware, the zero rows pass through the per-object network ``phi`` (giving
``phi(0)``, which is not zero when biases are) and the pooling averages (or maxes) over all
``n_objects`` rows. There is no mask; the network learns with the padding it will see in firmware.
Pooling is permutation invariant, so the output does not depend on the order of the objects.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.presets import builder

MIN_BITS, MAX_BITS = 4, 16
POOLS = ("mean", "max")
PHI_LAYERS = ("conv1d",)


def check_bits(bits: Any, what: str = "bits") -> int:
    """``bits`` as an int in [MIN_BITS, MAX_BITS], or a one-line FpgatagError."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not MIN_BITS <= int(bits) <= MAX_BITS:
        raise FpgatagError(f"{what}={bits!r}: quantized students take {MIN_BITS} to {MAX_BITS} bits (for example 4, 6, 8, 16)")
    return int(bits)


def default_activation_integer(activation_bits: int) -> int:
    """Integer bits of ``quantized_relu`` for a given width (range [0, 2**integer))."""
    if activation_bits <= 4:
        return 2
    if activation_bits <= 8:
        return 3
    return 6


class Quant:
    """The quantizers of one student: weights/biases and activations."""

    def __init__(self, bits: int = 8, weight_integer: int = 0, activation_bits: int | None = None,
                 activation_integer: int | None = None):
        self.bits = check_bits(bits)
        self.activation_bits = check_bits(self.bits if activation_bits is None else activation_bits, "activation_bits")
        self.weight_integer = int(weight_integer)
        if not 0 <= self.weight_integer < self.bits:
            raise FpgatagError(f"weight_integer={weight_integer}: must be in [0, bits={self.bits})")
        ai = default_activation_integer(self.activation_bits) if activation_integer is None else int(activation_integer)
        if not 0 <= ai < self.activation_bits:
            raise FpgatagError(f"activation_integer={activation_integer}: must be in [0, activation_bits={self.activation_bits})")
        self.activation_integer = ai

    def weight(self):
        from qkeras import quantized_bits

        return quantized_bits(self.bits, self.weight_integer, alpha=1)

    def relu(self):
        from qkeras import quantized_relu

        return quantized_relu(self.activation_bits, self.activation_integer)

    def dense(self, units: int, name: str):
        from qkeras import QDense

        return QDense(units, kernel_quantizer=self.weight(), bias_quantizer=self.weight(), name=name)

    def conv1(self, units: int, name: str):
        from qkeras import QConv1D

        return QConv1D(units, kernel_size=1, kernel_quantizer=self.weight(), bias_quantizer=self.weight(), name=name)

    def act(self, name: str):
        from qkeras import QActivation

        # a string, not a quantizer object: QActivation's config then round-trips through model.json
        return QActivation(f"quantized_relu({self.activation_bits},{self.activation_integer})", name=name)


def _units(values: Sequence[int] | int, what: str) -> list[int]:
    values = [values] if isinstance(values, int) else list(values)
    if any(not isinstance(v, int) or v < 1 for v in values):
        raise FpgatagError(f"{what}={values!r}: layer widths must be positive integers")
    return values


@builder("deepsets")
def build_deepsets(input_shape: Sequence[int], n_classes: int, phi: Sequence[int] = (32, 32),
                   rho: Sequence[int] = (32,), pool: str = "mean", phi_layer: str = "conv1d",
                   bits: int = 8, weight_integer: int = 0, activation_bits: int | None = None,
                   activation_integer: int | None = None):
    """Deep Sets: per-object ``phi`` -> permutation-invariant pool -> ``rho`` -> ``logits``.

    ``input_shape`` is ``(n_objects, n_features)``. ``phi`` is a ``QConv1D`` with kernel 1 (the same
    computation as a ``QDense`` on the object axis): hls4ml 1.3.0 converts a ``QDense`` on a 3-D
    input into a pointwise convolution that is *not* bit-exact with QKeras, while ``QConv1D``
    with kernel 1 is, so ``phi_layer="dense"`` is refused. ``pool`` is ``mean``
    (GlobalAveragePooling1D; ``n_objects`` must then be a power of two so that the mean is exact in
    fixed point) or ``max`` (GlobalMaxPooling1D). A sum pool has no hls4ml 1.3.0 layer; it equals
    the mean times ``n_objects``, a constant factor (a shift) that the next layer absorbs.
    """
    import tensorflow as tf

    if len(input_shape) != 2:
        raise FpgatagError(f"deepsets: input shape {tuple(input_shape)} is not (n_objects, n_features); use inputs kind 'trigger'")
    if pool not in POOLS:
        hint = " (sum: use mean, which differs by the constant factor n_objects)" if pool == "sum" else ""
        raise FpgatagError(f"deepsets: pool {pool!r} is not one of {', '.join(POOLS)}{hint}")
    if phi_layer not in PHI_LAYERS:
        hint = " (QDense on the object axis does not convert bit-exactly with hls4ml 1.3.0)" if phi_layer == "dense" else ""
        raise FpgatagError(f"deepsets: phi_layer {phi_layer!r} is not one of {', '.join(PHI_LAYERS)}{hint}")
    n_objects = int(input_shape[0])
    if pool == "mean" and n_objects & (n_objects - 1):
        raise FpgatagError(f"deepsets: mean pooling over n_objects={n_objects} is not exact in fixed point; use a power of two (8, 16, 32) or pool 'max'")
    q = Quant(bits, weight_integer, activation_bits, activation_integer)
    x_in = tf.keras.Input(shape=tuple(input_shape), name="inputs")  # (B, N, F)
    x = x_in
    for i, units in enumerate(_units(phi, "phi"), start=1):
        x = q.conv1(units, f"phi{i}")(x)  # (B, N, units)
        x = q.act(f"phi{i}_relu")(x)
    if pool == "mean":
        x = tf.keras.layers.GlobalAveragePooling1D(name="pool")(x)  # (B, units)
    else:
        x = tf.keras.layers.GlobalMaxPooling1D(name="pool")(x)
    for i, units in enumerate(_units(rho, "rho"), start=1):
        x = q.dense(units, f"rho{i}")(x)
        x = q.act(f"rho{i}_relu")(x)
    out = q.dense(n_classes, "logits")(x)  # (B, C), linear
    return tf.keras.Model(x_in, out, name="deepsets")


def _build_mlp(name: str, input_shape: Sequence[int], n_classes: int, hidden: Sequence[int], bits: int,
               weight_integer: int, activation_bits: int | None, activation_integer: int | None):
    import tensorflow as tf

    if len(input_shape) != 1:
        raise FpgatagError(f"{name}: input shape {tuple(input_shape)} is not flat; use inputs kind 'jet' or 'flat_trigger'")
    q = Quant(bits, weight_integer, activation_bits, activation_integer)
    x_in = tf.keras.Input(shape=tuple(input_shape), name="inputs")  # (B, F)
    x = x_in
    for i, units in enumerate(_units(hidden, "hidden"), start=1):
        x = q.dense(units, f"dense{i}")(x)
        x = q.act(f"dense{i}_relu")(x)
    out = q.dense(n_classes, "logits")(x)  # (B, C), linear
    return tf.keras.Model(x_in, out, name=name)


@builder("mlp")
def build_mlp(input_shape: Sequence[int], n_classes: int, hidden: Sequence[int] = (32, 16), bits: int = 8,
              weight_integer: int = 0, activation_bits: int | None = None, activation_integer: int | None = None):
    """MLP on the trigger view's high-level jet features (inputs kind ``jet``)."""
    return _build_mlp("mlp", input_shape, n_classes, hidden, bits, weight_integer, activation_bits, activation_integer)


@builder("dense_student")
def build_dense_student(input_shape: Sequence[int], n_classes: int, hidden: Sequence[int] = (64, 32, 16),
                        bits: int = 8, weight_integer: int = 0, activation_bits: int | None = None,
                        activation_integer: int | None = None):
    """Dense network on the flattened trigger view (inputs kind ``flat_trigger``)."""
    return _build_mlp("dense_student", input_shape, n_classes, hidden, bits, weight_integer, activation_bits,
                      activation_integer)


def hls_precision_overrides(model, inputs=None) -> dict[str, dict[str, str]]:
    """Per-layer hls4ml precision settings a student needs to be bit-exact with Keras.

    Returns ``{layer_name: {"result": ..., "accum": ...}}`` to merge into
    ``config["LayerName"][layer_name]["Precision"]`` of a ``granularity="name"`` hls4ml config:

    * ``inputs``: the input precision ``fixed<input_bits, input_integer_bits>`` of the :class:`InputSpec`
      (inputs are rounded to that grid before they reach Keras or the firmware).
    * ``pool`` (Deep Sets): hls4ml's default ``fixed<16,6>`` accumulator overflows and truncates the
      mean. The sum of N values ``ufixed<a, i>`` needs ``i + log2 N`` integer bits and the mean
      ``log2 N`` more fractional bits; both are set exactly here.
    All other layers use hls4ml's ``auto`` (exact) precision inference from the QKeras quantizers.
    """
    out: dict[str, dict[str, str]] = {}
    if inputs is not None and getattr(inputs, "input_bits", None) is not None:
        out["inputs"] = {"result": f"fixed<{inputs.input_bits},{inputs.input_integer_bits}>"}
    names = [layer.name for layer in model.layers]
    if "pool" in names:
        pool = model.get_layer("pool")
        prev = model.layers[names.index("pool") - 1]
        quant = getattr(prev, "quantizer", None)
        a = int(getattr(quant, "bits", 16))
        i = int(getattr(quant, "integer", 6))
        frac = a - i
        n = int(pool.input_shape[1])
        k = max(int(np.ceil(np.log2(n))), 0)
        if type(pool).__name__ == "GlobalAveragePooling1D":
            out["pool"] = {"accum": f"fixed<{i + k + 1 + frac + k},{i + k + 1}>",
                           "result": f"fixed<{i + 1 + frac + k},{i + 1}>"}
        else:
            out["pool"] = {"accum": f"fixed<{a + 1},{i + 1}>", "result": f"fixed<{a + 1},{i + 1}>"}
    return out


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax in float64 (students output logits; probabilities are computed here)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def phi_layer_names(model) -> list[str]:
    """Names of the per-object (phi) layers of a Deep Sets model, the ones ``--freeze`` fixes."""
    return [layer.name for layer in model.layers if layer.name.startswith("phi")]


def count_params(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


# ---- magnitude pruning (see fpgatag.train.distill: the "sparsity" training option) ----
PRUNABLE_CLASSES = ("QDense", "QConv1D", "Dense", "Conv1D")
NOT_PRUNED = ("logits",)  # the output layer: a handful of weights, each one an output's whole evidence


def check_sparsity(sparsity: Any, what: str = "sparsity") -> float:
    """``sparsity`` as a float in [0, 1), or a one-line FpgatagError."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(sparsity) < 1.0:
        raise FpgatagError(f"{what}={sparsity!r}: the target fraction of zero weights must be in [0, 1) (for example 0.5, 0.75)")
    return float(sparsity)


def prunable_layer_names(model, skip: Sequence[str] = NOT_PRUNED) -> list[str]:
    """Names of the trainable dense/pointwise-conv layers that magnitude pruning thins (all but ``skip``)."""
    return [layer.name for layer in model.layers
            if type(layer).__name__ in PRUNABLE_CLASSES and layer.name not in skip and layer.trainable]


def quantized_kernel(layer) -> np.ndarray:
    """The kernel as the firmware sees it: through the layer's QKeras kernel quantizer, if any."""
    kernel = layer.get_weights()[0]
    quant = getattr(layer, "kernel_quantizer_internal", None)
    if quant is None:
        return np.asarray(kernel)
    return np.asarray(quant(kernel.astype(np.float32)))


def weight_sparsity(model, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Fraction of zero kernel weights, per layer and over ``names`` (default: every dense/conv layer).

    Returns ``{"sparsity": f, "quantized_sparsity": q, "layers": {name: {"n": .., "sparsity": ..,
    "quantized_sparsity": ..}}}``: ``sparsity`` counts the stored float zeros (what pruning set),
    ``quantized_sparsity`` the zeros after the weight quantizer (small weights round to zero too),
    which is what the firmware and its resource estimate see.
    """
    if names is None:
        names = [layer.name for layer in model.layers if type(layer).__name__ in PRUNABLE_CLASSES]
    layers, n, z, zq = {}, 0, 0, 0
    for name in names:
        layer = model.get_layer(name)
        kernel = np.asarray(layer.get_weights()[0])
        k_zero, q_zero = int(np.sum(kernel == 0)), int(np.sum(quantized_kernel(layer) == 0))
        layers[name] = {"n": int(kernel.size), "sparsity": round(k_zero / kernel.size, 6),
                        "quantized_sparsity": round(q_zero / kernel.size, 6)}
        n, z, zq = n + kernel.size, z + k_zero, zq + q_zero
    return {"sparsity": round(z / n, 6) if n else 0.0, "quantized_sparsity": round(zq / n, 6) if n else 0.0,
            "layers": layers}
