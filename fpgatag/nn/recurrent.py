"""Recurrent QKeras students: a GRU or an LSTM over the pT-ordered trigger-view objects.

Builders follow the preset contract ``build(input_shape, n_classes, **params)`` (see
:mod:`fpgatag.nn.presets`); ``input_shape`` is ``(n_objects, n_features)``, the objects in the
trigger view's order (highest pT first, padded objects all-zero rows at the end). The network is

    inputs (B, N, F) -> QGRU/QLSTM ``rnn`` (last state, (B, units)) -> QDense ``dense1`` + relu ...
    -> QDense ``logits``

What hls4ml 1.3.0 converts, and how it was chosen:

* QKeras ``QGRU``/``QLSTM`` (weights, recurrent weights and biases through ``quantized_bits``)
  convert with hls4ml's QKeras handler; plain Keras ``GRU``/``LSTM`` would carry float weights.
* The gate activations are ``quantized_tanh(bits, use_real_tanh=True)`` and
  ``quantized_sigmoid(bits, use_real_sigmoid=True)``: without ``use_real_*`` QKeras computes hard
  (piecewise-linear) functions, which hls4ml refuses inside recurrent layers.
* GRUs use ``reset_after=True`` (the Keras default): hls4ml's ``reset_after=False`` cell does not
  compute what Keras computes (a float GRU differs by up to 1.0 at the output), while the
  ``reset_after=True`` cell agrees to within its activation tables.
* hls4ml evaluates tanh and sigmoid from lookup tables, QKeras from the real functions, so the
  C simulation of a recurrent student is *not* bit-exact: ``fpgatag validate`` reports the largest
  output difference in LSBs.

QKeras 0.9.0's recurrent cells call two TensorFlow functions that TensorFlow 2.14 no longer has
(``nest.is_sequence``, ``array_ops.unstack``); :func:`qkeras_compat` restores them as aliases of
their current names (``nest.is_nested``, ``tf.unstack``) before a recurrent student is built, and
:mod:`fpgatag.nn.io` does before loading any model.
"""

from __future__ import annotations

from typing import Sequence

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.presets import builder
from fpgatag.nn.students import Quant, _units

CELLS = ("gru", "lstm")
RECURRENT_CLASSES = ("QGRU", "QLSTM", "GRU", "LSTM")


def qkeras_compat() -> None:
    """Give TensorFlow 2.14 the two names QKeras 0.9.0's recurrent cells still call."""
    import tensorflow as tf
    from tensorflow.python.ops import array_ops
    from tensorflow.python.util import nest

    if not hasattr(nest, "is_sequence"):
        nest.is_sequence = nest.is_nested
    if not hasattr(array_ops, "unstack"):
        array_ops.unstack = tf.unstack



def _rnn_layer(cell: str, units: int, q: Quant, state_bits: int):
    from qkeras import QGRU, QLSTM

    kw = dict(kernel_quantizer=q.weight(), recurrent_quantizer=q.weight(), bias_quantizer=q.weight(),
              activation=f"quantized_tanh({state_bits},use_real_tanh=True)",
              recurrent_activation=f"quantized_sigmoid({state_bits},use_real_sigmoid=True)", name="rnn")
    if cell == "gru":
        return QGRU(units, reset_after=True, **kw)
    return QLSTM(units, **kw)


def build_recurrent(cell: str, input_shape: Sequence[int], n_classes: int, units: int = 16,
                    dense: Sequence[int] = (16,), bits: int = 8, weight_integer: int = 0,
                    activation_bits: int | None = None, activation_integer: int | None = None,
                    state_bits: int | None = None):
    """A ``cell`` ("gru" or "lstm") student; ``state_bits`` (default ``bits``) is the width of the
    quantized tanh/sigmoid outputs, i.e. of the hidden state."""
    import tensorflow as tf

    qkeras_compat()

    if cell not in CELLS:
        raise FpgatagError(f"recurrent student: cell {cell!r} is not one of {', '.join(CELLS)}")
    if len(input_shape) != 2:
        raise FpgatagError(f"{cell}: input shape {tuple(input_shape)} is not (n_objects, n_features); use inputs kind 'trigger'")
    (units,) = _units(units, "units")
    q = Quant(bits, weight_integer, activation_bits, activation_integer)
    sb = q.bits if state_bits is None else int(state_bits)
    Quant(sb)  # the same bit range check
    x_in = tf.keras.Input(shape=tuple(input_shape), name="inputs")  # (B, N, F), pT ordered
    x = _rnn_layer(cell, units, q, sb)(x_in)  # (B, units): the state after the last object
    for i, width in enumerate(_units(list(dense), "dense"), start=1):
        x = q.dense(width, f"dense{i}")(x)
        x = q.act(f"dense{i}_relu")(x)
    out = q.dense(n_classes, "logits")(x)  # (B, C), linear
    return tf.keras.Model(x_in, out, name=cell)


@builder("gru", params_of=build_recurrent)
def build_gru(input_shape: Sequence[int], n_classes: int, **params):
    """GRU student (see :func:`build_recurrent` for the parameters)."""
    return build_recurrent("gru", input_shape, n_classes, **params)


@builder("lstm", params_of=build_recurrent)
def build_lstm(input_shape: Sequence[int], n_classes: int, **params):
    """LSTM student (see :func:`build_recurrent` for the parameters)."""
    return build_recurrent("lstm", input_shape, n_classes, **params)


def recurrent_layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers if type(layer).__name__ in RECURRENT_CLASSES]


def loadable_architecture(arch: dict) -> dict:
    """``arch`` (a ``model.to_json()`` dict) without the recurrent layers' ``build_config``.

    Keras 2.14 writes a recurrent layer's build input shape as a list, which its RNN ``build``
    then mistakes for a list of shapes (``as_list() is not defined on an unknown TensorShape``);
    without it the layer is built when the functional graph is rebuilt, with the right shape.
    """
    config = arch.get("config") if isinstance(arch, dict) else None
    for layer in (config.get("layers") or []) if isinstance(config, dict) else []:
        if isinstance(layer, dict) and layer.get("class_name") in RECURRENT_CLASSES:
            layer.pop("build_config", None)
    return arch
