"""RTL flow: Verilog from a QKeras model with da4ml (distributed arithmetic, 0 DSP, II = 1).

The model is traced layer by layer into da4ml's symbolic fixed-point arrays, exactly as QKeras
computes it; da4ml turns every constant matrix-vector product into an adder tree in LUTs and
pipelines the circuit for the clock period. Writes, into the output directory::

    src/            Verilog (one module per pipeline stage, the top module and an IO wrapper)
    sim/            the C++ binder da4ml's Verilator emulator is built from
    model/          da4ml's circuit (comb.json, pipeline.json)
    manifest.json   pipeline stages, latency, input/output fixed-point formats, da4ml's estimate,
                    tool versions

Rounding: QKeras' ``quantized_relu`` / ``quantized_bits`` (and hls4ml's ``AP_RND_CONV``) round
half to even, da4ml rounds half up or truncates. Half-to-even is built here from da4ml's
primitives (one extra adder per rounded value), so the RTL is bit-exact with QKeras on ties too.

Layers the flow builds: ``InputLayer``, ``QDense`` (on the last axis, 1-D or 2-D inputs),
``QConv1D`` with kernel 1 and stride 1, ``QActivation`` with ``quantized_relu`` or
``quantized_bits``, ``Activation`` relu/linear, ``GlobalAveragePooling1D`` (power-of-two length),
``GlobalMaxPooling1D``, ``Flatten``, ``Reshape``, ``Dropout``. Anything else is refused, by name,
before any work.
"""

from __future__ import annotations

import logging
import os
import time
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)

TOP = "model"            # name of da4ml's top module (the wrapper is TOP + "_wrapper")
MANIFEST = "manifest.json"
SOLVER_OPTIONS = {"hard_dc": 2}   # da4ml's default delay constraint per constant-matrix block
ADDER_LEVELS_PER_NS = 1.0         # da4ml's convention: latency cutoff 5 (adder levels) at 5 ns
# The netlist model: Yosys synth_xilinx counts predicted from da4ml's own figures, fitted by
# bench/bench_rtl_fit.py on 14 trained students (bench/results/rtl_fit.md): LUT = lut_factor x da4ml's
# LUTs (a power law did no better out of sample); FF = ff_factor x da4ml's register bits. Errors:
# medians and maxima of |relative error|, leave-one-out. tests/test_bench.py checks these against the results file.
NETLIST_FIT = {"n": 14, "weights": "trained", "lut_model": "factor", "lut_factor": 0.8675, "lut_a": -0.8263, "lut_b": 1.0696,
               "lut_loo_median_abs_err": 0.087, "lut_loo_max_abs_err": 0.281, "ff_factor": 0.8679, "ff_median_abs_err": 0.08}


def netlist_prediction(da4ml_lut: float, da4ml_ff: float) -> dict[str, Any]:
    """Yosys netlist LUT/FF predicted from da4ml's estimate by :data:`NETLIST_FIT`, with the fit's n and error."""
    f = NETLIST_FIT
    if f["lut_model"] == "power":
        lut, how = float(np.exp(f["lut_a"]) * float(da4ml_lut) ** f["lut_b"]), f"exp({f['lut_a']}) x da4ml_lut^{f['lut_b']}"
    else:
        lut, how = f["lut_factor"] * float(da4ml_lut), f"{f['lut_factor']} x da4ml_lut"
    return {"lut": float(round(lut)), "ff": float(round(f["ff_factor"] * float(da4ml_ff))),
            "note": (f"Yosys synth_xilinx netlist predicted from da4ml's figures, fitted on {f['n']} {f['weights']} students "
                     f"(bench/results/rtl_fit.md): LUT = {how} (leave-one-out median |error| "
                     f"{100 * f['lut_loo_median_abs_err']:.0f} %, max {100 * f['lut_loo_max_abs_err']:.0f} %), FF = "
                     f"{f['ff_factor']} x register bits (leave-one-out median |error| {100 * f['ff_median_abs_err']:.0f} %); "
                     "not Vivado counts")}


def numba_cache_dir() -> Path:
    """da4ml's solver is compiled by numba (about 90 s on first use); keep the cache across runs."""
    d = Path(os.environ.get("NUMBA_CACHE_DIR") or Path.home() / ".cache" / "fpgatag" / "numba")
    os.environ["NUMBA_CACHE_DIR"] = str(d)
    d.mkdir(parents=True, exist_ok=True)
    return d


numba_cache_dir()   # before anything imports da4ml (numba reads the variable once, at import)


