"""Resource and latency estimates from first principles, without vendor tools.

Target: the figures of Vitis HLS **C synthesis** (csynth) of an hls4ml ``io_parallel`` project
(``backend="Vivado"`` selects constants fitted on Vivado HLS rows instead). Post-synthesis LUT/FF
are typically about half the csynth figures; this estimator does not predict them.

The model is walked layer by layer on hls4ml's own IR (so precisions are the ones the firmware
really uses, ``auto`` types resolved); each IR layer class has a small cost function registered
with :func:`cost_model`.

Multipliers (Dense/Conv, ``Latency`` strategy): HLS turns every weight into a constant
multiplier, so the cost is counted *per weight*, from the quantized weight value:

* a zero weight costs nothing; a power-of-two weight is a shift (no multiplier, one adder input);
* otherwise the weight's significant bits ``m`` (its odd part's width) and the input width ``b``
  decide: above the DSP threshold (``m > dsp_weight_bits`` and ``b > dsp_input_bits``) the product
  goes to a DSP (two DSPs past 27x18 bits); below it is LUT logic built from shift-and-add, with
  ``c - 1`` adders of about ``b + m`` bits for a weight with ``c`` non-zero canonical-signed-digit
  digits (the bit-operation count HGQ uses, LUT ~ b * m);
* each output sums its products in an adder tree: ``terms - 1`` adders as wide as the product plus
  ``log2(terms)`` bits (capped by the accumulator type).

``Resource`` strategy keeps weights in memory: every product is a real multiplier (no zero or
constant savings), shared ``reuse_factor`` times. Activations: ReLU is a comparator and a mux per
element; sigmoid/tanh/ELU/softmax read 1024-entry tables held in BRAM18 (one copy per two
elements, BRAM having two ports). Pooling over N objects is an adder (or comparator) tree.

Latency: each layer adds a combinational delay (multiplier + adder tree depth + activation);
HLS chains operations across layers, so the latency in cycles is the summed delay over the usable
clock period (clock minus the tool's default uncertainty: 27% Vitis, 12.5% Vivado) plus the fixed
register stages of table lookups. II = reuse factor x the number of partitions of a convolution.

Calibration (``CALIBRATION`` below) was fitted by ``bench/bench_estimator.py --fit`` against the
io_parallel csynth rows of ``shared/synth-reference/`` (coordinate search minimising the median
absolute log error of each figure over 5 weight draws per row). The result and the error per figure
are in ``bench/results/estimator.{json,md}``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import numpy as np

from fpgatag.core.metrics import format_table

log = logging.getLogger(__name__)

FIGURES = ("latency_cycles", "ii", "dsp", "lut", "ff", "bram18")
ROW_COLUMNS = ["layer", "class", "n_mult", "dsp", "lut", "ff", "bram18", "delay_ns", "latency_cycles", "ii"]


@dataclass(frozen=True)
class Calibration:
    """Constants of the cost model (one set per backend); see the module docstring."""

    dsp_weight_bits: int       # a constant multiplier uses a DSP when the weight has more significant bits
    dsp_input_bits: int        # ... and the input is wider than this
    lut_per_adder_bit: float   # shift-and-add multiplier: LUT per adder bit
    lut_per_tree_bit: float    # adder tree: LUT per adder bit
    lut_per_dsp: float         # glue logic around a DSP multiplier
    ff_per_out_bit_cycle: float  # pipeline registers: FF per output bit per cycle of the layer
    ff_per_dsp: float
    t_dsp_ns: float            # multiplier delays
    t_lutmul_ns: float
    t_add_ns: float            # one adder level
    t_act_ns: float            # ReLU / comparator
    table_cycles: int          # fixed register stages of a table-lookup activation
    softmax_cycles: int
    table_lut_per_elem: float
    softmax_lut_per_elem: float
    softmax_bram_factor: float  # tables per softmax copy relative to the one-table count
    relu_lut_per_bit: float
    rf_share: float            # Latency strategy: fraction of multiplier cost shared by the reuse factor
    rf_latency_per_layer: float  # extra cycles per dense layer per (reuse_factor - 1)
    resource_dsp_per_mult: float  # Resource strategy: DSPs per (shared) multiplier
    resource_ii_overhead: int
    resource_lut_per_mult: float  # Resource strategy: LUT per multiplier (weight muxing, control)
    resource_ff_per_mult: float
    ff_per_lut: float          # pipeline registers inside LUT logic
    clock_uncertainty: float


# Fitted by bench/bench_estimator.py --fit (see module docstring). Vitis: the 6 Vitis HLS 2024.1
# io_parallel csynth rows (hls4ml tutorial 2024 + hls4ml CI baselines); Vivado: the 15 Vivado HLS
# 2018.2-2020.1 io_parallel csynth rows (older hls4ml, coarser).
CALIBRATION: dict[str, Calibration] = {
    # objective 0.21 (in-sample: 6 rows, so expect larger errors on new models; see docs/firmware.md)
    "Vitis": Calibration(
        dsp_weight_bits=6, dsp_input_bits=10, lut_per_adder_bit=0.5, lut_per_tree_bit=0.425,
        lut_per_dsp=25.5, ff_per_out_bit_cycle=1.2, ff_per_dsp=0.35, t_dsp_ns=2.8, t_lutmul_ns=1.2,
        t_add_ns=0.63, t_act_ns=0.3, table_cycles=3, softmax_cycles=6, table_lut_per_elem=142.8,
        softmax_lut_per_elem=75.0, softmax_bram_factor=2.0, relu_lut_per_bit=1.44, rf_share=0.3,
        rf_latency_per_layer=0.0, resource_dsp_per_mult=0.5, resource_ii_overhead=4, resource_lut_per_mult=42.0,
        resource_ff_per_mult=7.5, ff_per_lut=0.0425, clock_uncertainty=0.27,
    ),
    # objective 1.07: old hls4ml (0.2-0.5) behaviours (II=2 for pruned layers) are not modelled
    "Vivado": Calibration(
        dsp_weight_bits=2, dsp_input_bits=10, lut_per_adder_bit=4.0, lut_per_tree_bit=1.4,
        lut_per_dsp=21.0, ff_per_out_bit_cycle=2.38, ff_per_dsp=5.0, t_dsp_ns=4.0, t_lutmul_ns=1.2,
        t_add_ns=0.63, t_act_ns=0.3, table_cycles=2, softmax_cycles=8, table_lut_per_elem=100.8,
        softmax_lut_per_elem=300.0, softmax_bram_factor=1.0, relu_lut_per_bit=1.0, rf_share=1.0,
        rf_latency_per_layer=1.0, resource_dsp_per_mult=0.5, resource_ii_overhead=0, resource_lut_per_mult=36.0,
        resource_ff_per_mult=7.5, ff_per_lut=0.17, clock_uncertainty=0.125,
    ),
}

# hls4ml IR classes without a cost model on purpose: no csynth reference row to fit them on
RECURRENT_IR = ("SimpleRNN", "LSTM", "GRU", "Bidirectional", "TimeDistributed")
TABLE_ACTIVATIONS = ("sigmoid", "tanh", "elu", "selu", "softplus", "softsign", "hard_sigmoid_table", "gelu")


# --------------------------------------------------------------------------- helpers
def _prec(var) -> tuple[int, int, bool]:
    """(width, fractional bits, signed) of an hls4ml variable; floats count as 32 bits."""
    p = var.type.precision
    w = int(getattr(p, "width", 32) or 32)
    i = int(getattr(p, "integer", w) if getattr(p, "integer", None) is not None else w)
    return w, w - i, bool(getattr(p, "signed", True))


def csd_digits(k: int) -> int:
    """Number of non-zero digits of the canonical signed-digit form of integer ``k``."""
    k = abs(int(k))
    n = 0
    while k:
        if k & 1:
            n += 1
            k -= 2 - (k & 3)  # +1 digit when k % 4 == 1, -1 digit when k % 4 == 3
        k >>= 1
    return n


@dataclass
class MultCensus:
    zero: int = 0
    shift: int = 0
    lut: int = 0
    dsp: int = 0
    lut_adder_bits: float = 0.0
    max_bits: int = 0

    @property
    def nonzero(self) -> int:
        return self.shift + self.lut + self.dsp


def census(weights: np.ndarray, frac_bits: int, input_bits: int, cal: Calibration) -> MultCensus:
    """Classify constant multipliers of quantized ``weights`` for inputs ``input_bits`` wide."""
    k = np.round(np.asarray(weights, dtype=np.float64).ravel() * 2.0 ** frac_bits).astype(np.int64)
    c = MultCensus()
    c.zero = int(np.sum(k == 0))
    nz = np.abs(k[k != 0])
    if nz.size == 0:
        return c
    odd = nz.copy()
    while True:
        even = (odd & 1) == 0
        if not even.any():
            break
        odd[even] >>= 1
    m = np.floor(np.log2(odd)).astype(int) + 1            # significant bits of the odd part
    c.max_bits = int(m.max())
    shift = odd == 1
    c.shift = int(shift.sum())
    to_dsp = (m > cal.dsp_weight_bits) & (input_bits > cal.dsp_input_bits) & ~shift
    wide = (m + 1 > 18) & (input_bits > 27)
    c.dsp = int(to_dsp.sum() + (to_dsp & wide).sum())
    lut = ~shift & ~to_dsp
    c.lut = int(lut.sum())
    if c.lut:
        digits = np.array([csd_digits(v) for v in odd[lut]])
        c.lut_adder_bits = float(np.sum((digits - 1) * (input_bits + m[lut])))
    return c


# --------------------------------------------------------------------------- cost models
@dataclass
class LayerCost:
    layer: str
    cls: str
    n_mult: int = 0
    dsp: float = 0.0
    lut: float = 0.0
    ff: float = 0.0
    bram18: float = 0.0
    delay_ns: float = 0.0       # combinational delay this layer adds
    fixed_cycles: int = 0       # register stages that do not depend on the clock
    ii: int = 1
    cycles: int = 0             # this layer's share of the model latency (filled in by estimate_graph)


CostFn = Callable[[Any, Calibration, dict], LayerCost]
_COSTS: dict[str, CostFn] = {}


def cost_model(*class_names: str) -> Callable[[CostFn], CostFn]:
    """Register the cost function of hls4ml IR layer classes."""

    def deco(fn: CostFn) -> CostFn:
        for name in class_names:
            if name in _COSTS:
                raise ValueError(f"duplicate cost model for {name}")
            _COSTS[name] = fn
        return fn

    return deco


def _weights(layer, key: str) -> np.ndarray | None:
    wv = layer.weights.get(key) if hasattr(layer, "weights") else None
    return None if wv is None else np.asarray(wv.data, dtype=np.float64)


def _quantize_to(w: np.ndarray, frac: int) -> np.ndarray:
    """Weights as the firmware holds them: hls4ml writes floats; ap_fixed truncates (TRN)."""
    return np.floor(w * 2.0 ** frac + 1e-9) / 2.0 ** frac


@cost_model("Dense", "Conv1D", "PointwiseConv1D", "Conv2D", "PointwiseConv2D")
def _matmul_cost(layer, cal: Calibration, ctx: dict) -> LayerCost:
    cost = LayerCost(layer.name, layer.class_name)
    w = _weights(layer, "weight")
    b = _weights(layer, "bias")
    n_out = int(layer.get_attr("n_out", layer.get_attr("n_filt", 1)))
    w = w.reshape(-1, n_out)                                    # (n_in_eff, n_out)
    _, wf, _ = _prec(layer.weights["weight"])
    bi, _, _ = _prec(layer.get_input_variable())
    ow, _, _ = _prec(layer.get_output_variable())
    aw = _prec(layer.weights["weight"])[0] + bi + 8
    if layer.get_attr("accum_t") is not None:
        aw = int(getattr(layer.get_attr("accum_t").precision, "width", aw))
    wq = _quantize_to(w, wf)
    if "Conv" in layer.class_name:
        if layer.class_name.endswith("2D"):
            pixels = int(layer.get_attr("out_height", 1)) * int(layer.get_attr("out_width", 1))
        else:
            pixels = int(layer.get_attr("out_width", 1))
        n_part = int(layer.get_attr("n_partitions", pixels) or pixels)
    else:
        pixels, n_part = 1, 1
    copies = max(1, pixels // max(1, n_part))             # pixels computed in parallel
    rf = int(layer.get_attr("reuse_factor", 1) or 1)
    strategy = str(layer.get_attr("strategy", "latency")).lower()
    n_in = wq.shape[0]

    if strategy == "resource":
        n_mult = math.ceil(w.size / rf)
        wide = bi > cal.dsp_input_bits
        cost.dsp = copies * n_mult * cal.resource_dsp_per_mult if wide else 0.0
        cost.lut = copies * (0 if wide else n_mult * bi * _prec(layer.weights["weight"])[0] * 0.5)
        tree_bits = (n_in - 1) * n_out * min(aw, bi + _prec(layer.weights["weight"])[0] + math.ceil(math.log2(max(n_in, 2))))
        cost.lut += copies * cal.lut_per_tree_bit * tree_bits / rf + copies * n_mult * cal.resource_lut_per_mult
        cost.n_mult = copies * w.size
        cost.ii = n_part * rf + cal.resource_ii_overhead
        cost.delay_ns = cal.t_dsp_ns + cal.t_add_ns * math.ceil(math.log2(max(n_in, 2)))
        cost.fixed_cycles = n_part * rf
        cost.ff = cal.ff_per_dsp * cost.dsp + copies * n_mult * cal.resource_ff_per_mult
        ctx["out_bits"] = copies * n_out * ow
        return cost

    c = census(wq, wf, bi, cal)
    cost.n_mult = copies * c.nonzero
    nnz_per_out = np.count_nonzero(wq, axis=0) + (0 if b is None else (np.asarray(b).ravel() != 0).astype(int))
    prod_bits = bi + max(1, c.max_bits) + 1
    tree_bits = 0.0
    depth = 0
    for t in nnz_per_out:
        if t > 1:
            lev = math.ceil(math.log2(t))
            tree_bits += (t - 1) * min(aw, prod_bits + lev)
            depth = max(depth, lev)
    share = 1.0 - cal.rf_share * (1.0 - 1.0 / rf)
    cost.dsp = copies * c.dsp * share
    cost.lut = copies * share * (cal.lut_per_adder_bit * c.lut_adder_bits + cal.lut_per_dsp * c.dsp) \
        + copies * cal.lut_per_tree_bit * tree_bits
    t_mult = cal.t_dsp_ns if c.dsp else (cal.t_lutmul_ns if c.lut else 0.0)
    cost.delay_ns = t_mult + cal.t_add_ns * depth
    cost.ii = n_part * rf
    cost.fixed_cycles = (n_part - 1) + int(round(cal.rf_latency_per_layer * (rf - 1)))
    cost.ff = cal.ff_per_dsp * cost.dsp
    ctx["out_bits"] = copies * n_out * ow
    return cost


@cost_model("Activation", "ReLU", "ParametrizedActivation", "LeakyReLU", "ELU", "HardActivation", "PReLU")
def _activation_cost(layer, cal: Calibration, ctx: dict) -> LayerCost:
    cost = LayerCost(layer.name, layer.class_name)
    act = str(layer.get_attr("activation", "")).lower()
    n = int(np.prod(layer.get_output_variable().shape))
    ow, _, _ = _prec(layer.get_output_variable())
    if act in ("linear", ""):
        return cost
    if act in TABLE_ACTIVATIONS:
        size = int(layer.get_attr("table_size", 1024) or 1024)
        tw = 18
        tt = layer.get_attr("table_t")
        if tt is not None:
            tw = int(getattr(tt.precision, "width", 18))
        per_copy = math.ceil(size * tw / 18432)
        cost.bram18 = math.ceil(n / 2) * per_copy
        cost.lut = cal.table_lut_per_elem * n
        cost.fixed_cycles = cal.table_cycles
        cost.delay_ns = cal.t_act_ns
        ctx["out_bits"] = n * ow
        return cost
    # relu, leaky relu, hard activations: comparator + mux (+ a shift for leaky)
    cost.lut = cal.relu_lut_per_bit * n * ow
    cost.delay_ns = cal.t_act_ns
    ctx["out_bits"] = n * ow
    return cost


@cost_model("Softmax")
def _softmax_cost(layer, cal: Calibration, ctx: dict) -> LayerCost:
    cost = LayerCost(layer.name, layer.class_name)
    n = int(np.prod(layer.get_output_variable().shape))
    ow, _, _ = _prec(layer.get_output_variable())
    size = int(layer.get_attr("table_size", 1024) or 1024)
    per_copy = math.ceil(size * 18 / 18432)
    cost.bram18 = cal.softmax_bram_factor * (math.ceil(n / 2) * per_copy + per_copy)
    cost.lut = cal.softmax_lut_per_elem * n
    cost.n_mult = n
    cost.dsp = n if ow > cal.dsp_input_bits else 0
    cost.fixed_cycles = cal.softmax_cycles
    ctx["out_bits"] = n * ow
    return cost


@cost_model("GlobalPooling1D", "GlobalPooling2D", "Pooling1D", "Pooling2D")
def _pooling_cost(layer, cal: Calibration, ctx: dict) -> LayerCost:
    cost = LayerCost(layer.name, layer.class_name)
    in_shape = layer.get_input_variable().shape
    out_n = int(np.prod(layer.get_output_variable().shape))
    n_in = int(np.prod(in_shape))
    window = max(1, n_in // max(out_n, 1))
    aw = _prec(layer.get_output_variable())[0]
    iw = _prec(layer.get_input_variable())[0]
    op = str(layer.get_attr("pool_op", "Average")).lower()
    lev = math.ceil(math.log2(max(window, 2)))
    per = (window - 1) * (aw if "av" in op else 2 * iw)      # adders, or comparator + mux
    cost.lut = cal.lut_per_tree_bit * per * out_n
    cost.delay_ns = cal.t_add_ns * lev
    ctx["out_bits"] = out_n * aw
    return cost


@cost_model("BatchNormalization", "ApplyAlpha")
def _batchnorm_cost(layer, cal: Calibration, ctx: dict) -> LayerCost:
    cost = LayerCost(layer.name, layer.class_name)
    s = _weights(layer, "scale")
    n = int(np.prod(layer.get_output_variable().shape))
    bi, _, _ = _prec(layer.get_input_variable())
    ow, _, _ = _prec(layer.get_output_variable())
    if s is not None:
        sf = _prec(layer.weights["scale"])[1]
        c = census(np.resize(_quantize_to(s.ravel(), sf), n), sf, bi, cal)
        cost.n_mult = c.nonzero
        cost.dsp = c.dsp
        cost.lut = cal.lut_per_adder_bit * c.lut_adder_bits + cal.lut_per_dsp * c.dsp
    cost.lut += cal.lut_per_tree_bit * n * ow
    cost.delay_ns = cal.t_dsp_ns + cal.t_add_ns
    ctx["out_bits"] = n * ow
    return cost


@cost_model("Merge", "Concatenate")
def _merge_cost(layer, cal: Calibration, ctx: dict) -> LayerCost:
    cost = LayerCost(layer.name, layer.class_name)
    n = int(np.prod(layer.get_output_variable().shape))
    ow, _, _ = _prec(layer.get_output_variable())
    if layer.class_name == "Merge" and str(layer.get_attr("op", "add")).lower() in ("add", "subtract", "average"):
        cost.lut = cal.lut_per_tree_bit * n * ow
        cost.delay_ns = cal.t_add_ns
    return cost


_FREE = {"Input", "Reshape", "Transpose", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "Constant"}


# --------------------------------------------------------------------------- model estimate
def estimate_graph(hls_model, part, clock_period: float = 5.0, backend: str = "Vitis",
                   calibration: Calibration | None = None) -> dict[str, Any]:
    """Estimate an hls4ml ModelGraph (io_parallel). Returns estimate.json's content."""
    tool = "Vivado" if str(backend).lower() == "vivado" else "Vitis"
    cal = calibration or CALIBRATION[tool]
    clk_eff = float(clock_period) * (1.0 - cal.clock_uncertainty)
    rows: list[LayerCost] = []
    out_bits: list[float] = []
    unknown = []
    for layer in hls_model.get_layers():
        fn = _COSTS.get(layer.class_name)
        ctx: dict[str, Any] = {}
        if fn is None:
            if layer.class_name not in _FREE:
                unknown.append(f"{layer.name} ({layer.class_name})")
            continue
        rows.append(fn(layer, cal, ctx))
        out_bits.append(float(ctx.get("out_bits", 0.0)))
    if unknown:
        log.warning("no cost model for %s: counted as free", ", ".join(unknown))
    recurrent = [layer.name for layer in hls_model.get_layers() if layer.class_name in RECURRENT_IR]
    not_estimated = None
    if recurrent:
        not_estimated = (f"recurrent layer(s) {', '.join(recurrent)} have no cost model: latency, II and resources "
                         "here cover the other layers only")

    # latency: combinational delays chain across layers; tables and partitions add fixed stages
    total_delay = sum(r.delay_ns for r in rows)
    fixed = sum(r.fixed_cycles for r in rows)
    latency = int(math.floor(total_delay / clk_eff)) + fixed
    ii = max([r.ii for r in rows] + [1])
    # per-layer cycles for the report and the FF count: the layer's share of the chained delay
    acc = 0.0
    for r, ob in zip(rows, out_bits):
        before = math.floor(acc / clk_eff)
        acc += r.delay_ns
        cycles = math.floor(acc / clk_eff) - before + r.fixed_cycles
        if cycles > 0:   # a combinational layer (0 cycles) holds no pipeline registers
            r.ff += cal.ff_per_out_bit_cycle * ob * cycles + cal.ff_per_lut * r.lut
        r.cycles = int(cycles)
    totals = {
        "latency_cycles": int(latency),
        "latency_ns": float(latency * float(clock_period)),
        "ii": int(ii),
        "dsp": int(round(sum(r.dsp for r in rows))),
        "lut": int(round(sum(r.lut for r in rows))),
        "ff": int(round(sum(r.ff for r in rows))),
        "bram18": int(math.ceil(sum(r.bram18 for r in rows))),
    }
    part_totals = part.totals()
    fractions = {k: (totals[k] / part_totals[k] if part_totals.get(k) else None) for k in ("dsp", "lut", "ff", "bram18")}
    layer_rows = []
    for r in rows:
        d = {"layer": r.layer, "class": r.cls, "n_mult": int(r.n_mult), "dsp": int(round(r.dsp)), "lut": int(round(r.lut)),
             "ff": int(round(r.ff)), "bram18": int(math.ceil(r.bram18)), "delay_ns": round(r.delay_ns, 3),
             "latency_cycles": r.cycles, "ii": int(r.ii)}
        layer_rows.append(d)
    return {
        "source": "estimate",
        "target": f"{tool} HLS C synthesis (csynth) figures, io_parallel",
        "part": part.full,
        "clock_ns": float(clock_period),
        **totals,
        "fraction": fractions,
        "max_fraction": max([v for v in fractions.values() if v is not None], default=None),
        "layers": layer_rows,
        "unestimated_layers": unknown,
        "not_estimated": not_estimated,
    }


