"""Model loading and hls4ml conversion.

MODEL may be a run directory (``model.json`` + ``model.h5`` [+ ``inputs.json``]), a full Keras
``.h5`` model file, or a Keras JSON architecture plus a weights ``.h5`` (the classic hls4ml example
format: ``KERAS_3layer.json`` + ``KERAS_3layer_weights.h5``).

Conversion rules (each one a small function registered per Keras layer type by
:func:`layer_rule`, applied to the hls4ml config by name):

* precisions come from the QKeras quantizers (``config_from_keras_model(granularity="name")``);
  results and accumulators of Dense/Conv layers are left ``auto`` so hls4ml sizes them exactly;
* average-pooling sums are widened so that N objects never overflow and the division by N keeps
  every bit (exact for power-of-two N);
* the input layer gets the InputSpec precision ``ap_fixed<input_bits, input_integer_bits>``.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)

from fpgatag.fpga.options import BACKENDS, IO_TYPES, STRATEGIES, FirmwareOptions, merge_hls_config  # noqa: E402,F401
from fpgatag.fpga.parts import DEFAULT_PART, resolve_part  # noqa: E402
DEFAULT_INPUT_PRECISION = (16, 6)   # hls4ml's default ap_fixed<16,6>


@dataclass
class LoadedModel:
    model: Any                       # keras.Model
    source: Path
    input_precision: tuple[int, int] | None = None   # (input_bits, input_integer_bits) from inputs.json
    inputs: Any = None                # InputSpec or None
    outputs: str | None = None        # "logits" or "probabilities" (fpgatag.train.runs.model_outputs)

    def __post_init__(self):
        if self.outputs is None and self.model is not None:
            from fpgatag.train.runs import model_outputs

            self.outputs = model_outputs(self.model, self.source if Path(self.source).is_dir() else None)


# --------------------------------------------------------------------------- loading
def _is_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def load_model_like(model, weights=None) -> LoadedModel:
    """A :class:`LoadedModel` from a LoadedModel, a path in any accepted MODEL form, or a keras.Model."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_any_model(model, weights)
    return LoadedModel(model, Path("<memory>"))


def load_any_model(path: str | os.PathLike, weights: str | os.PathLike | None = None) -> LoadedModel:
    """Load MODEL in any accepted form; raise FpgatagError naming the file when it is not a model."""
    import json

    from fpgatag.nn import io as nnio

    path = Path(path)
    if not path.exists():
        raise FpgatagError(f"{path}: not found")
    if path.is_dir():
        model = nnio.load_model(path)
        spec = None
        if (path / nnio.INPUTS_JSON).is_file():
            spec = nnio.load_inputs(path)
        prec = spec.precision if spec is not None else None
        return LoadedModel(model, path, prec, spec)

    co = nnio.custom_objects()
    if path.suffix.lower() == ".json":
        try:
            arch = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FpgatagError(f"{path}: not a Keras model JSON ({exc.__class__.__name__})") from None
        if not isinstance(arch, dict) or "class_name" not in arch or "config" not in arch:
            raise FpgatagError(f"{path}: not a Keras model JSON (no class_name/config)")
        wpath = Path(weights) if weights else path.with_name(path.stem + "_weights.h5")
        if not wpath.is_file():
            raise FpgatagError(f"{wpath}: weights file not found for {path.name} (give the weights file)")
        return LoadedModel(nnio.model_from_json_and_weights(json.dumps(arch), path, wpath, co), path)

    if not _is_hdf5(path):
        raise FpgatagError(f"{path}: not a model (expected a run directory, a Keras .h5 model, or a Keras JSON + weights .h5)")
    if weights:
        raise FpgatagError(f"{path}: a weights file only goes with a JSON architecture file")
    return LoadedModel(nnio.load_h5_model(path, co), path)  # safe: architecture checked, then weights


# --------------------------------------------------------------------------- checks
def check_supported(model) -> None:
    """Refuse a model with a layer hls4ml 1.3.0 cannot convert, naming the layer and its type."""
    import hls4ml

    supported = set(hls4ml.converters.get_supported_keras_layers())
    for layer in model.layers:
        cls = layer.__class__.__name__
        if cls not in supported:
            raise FpgatagError(f"layer {layer.name!r}: type {cls} is not supported by hls4ml {hls4ml.__version__}")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise FpgatagError(f"model {model.name!r}: firmware needs exactly one input and one output "
                           f"(has {len(model.inputs)} and {len(model.outputs)})")


