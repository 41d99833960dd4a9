"""Per-layer value ranges of the firmware against the representable range of each layer's type.

The usual complaint "C simulation doesn't match Keras, and nobody knows which layer" is answered
layer by layer: the firmware is compiled in hls4ml's trace mode, each layer's outputs are compared
with the Keras model's outputs of the layer with the same name, and the Keras range is checked
against the layer's fixed-point type. A layer whose Keras values leave the type's range
*overflows* (wrap-around types) or *saturates* (``SAT`` types).
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def type_range(precision) -> dict[str, Any]:
    """Representable [lo, hi] and LSB of an hls4ml fixed/integer precision."""
    w, i, signed = int(precision.width), int(precision.integer), bool(precision.signed)
    lsb = 2.0 ** (i - w)
    if signed:
        lo, hi = -(2.0 ** (i - 1)), 2.0 ** (i - 1) - lsb
    else:
        lo, hi = 0.0, 2.0 ** i - lsb
    sat = "SAT" in str(getattr(precision, "saturation_mode", "")).upper()
    return {"type": str(precision), "lo": lo, "hi": hi, "lsb": lsb, "saturating": sat}


def keras_layer_outputs(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs of every (non-input) Keras layer, by layer name, for a float input batch."""
    import tensorflow as tf

    layers = [l for l in model.layers if l.__class__.__name__ != "InputLayer"]
    probe = tf.keras.Model(model.inputs, [l.output for l in layers])
    outs = probe.predict(x, batch_size=1024, verbose=0)
    if not isinstance(outs, list):
        outs = [outs]
    fused = {l.name for l in layers if getattr(getattr(l, "activation", None), "__name__", "linear") not in ("linear", None)
             and l.__class__.__name__ not in ("Activation", "QActivation")}
    return {l.name: np.asarray(o) for l, o in zip(layers, outs) if l.name not in fused}


def profile_layers(keras_model, hls_model, x: np.ndarray) -> list[dict[str, Any]]:
    """Rows per traced firmware layer: type range, seen ranges (firmware, Keras), verdict.

    ``hls_model`` must be converted with Trace on (``convert(..., trace=True)``); it is compiled here.
    """
    with contextlib.redirect_stdout(io.StringIO()):   # hls4ml prints while tracing
        _, trace = hls_model.trace(np.ascontiguousarray(x, dtype=np.float32))
    kout = keras_layer_outputs(keras_model, x)
    rows = []
    for layer in hls_model.get_layers():
        if layer.name not in trace:
            continue
        prec = layer.get_output_variable().type.precision
        if not hasattr(prec, "width") or not hasattr(prec, "integer"):
            continue
        r = type_range(prec)
        h = np.asarray(trace[layer.name], dtype=np.float64).reshape(len(x), -1)
        row = {"layer": layer.name, "class": layer.class_name, "type": r["type"],
               "type_lo": r["lo"], "type_hi": r["hi"], "hls_min": float(h.min()), "hls_max": float(h.max()),
               "keras_min": None, "keras_max": None, "mismatch_fraction": None, "status": "ok"}
        k = kout.get(layer.name)
        if k is not None and k.size == h.size:
            k = k.reshape(len(x), -1).astype(np.float64)
            row["keras_min"], row["keras_max"] = float(k.min()), float(k.max())
            row["mismatch_fraction"] = float(np.mean(np.abs(k - h) >= r["lsb"]))
            out_of_range = np.mean((k < r["lo"]) | (k > r["hi"] + r["lsb"]))
            row["out_of_range_fraction"] = float(out_of_range)
            if out_of_range > 0:
                row["status"] = "saturates" if r["saturating"] else "overflows"
            elif row["mismatch_fraction"] > 0:
                row["status"] = "precision"
        rows.append(row)
    for row in rows:
        if row["status"] in ("overflows", "saturates"):
            log.warning("layer %s %s: Keras range [%.4g, %.4g] outside %s [%.4g, %.4g]", row["layer"], row["status"],
                        row["keras_min"], row["keras_max"], row["type"], row["type_lo"], row["type_hi"])
    return rows