def estimate_model(keras_model, hls_config: dict | None = None, options=None, calibration: Calibration | None = None,
                   **option_overrides: Any) -> dict[str, Any]:
    """Estimate a Keras/QKeras model's firmware (converted with fpgatag's rules, nothing written).

    ``options`` (a :class:`~fpgatag.fpga.options.FirmwareOptions`) or its fields as keywords (``part``,
    ``clock_period``, ``reuse_factor``, ``strategy``, ``backend``, ``input_precision``); ``hls_config``
    is an hls4ml config merged over fpgatag's (see :mod:`fpgatag.fpga.options`)."""
    import tempfile

    from fpgatag.fpga.convert import convert_with
    from fpgatag.fpga.options import FirmwareOptions

    opts = FirmwareOptions.make(options, hls_config=hls_config, **option_overrides)
    with tempfile.TemporaryDirectory(prefix="fpgatag-est-") as tmp:
        hls_model, _, _ = convert_with(keras_model, tmp, opts)
        return estimate_graph(hls_model, opts.target, opts.clock_period, opts.backend, calibration)


def report_markdown(est: dict[str, Any], title: str = "Firmware estimate") -> str:
    """report.md: totals with part fractions, then per-layer rows."""
    frac = est.get("fraction", {})
    pct = lambda k: "" if frac.get(k) is None else f"{100 * frac[k]:.2f}%"  # noqa: E731
    totals = [{"figure": k, "value": est[k], "of part": pct(k)} for k in ("latency_cycles", "latency_ns", "ii", "dsp", "lut", "ff", "bram18")]
    lines = [
        f"# {title}", "",
        f"- part: `{est['part']}`, clock {est['clock_ns']} ns",
        f"- source: **{est['source']}**" + (f" ({est.get('target')})" if est.get("source") == "estimate" else ""),
    ]
    if est.get("synthesis"):
        lines.append(f"- vendor synthesis: {est['synthesis']}")
    lines += ["", "## Totals", "", format_table(totals, ["figure", "value", "of part"]), "",
              "## Per layer", "", format_table(est.get("layers", []), ROW_COLUMNS), ""]
    if est.get("not_estimated"):
        lines.append(f"**Not estimated:** {est['not_estimated']}.")
    if est.get("unestimated_layers"):
        lines.append(f"Layers without a cost model (counted as free): {', '.join(est['unestimated_layers'])}")
    return "\n".join(lines) + "\n"


def calibration_dict(backend: str = "Vitis") -> dict[str, Any]:
    return asdict(CALIBRATION[backend])


def with_changes(cal: Calibration, **changes) -> Calibration:
    return replace(cal, **changes)