# --------------------------------------------------------------------------- layer rules
RuleFn = Callable[[dict, Any, Any, dict], None]
_RULES: dict[str, RuleFn] = {}


def layer_rule(*class_names: str) -> Callable[[RuleFn], RuleFn]:
    """Register a config rule for Keras layer classes: ``fn(layer_cfg, keras_layer, ir_layer, ctx)``.

    Rules run after a first conversion, so ``ir_layer`` carries hls4ml's resolved types.
    """

    def deco(fn: RuleFn) -> RuleFn:
        for name in class_names:
            if name in _RULES:
                raise ValueError(f"duplicate layer rule for {name}")
            _RULES[name] = fn
        return fn

    return deco


def fixed(width: int, integer: int, signed: bool = True, extra: str = "") -> str:
    return f"{'' if signed else 'u'}fixed<{int(width)},{int(integer)}{extra}>"


def precision_of(ir_var) -> tuple[int, int, bool]:
    """(width, integer, signed) of an hls4ml variable's precision."""
    p = ir_var.type.precision
    return int(p.width), int(p.integer), bool(p.signed)


@layer_rule("GlobalAveragePooling1D", "GlobalAveragePooling2D", "AveragePooling1D", "AveragePooling2D")
def _widen_average_pooling(cfg: dict, layer, ir_layer, ctx: dict) -> None:
    """The sum of N values needs ceil(log2 N) more integer bits; the mean then needs as many more
    fractional bits to stay exact (power-of-two N). hls4ml's default ap_fixed<16,6> overflows."""
    w, i, signed = precision_of(ir_layer.get_input_variable())
    shape = layer.input_shape
    if "Global" in layer.__class__.__name__:
        n = math.prod(int(d) for d in shape[1:-1])
    else:
        n = math.prod(int(p) for p in layer.pool_size)
    g = max(1, math.ceil(math.log2(max(n, 2))))
    frac = w - i
    i_s = i + (0 if signed else 1)          # signed integer bits of one input
    accum = fixed(i_s + g + frac + g, i_s + g)
    result = fixed(i_s + frac + g, i_s)
    prec = cfg.setdefault("Precision", {})
    prec["accum"] = accum
    prec["result"] = result
    ctx.setdefault("widened", []).append({"layer": layer.name, "n": n, "accum": accum, "result": result})


@layer_rule("Dense", "QDense", "Conv1D", "QConv1D")
def _parallel_over_objects(cfg: dict, layer, ir_layer, ctx: dict) -> None:
    """A Dense/Conv1D on the object axis (input (N, F)) becomes a 1-D convolution in hls4ml, which by
    default computes one object per clock (II = N). A trigger needs II = 1: unroll over all objects."""
    if len(layer.input_shape) != 3:
        return
    out_width = int(layer.output_shape[1])
    cfg["ParallelizationFactor"] = out_width
    ctx.setdefault("parallel", []).append({"layer": layer.name, "parallelization_factor": out_width})


@layer_rule("GlobalMaxPooling1D", "GlobalMaxPooling2D", "MaxPooling1D", "MaxPooling2D")
def _max_pooling_keeps_type(cfg: dict, layer, ir_layer, ctx: dict) -> None:
    """A maximum needs no extra bits: accumulator and result take the input type."""
    w, i, signed = precision_of(ir_layer.get_input_variable())
    prec = cfg.setdefault("Precision", {})
    prec["accum"] = prec["result"] = fixed(w, i, signed)


@layer_rule("QGRU", "QLSTM", "GRU", "LSTM")
def _recurrent_types(cfg: dict, layer, ir_layer, ctx: dict) -> None:
    """hls4ml's io_parallel LSTM only compiles when input, result and accumulator share one type
    (its gate products are written into accumulators typed as the result, then fed back as
    inputs); the GRU is given the same types. Its tanh/sigmoid tables hold values in [-1, 1]:
    ``fixed<18,2>`` keeps 16 fractional bits of them instead of hls4ml's default 10.
    ``ctx["recurrent_static"]`` (default True) picks hls4ml's static implementation (one cell
    reused for every object) or the non-static one."""
    w, i, signed = precision_of(ir_layer.get_input_variable())
    t = fixed(w, i, signed)
    prec = cfg.setdefault("Precision", {})
    prec["result"] = prec["accum"] = t
    prec["table"] = fixed(18, 2)
    cfg["Static"] = bool(ctx.get("recurrent_static", True))
    cfg["RecurrentReuseFactor"] = int(cfg.get("ReuseFactor", 1))
    ctx.setdefault("recurrent", []).append({"layer": layer.name, "class": layer.__class__.__name__, "type": t,
                                            "static": cfg["Static"], "table_size": int(cfg.get("TableSize", 1024))})