def da4ml_version() -> str:
    try:
        from importlib.metadata import version

        return version("da4ml")
    except Exception:   # noqa: BLE001 - reported, not needed
        return "not installed"


def require_da4ml() -> None:
    from fpgatag.core.errors import ToolNotFoundError

    numba_cache_dir()
    try:
        import da4ml  # noqa: F401
    except ImportError:
        raise ToolNotFoundError("da4ml is not installed: the RTL flow needs it (pip install da4ml==0.5.2)") from None


# --------------------------------------------------------------------------- layer checks
_TRACERS: dict[str, Callable] = {}


def _tracer(*class_names: str):
    def deco(fn):
        for c in class_names:
            _TRACERS[c] = fn
        return fn
    return deco


def supported_layers() -> list[str]:
    return sorted(_TRACERS)


def _quantizer_name(q) -> str:
    return type(q).__name__ if q is not None and not isinstance(q, str) else str(q)


def _check_quantizer(q, where: str) -> None:
    name = _quantizer_name(q)
    if name == "quantized_relu":
        if getattr(q, "negative_slope", 0.0) or getattr(q, "use_sigmoid", False) or \
                getattr(q, "relu_upper_bound", None) is not None or float(getattr(q, "qnoise_factor", 1.0)) != 1.0:
            raise FpgatagError(f"{where}: quantized_relu with negative_slope/use_sigmoid/relu_upper_bound/qnoise is not supported by the RTL flow")
    elif name == "quantized_bits":
        if getattr(q, "alpha", None) not in (None, 1, 1.0) or float(getattr(q, "qnoise_factor", 1.0)) != 1.0:
            raise FpgatagError(f"{where}: quantized_bits activation with alpha={getattr(q, 'alpha', None)!r} is not supported by the RTL flow (use alpha=1)")
    else:
        raise FpgatagError(f"{where}: activation quantizer {name} is not supported by the RTL flow "
                           "(quantized_relu, quantized_bits)")


def _activation_of(layer):
    """The layer's own activation: None (linear), 'relu', or a QKeras quantizer object."""
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    name = getattr(act, "__name__", None)
    if name == "linear":
        return None
    if name == "relu":
        return "relu"
    if hasattr(act, "bits"):
        return act
    raise FpgatagError(f"layer {layer.name!r}: activation {name or type(act).__name__} is not supported by the RTL flow (linear, relu, quantized_relu, quantized_bits)")


def _weights(layer) -> tuple[np.ndarray, np.ndarray | None]:
    """(kernel, bias) as the firmware sees them: through the QKeras quantizers; dyadic or refused."""
    kq = getattr(layer, "kernel_quantizer_internal", None)
    if kq is None:
        raise FpgatagError(f"layer {layer.name!r}: type {type(layer).__name__} has no kernel quantizer; "
                           "the RTL flow needs QKeras-quantized weights")
    ws = layer.get_weights()
    k = np.asarray(kq(ws[0].astype(np.float32)), dtype=np.float64)
    b = None
    if getattr(layer, "use_bias", False) and len(ws) > 1:
        bq = getattr(layer, "bias_quantizer_internal", None)
        if bq is None:
            raise FpgatagError(f"layer {layer.name!r}: bias without a quantizer; the RTL flow needs QKeras-quantized biases")
        b = np.asarray(bq(ws[1].astype(np.float32)), dtype=np.float64)
    for name, w in (("kernel", k), ("bias", b)):
        if w is not None and np.any(w * 2.0 ** 24 != np.round(w * 2.0 ** 24)):
            raise FpgatagError(f"layer {layer.name!r}: quantized {name} is not on a power-of-two grid "
                               "(alpha='auto' scales?); the RTL flow needs alpha=1 quantizers")
    return k, b