def _fold_linear_quantizers(model, cfg: dict, ctx: dict) -> None:
    """A ``QActivation(quantized_bits(...))`` after a Dense/Conv layer is a linear activation to
    hls4ml, which removes it without its rounding and saturation when the parent's result type is
    ``auto``: the parent's result then takes the quantizer's type (hls4ml's RND_CONV, SAT), which
    is what QKeras computes (round half to even, clip)."""
    names = cfg["LayerName"]
    for layer in model.layers:
        if type(layer).__name__ != "QActivation" or type(getattr(layer, "quantizer", None)).__name__ != "quantized_bits":
            continue
        parent = layer.inbound_nodes[0].inbound_layers
        own = names.get(layer.name, {}).get("Precision", {}).get("result")
        if isinstance(parent, list) or parent.name not in names or not own or own == "auto":
            continue
        if type(parent).__name__ in ("QDense", "QConv1D", "Dense", "Conv1D"):
            names[parent.name].setdefault("Precision", {})["result"] = own
            # hls4ml gives a linear Dense an activation node "<name>_linear"; typed alike, it is removed
            names.setdefault(f"{parent.name}_linear", {}).setdefault("Precision", {})["result"] = own
            ctx.setdefault("folded", []).append({"layer": parent.name, "quantizer": layer.name, "result": own})


# --------------------------------------------------------------------------- weights
def _requantize_weights(model, hls_model) -> list[str]:
    """Put the QKeras-quantized kernel and bias into every IR layer that lost its quantizer.

    hls4ml 1.3.0 turns a QDense applied on the object axis (input (N, F)) into a PointwiseConv1D
    and drops the quantizer on the way: the firmware then truncates the float weights instead of
    using the values QKeras rounds to, and nothing is bit-exact. The quantized values are exactly
    representable in the weight type, so writing them in is always safe.
    """
    import numpy as np

    keras = {l.name: l for l in model.layers}
    fixed_layers = []
    for layer in hls_model.get_layers():
        kl = keras.get(layer.name)
        if kl is None:
            continue
        pairs = (("weight", getattr(kl, "kernel_quantizer_internal", None), getattr(kl, "kernel", None)),
                 ("bias", getattr(kl, "bias_quantizer_internal", None), getattr(kl, "bias", None)))
        for key, quantizer, var in pairs:
            wv = layer.weights.get(key)
            if quantizer is None or var is None or wv is None:
                continue
            q = np.asarray(quantizer(var).numpy(), dtype=np.float64)
            if q.size != wv.data.size:
                continue
            q = q.reshape(wv.data.shape)
            if not np.array_equal(q, wv.data):
                wv.data = q
                wv.nonzeros = int(np.count_nonzero(q))
                wv.nzeros = int(q.size - wv.nonzeros)
                wv.min, wv.max = float(q.min()), float(q.max())
                fixed_layers.append(f"{layer.name}.{key}")
    if fixed_layers:
        log.debug("re-quantized weights: %s", ", ".join(fixed_layers))
    return fixed_layers


# --------------------------------------------------------------------------- conversion
def make_config(model, backend: str = "Vitis", reuse_factor: int = 1, strategy: str = "Latency",
                input_precision: tuple[int, int] | None = None, trace: bool = False) -> dict:
    """hls4ml config (granularity "name") with fpgatag's input precision, reuse and strategy."""
    import hls4ml

    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend=backend,
                                               default_reuse_factor=int(reuse_factor))
    cfg["Model"]["Strategy"] = strategy
    cfg["Model"]["ReuseFactor"] = int(reuse_factor)
    bits, ibits = input_precision or DEFAULT_INPUT_PRECISION
    in_name = model.layers[0].name if model.layers[0].__class__.__name__ == "InputLayer" else None
    if in_name is None:
        in_name = model.inputs[0].name.split(":")[0]
    cfg["LayerName"].setdefault(in_name, {}).setdefault("Precision", {})["result"] = fixed(bits, ibits)
    for lc in cfg["LayerName"].values():
        lc["ReuseFactor"] = int(reuse_factor)
        if strategy == "Resource":
            lc["Strategy"] = "Resource"
        lc["Trace"] = bool(trace)
    return cfg