def check_rtl_supported(model) -> None:
    """Refuse, before any work, a model the RTL flow cannot build: one line naming layer and type."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise FpgatagError(f"model {model.name!r}: the RTL flow needs exactly one input and one output "
                           f"(has {len(model.inputs)} and {len(model.outputs)})")
    prev = None
    for layer in model.layers:
        cls = type(layer).__name__
        if cls not in _TRACERS:
            raise FpgatagError(f"layer {layer.name!r}: type {cls} is not supported by the RTL flow "
                               f"(supported: {', '.join(supported_layers())})")
        parents = _parents(layer)
        if prev is not None and parents != [prev.name]:
            raise FpgatagError(f"layer {layer.name!r}: the RTL flow builds a chain of layers; this one takes "
                               f"{parents or 'no'} instead of {prev.name!r}")
        _CHECKS.get(cls, lambda _l: None)(layer)
        prev = layer


def _parents(layer) -> list[str]:
    nodes = getattr(layer, "_inbound_nodes", [])
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    inbound = inbound if isinstance(inbound, (list, tuple)) else [inbound]
    return [p.name for p in inbound]


def _check_conv(layer) -> None:
    if tuple(layer.kernel_size) != (1,) or tuple(layer.strides) != (1,) or tuple(layer.dilation_rate) != (1,):
        raise FpgatagError(f"layer {layer.name!r}: QConv1D with kernel_size {layer.kernel_size} / strides "
                           f"{layer.strides}: the RTL flow builds pointwise (kernel 1, stride 1) convolutions only")
    _check_dense(layer)


def _check_dense(layer) -> None:
    act = _activation_of(layer)
    if act not in (None, "relu"):
        _check_quantizer(act, f"layer {layer.name!r}")
    _weights(layer)


def _check_qactivation(layer) -> None:
    q = getattr(layer, "quantizer", None)
    if q is None or isinstance(q, str):
        if getattr(layer, "activation", None) is not None and getattr(layer.activation, "__name__", "") in ("relu", "linear"):
            return
        raise FpgatagError(f"layer {layer.name!r}: QActivation {layer.get_config().get('activation')!r} is not supported by the RTL flow")
    _check_quantizer(q, f"layer {layer.name!r}")


def _check_activation(layer) -> None:
    _activation_of(layer)


def _check_avg_pool(layer) -> None:
    n = int(layer.input_shape[1])
    if n & (n - 1):
        raise FpgatagError(f"layer {layer.name!r}: average over {n} objects is not exact in fixed point; "
                           "the RTL flow needs a power-of-two length")
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise FpgatagError(f"layer {layer.name!r}: data_format {layer.data_format}: the RTL flow needs channels_last")


_CHECKS: dict[str, Callable] = {"QDense": _check_dense, "QConv1D": _check_conv, "QActivation": _check_qactivation,
                                "Activation": _check_activation, "GlobalAveragePooling1D": _check_avg_pool}


# --------------------------------------------------------------------------- fixed-point primitives
def _map(x, fn):
    from da4ml.trace import FixedVariableArray

    flat = [fn(v) for v in x._vars.ravel()]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return FixedVariableArray(out.reshape(x.shape), x.solver_options)


def _round_half_even(v, f: int):
    """``v`` rounded half to even to ``f`` fractional bits (as tf.round / AP_RND_CONV do).

    With q = floor(v / t) (t = 2**-f) and s the finer step of ``v``: adding t/2 - s, plus s when q
    is odd, and truncating rounds ties to the even neighbour and everything else to nearest. A
    constant is rounded as a number (the circuit then holds the rounded constant).
    """
    t = Decimal(2) ** -f
    if v.low == v.high:                      # a constant (e.g. a unit whose weights are all zero): round it here
        val = Decimal(v.low)
        r = (val / t).to_integral_value(rounding=ROUND_HALF_EVEN) * t
        return v if r == val else v + (r - val)
    s = Decimal(v.step)
    if s >= t:
        return v
    odd = v.quantize(0, 1 - f, f)            # (q mod 2) * t, one bit
    return v + (t / 2 - s) + odd * (s / t)


def _quantized_relu(v, q):
    bits, integer = int(q.bits), int(q.integer)
    f = bits - integer
    r = v.relu()
    return _round_half_even(r, f).quantize(0, integer, f, "SAT", "TRN")


def _quantized_bits(v, q):
    bits, integer = int(q.bits), int(q.integer)
    keep_negative = int(bool(getattr(q, "keep_negative", True)))
    f = bits - keep_negative - integer
    r = _round_half_even(v, f)
    mode = "SAT_SYM" if getattr(q, "symmetric", False) and keep_negative else "SAT"
    if not keep_negative:
        r = r.relu()
    return r.quantize(keep_negative, integer, f, mode, "TRN")


def _apply_activation(x, act):
    if act is None:
        return x
    if act == "relu":
        return _map(x, lambda v: v.relu())
    name = _quantizer_name(act)
    fn = _quantized_relu if name == "quantized_relu" else _quantized_bits
    return _map(x, lambda v: fn(v, act))


def _matmul_rows(x, w: np.ndarray, cache: dict):
    """``x (..., F) @ w (F, U)`` with da4ml's constant-matrix solver; rows with the same input
    types share one solution (a Deep Sets' phi is solved once, not once per object), and a
    solution is kept on disk across runs (:mod:`fpgatag.fpga.rtl_cache`)."""
    from da4ml.cmvm.types import QInterval
    from da4ml.trace import FixedVariableArray

    from fpgatag.fpga.rtl_cache import solve_cached

    shape = x.shape[:-1] + (w.shape[1],)
    rows = x._vars.reshape(-1, w.shape[0])
    hw = rows.ravel()[0].hwconf
    mat = np.ascontiguousarray(w.astype(np.float32))
    opts = dict(SOLVER_OPTIONS, adder_size=hw.adder_size, carry_size=hw.carry_size)
    out = []
    for row in rows:
        qi = [QInterval(float(v.low), float(v.high), float(v.step)) for v in row]
        lat = [float(v.latency) for v in row]
        key = (w.tobytes(), w.shape, tuple(qi), tuple(lat))
        if key not in cache:
            cache[key] = solve_cached(mat, qi, lat, opts)   # da4ml's solve, kept on disk by weight hash
        out.append(cache[key](row))
    return FixedVariableArray(np.array(out, dtype=object).reshape(shape), x.solver_options)


# --------------------------------------------------------------------------- layer tracers
@_tracer("InputLayer", "Dropout")
def _t_identity(layer, x, cache):
    return x


@_tracer("QDense")
def _t_dense(layer, x, cache):
    k, b = _weights(layer)
    y = _matmul_rows(x, k, cache)
    if b is not None:
        y = y + b
    return _apply_activation(y, _activation_of(layer))


@_tracer("QConv1D")
def _t_conv(layer, x, cache):
    k, b = _weights(layer)
    y = _matmul_rows(x, k[0], cache)
    if b is not None:
        y = y + b
    return _apply_activation(y, _activation_of(layer))


@_tracer("QActivation")
def _t_qact(layer, x, cache):
    q = getattr(layer, "quantizer", None)
    if q is None or isinstance(q, str):
        return _apply_activation(x, _activation_of(layer))
    return _apply_activation(x, q)


@_tracer("Activation")
def _t_act(layer, x, cache):
    return _apply_activation(x, _activation_of(layer))


@_tracer("GlobalAveragePooling1D")
def _t_avg(layer, x, cache):
    n = x.shape[0]
    return np.sum(x, axis=0) * (1.0 / n)


@_tracer("GlobalMaxPooling1D")
def _t_max(layer, x, cache):
    return np.max(x, axis=0)


@_tracer("Flatten")
def _t_flatten(layer, x, cache):
    return x.reshape(-1)


@_tracer("Reshape")
def _t_reshape(layer, x, cache):
    return x.reshape(tuple(int(d) for d in layer.target_shape))


def trace(model, input_precision: tuple[int, int], clock_period: float):
    """(inputs, outputs) da4ml arrays of MODEL on ``ap_fixed<bits, integer>`` inputs."""
    from da4ml.trace import FixedVariableArray, HWConfig

    bits, integer = input_precision
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    cutoff = latency_cutoff(clock_period)
    inp = FixedVariableArray.from_kif(np.ones(shape, np.int8), np.full(shape, integer - 1), np.full(shape, bits - integer),
                                      hwconf=HWConfig(1, -1, cutoff))
    x, cache = inp, {}
    for layer in model.layers:
        x = _TRACERS[type(layer).__name__](layer, x, cache)
    return inp, x, len(cache)


def latency_cutoff(clock_period: float) -> float:
    """Adder levels per pipeline stage for a clock period in ns (da4ml's 5 levels at 5 ns)."""
    return max(1.0, float(np.floor(clock_period * ADDER_LEVELS_PER_NS)))


def fixed_format(k: int, i: int, f: int) -> str:
    """ap_fixed / ap_ufixed spelling of da4ml's (sign, integer-without-sign, fraction) bits."""
    return f"ap_fixed<{k + i + f},{k + i}>" if k else f"ap_ufixed<{i + f},{i}>"


def _formats(kifs: np.ndarray) -> dict[str, Any]:
    k, i, f = (int(np.max(a)) for a in kifs)
    per = [fixed_format(int(a), int(b), int(c)) for a, b, c in zip(*kifs)]
    counts: dict[str, int] = {}
    for p in per:
        counts[p] = counts.get(p, 0) + 1
    return {"n": len(per), "container": fixed_format(k, i, f), "formats": counts,
            "each": per if len(counts) > 1 and len(per) <= 64 else None}


def _check_not_constant(loaded, kout: np.ndarray) -> None:
    """Refuse a circuit whose every output is the constant 0 (all its weights pruned or trained to zero):
    its output port would have no bits, which no simulator or synthesis tool accepts."""
    if int(np.sum(np.asarray(kout))) == 0:
        last = next((la for la in reversed(loaded.model.layers) if la.get_weights()), loaded.model.layers[-1])
        raise FpgatagError(f"{loaded.source}: every output is the constant 0 (no nonzero weight or bias reaches the outputs of layer "
                           f"'{last.name}' ({type(last).__name__})): there is no circuit to write RTL for")


def generate_rtl(loaded, out_dir: Path, part, clock_period: float = 5.0,
                 input_precision: tuple[int, int] | None = None) -> dict[str, Any]:
    """Trace, pipeline and write MODEL's Verilog into ``out_dir`` (an existing, empty directory);
    return the manifest (also written as manifest.json)."""
    from da4ml.codegen import VerilogModel
    from da4ml.trace import comb_trace

    from fpgatag.core.io import write_json
    from fpgatag.fpga.convert import DEFAULT_INPUT_PRECISION
    from fpgatag.fpga.rtl_pipeline import fast_saving, pipeline

    prec = tuple(input_precision or loaded.input_precision or DEFAULT_INPUT_PRECISION)
    t0 = time.perf_counter()
    inp, out, n_solved = trace(loaded.model, prec, clock_period)
    comb = comb_trace(inp, out)
    t_trace = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipe = pipeline(comb, latency_cutoff(clock_period))   # da4ml's to_pipeline, its retiming probes answered fast
    t_pipe = time.perf_counter() - t0
    from da4ml.codegen.rtl.rtl_model import get_io_kifs

    kin, kout = get_io_kifs(pipe)
    _check_not_constant(loaded, kout)
    rtl = VerilogModel(fast_saving(pipe), TOP, out_dir, part_name=part.full, clock_period=clock_period)
    rtl.write()
    t_write = time.perf_counter() - t0
    n_stages = len(pipe.solutions)
    manifest = {
        "flow": "rtl",
        "model": str(loaded.source),
        "top": TOP,
        "wrapper": f"{TOP}_wrapper",
        "part": part.full,
        "clock_period_ns": float(clock_period),
        "latency_cutoff_adder_levels": latency_cutoff(clock_period),
        "pipeline_stages": n_stages,
        "latency_cycles": n_stages,
        "latency_ns": n_stages * float(clock_period),
        "ii": 1,
        "input_shape": [int(d) for d in loaded.model.inputs[0].shape[1:]],
        "input_precision": list(prec),
        "inputs": _formats(kin),
        "outputs": _formats(kout),
        "da4ml_estimate": {"lut": float(round(comb.cost)), "ff": int(pipe.reg_bits), "dsp": 0,
                           "adder_depth": float(max(comb.out_latency)), "note": "da4ml's own cost model (LUTs of its adders, register bits)",
                           "netlist_predicted": netlist_prediction(comb.cost, pipe.reg_bits)},
        "sources": sorted(str(p.relative_to(out_dir)) for p in (out_dir / "src").rglob("*.v")),
        "timing_s": {"trace": round(t_trace, 3), "pipeline": round(t_pipe, 3), "write": round(t_write - t_pipe, 3),
                     "pipeline_and_write": round(t_write, 3)},
        "distinct_solved_matrices": n_solved,
        "tools": {"da4ml": da4ml_version()},
    }
    write_json(out_dir / MANIFEST, manifest)
    return manifest


def read_manifest(rtl_dir: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an RTL directory written by ``fpgatag synth --flow rtl``; one-line error otherwise."""
    from fpgatag.core.io import read_json

    d = Path(rtl_dir)
    if not d.is_dir():
        raise FpgatagError(f"{d}: RTL directory not found")
    m = d / MANIFEST
    if not m.is_file() or not (d / "src" / f"{TOP}.v").is_file():
        raise FpgatagError(f"{d}: no RTL here (no {MANIFEST} and src/{TOP}.v; write it with fpgatag synth MODEL --flow rtl -o {d})")
    man = read_json(m, "RTL manifest")
    if not isinstance(man, dict) or man.get("flow") != "rtl":
        raise FpgatagError(f"{m}: not an RTL manifest (flow is not 'rtl')")
    return man