def normalise_options(backend: str, strategy: str, io_type: str, reuse_factor: int, clock_period: float) -> tuple[str, str]:
    """(backend, strategy) spelled as hls4ml spells them, every option checked (see :class:`FirmwareOptions`)."""
    o = FirmwareOptions.make(backend=backend, strategy=strategy, io_type=io_type, reuse_factor=reuse_factor,
                             clock_period=clock_period)
    return o.backend, o.strategy


def convert_with(model, output_dir, options: FirmwareOptions, input_precision: tuple[int, int] | None = None,
                 trace: bool = False, strategy: str | None = None):
    """:func:`convert` with a (checked) :class:`FirmwareOptions`; ``input_precision`` (default the
    options') and ``strategy`` (default the options') for the cases that differ."""
    return convert(model, output_dir, part=options.target.full, backend=options.backend, io_type=options.io_type,
                   reuse_factor=options.reuse_factor, strategy=strategy or options.strategy,
                   clock_period=options.clock_period, input_precision=input_precision or options.input_precision,
                   trace=trace, recurrent_static=options.recurrent_static, hls_overrides=options.hls_config)


def convert(model, output_dir: str | os.PathLike | None = None, part: str | None = None,
            backend: str = "Vitis", io_type: str = "io_parallel", reuse_factor: int = 1,
            strategy: str = "Latency", clock_period: float = 5.0,
            input_precision: tuple[int, int] | None = None, trace: bool = False,
            hls_config: dict | None = None, project_name: str = "myproject", recurrent_static: bool = True,
            hls_overrides: dict | None = None):
    """Convert a Keras/QKeras model to an hls4ml ModelGraph with fpgatag's precision rules.

    Returns ``(hls_model, hls_config, notes)``; ``notes["widened"]`` lists widened layers,
    ``notes["recurrent"]`` the recurrent layers (static when ``recurrent_static``).
    ``hls_overrides`` (hls4ml's ``{"Model": ..., "LayerName": ...}``) is merged over fpgatag's
    configuration, its rules included; ``hls_config`` instead replaces the whole configuration
    (no fpgatag rule applied). ``part`` defaults to :data:`~fpgatag.fpga.parts.DEFAULT_PART`'s full string.
    Nothing is written to disk (call ``hls_model.write()``/``compile()``).
    """
    import hls4ml

    check_supported(model)
    if output_dir is None:
        output_dir = tempfile.mkdtemp(prefix="fpgatag-hls-")
    cfg = hls_config if hls_config is not None else make_config(
        model, backend, reuse_factor, strategy, input_precision, trace)
    part = part or resolve_part(DEFAULT_PART).full
    kwargs = dict(output_dir=str(output_dir), backend=backend, io_type=io_type, part=part,
                  clock_period=float(clock_period), project_name=project_name)

    def _convert(c):
        root = logging.getLogger()
        level = root.level
        root.setLevel(max(level, logging.WARNING))    # hls4ml logs each layer on the root logger
        try:
            return hls4ml.converters.convert_from_keras_model(model, hls_config=c, **kwargs)
        except Exception as exc:  # hls4ml raises bare Exceptions for unsupported configurations
            raise FpgatagError(f"model {model.name!r}: hls4ml could not convert it ({exc})") from None
        finally:
            root.setLevel(level)

    notes: dict[str, Any] = {"recurrent_static": bool(recurrent_static)}
    if hls_config is None:
        merge_hls_config(cfg, hls_overrides)
        _fold_linear_quantizers(model, cfg, notes)
    hls_model = _convert(cfg)
    if hls_config is None:
        changed = bool(hls_overrides)
        ir = {layer.name: layer for layer in hls_model.get_layers()}
        for layer in model.layers:
            rule = _RULES.get(layer.__class__.__name__)
            if rule is not None and layer.name in ir and layer.name in cfg["LayerName"]:
                rule(cfg["LayerName"][layer.name], layer, ir[layer.name], notes)
                changed = True
        if changed:
            merge_hls_config(cfg, hls_overrides)   # the user's settings win over fpgatag's rules
            hls_model = _convert(cfg)
    notes["requantized"] = _requantize_weights(model, hls_model)
    for w in notes.get("widened", []):
        log.info("layer %s: average over %d objects, accum %s, result %s", w["layer"], w["n"], w["accum"], w["result"])
    return hls_model, cfg, notes
