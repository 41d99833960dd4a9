"""Published hls4ml synthesis results used to calibrate and check the estimator.

The rows are the ``io_parallel`` C-synthesis rows of ``shared/synth-reference/reference.csv``
(hls4ml tutorial notebooks and hls4ml CI baselines; sources in that file), copied here so the
calibration check runs in a clean clone. io_stream and post-synthesis rows are left out: the
estimator targets io_parallel csynth figures.

The rows pin architecture, precision, sparsity and settings but not the trained weights, so each
model is rebuilt with weights *drawn* to match its description (:func:`build`):

* trained with L1(1e-4): Laplace-distributed weights with the initializer's spread
  (std = sqrt(1/fan_in), as lecun init), biases likewise but 10x smaller;
* pruned rows: the smallest |w| set to zero to the stated sparsity (magnitude pruning);
* untrained CI models: the stated initializer.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIGURES = ("latency_cycles", "ii", "dsp", "lut", "ff", "bram18")


@dataclass(frozen=True)
class RefRow:
    id: str
    tool: str            # "Vitis" or "Vivado"
    part: str
    clock_ns: float
    strategy: str
    reuse_factor: int
    arch: str            # builder key
    sparsity: float
    quant: str           # "f16" or "q6"
    latency_cycles: int
    ii: int
    dsp: int
    lut: int
    ff: int
    bram18: int


# id, tool, part, clock, strategy, RF, arch, sparsity, quant, latency, II, DSP, LUT, FF, BRAM18
ROWS: tuple[RefRow, ...] = tuple(RefRow(*r) for r in (
    ("tut24_jet_f16_rf1", "Vitis", "xcu250-figd2104-2L-e", 5, "Latency", 1, "jet", 0.0, "f16", 14, 1, 1502, 101839, 9363, 8),
    ("tut24_jet_f16_rf2", "Vitis", "xcu250-figd2104-2L-e", 5, "Latency", 2, "jet", 0.0, "f16", 13, 2, 1476, 102510, 9302, 8),
    ("tut24_jet_f16_prune75", "Vitis", "xcu250-figd2104-2L-e", 5, "Latency", 1, "jet", 0.75, "f16", 12, 1, 834, 33849, 5196, 8),
    ("h4b_dense_1x2_elu_vitis2024_par", "Vitis", "xcvu13p-flga2577-2-e", 5, "Latency", 1, "d1x2_elu", 0.0, "f16", 3, 1, 2, 354, 145, 1),
    ("h4b_dense_1x64_relu_vitis2024_par", "Vitis", "xcvu13p-flga2577-2-e", 5, "Latency", 1, "d1x64_relu", 0.0, "f16", 0, 1, 58, 2983, 18, 0),
    ("h4b_conv2d_28x28x3_f32k4s4_vitis2024_resource", "Vitis", "xcvu13p-flga2577-2-e", 5, "Resource", 1, "conv2d", 0.0, "f16", 52, 53, 792, 75413, 33150, 0),
    ("tut21_zu3eg_v2019p2_jet_f16_rf1", "Vivado", "xczu3eg-sbva484-1-e", 5, "Latency", 1, "jet", 0.0, "f16", 13, 1, 3915, 88289, 49449, 4),
    ("tut21_zu3eg_v2019p2_jet_f16_rf2", "Vivado", "xczu3eg-sbva484-1-e", 5, "Latency", 2, "jet", 0.0, "f16", 18, 2, 2133, 127736, 51194, 3),
    ("tut21_zu3eg_v2019p2_jet_f16_prune75", "Vivado", "xczu3eg-sbva484-1-e", 5, "Latency", 1, "jet", 0.75, "f16", 18, 2, 1069, 62035, 27658, 3),
    ("tut21_zu3eg_v2019p2_jet_q6_prune75", "Vivado", "xczu3eg-sbva484-1-e", 5, "Latency", 1, "jet", 0.75, "q6", 15, 1, 221, 89829, 17734, 4),
    ("tut21_zu3eg_v2019p1_jet_f16_rf2", "Vivado", "xczu3eg-sbva484-1-e", 5, "Latency", 2, "jet", 0.0, "f16", 18, 2, 2133, 127551, 50026, 3),
    ("tut21_zu3eg_v2018p2_jet_f16_rf1", "Vivado", "xczu3eg-sbva484-1-e", 5, "Latency", 1, "jet", 0.0, "f16", 15, 1, 3900, 87492, 44760, 4),
    ("tut21_zu3eg_v2018p2_jet_f16_rf2", "Vivado", "xczu3eg-sbva484-1-e", 5, "Latency", 2, "jet", 0.0, "f16", 18, 2, 2133, 127563, 52184, 3),
    ("tut20_u250_jet_f16_rf1", "Vivado", "xcu250-figd2104-2L-e", 5, "Latency", 1, "jet", 0.0, "f16", 9, 1, 3943, 78595, 26905, 4),
    ("tut20_ku115_jet_f16_rf1", "Vivado", "xcku115-flvb2104-2-i", 5, "Latency", 1, "jet", 0.0, "f16", 22, 1, 3315, 86802, 102521, 4),
    ("tut20_ku115_jet_f16_prune75", "Vivado", "xcku115-flvb2104-2-i", 5, "Latency", 1, "jet", 0.75, "f16", 20, 2, 1069, 70336, 60666, 4),
    ("tut20_ku115_jet_q6_prune75", "Vivado", "xcku115-flvb2104-2-i", 5, "Latency", 1, "jet", 0.75, "q6", 24, 1, 214, 91227, 25904, 4),
    ("h4b_dense_1x2_elu_vivado2020_par", "Vivado", "xcvu13p-flga2577-2-e", 5, "Latency", 1, "d1x2_elu", 0.0, "f16", 2, 1, 2, 190, 89, 1),
    ("h4b_dense_1x64_relu_vivado2020_par", "Vivado", "xcvu13p-flga2577-2-e", 5, "Latency", 1, "d1x64_relu", 0.0, "f16", 0, 1, 61, 2224, 18, 0),
    ("h4b_dense_1x64_sigmoid_vivado2020_par", "Vivado", "xcvu13p-flga2577-2-e", 5, "Latency", 1, "d1x64_sigmoid", 0.0, "f16", 2, 1, 61, 9884, 1047, 32),
    ("h4b_conv2d_28x28x3_f32k4s4_vivado2020_resource", "Vivado", "xcvu13p-flga2577-2-e", 5, "Resource", 1, "conv2d", 0.0, "f16", 52, 49, 740, 86819, 52870, 0),
))


def reference_csv() -> Path | None:
    """The shared reference.csv, when it is reachable (env FPGATAG_SYNTH_REFERENCE or ../shared)."""
    env = os.environ.get("FPGATAG_SYNTH_REFERENCE")
    here = Path(__file__).resolve().parents[2]
    for cand in ([Path(env)] if env else []) + [here.parent / "shared" / "synth-reference", here / "shared" / "synth-reference"]:
        f = cand / "reference.csv" if cand.is_dir() else cand
        if f.is_file():
            return f
    return None


def check_against_csv(path: Path) -> list[str]:
    """Differences between :data:`ROWS` and the CSV (empty when the copy is faithful)."""
    with open(path, newline="") as fh:
        csv_rows = {r["id"]: r for r in csv.DictReader(fh)}
    problems = []
    for row in ROWS:
        r = csv_rows.get(row.id)
        if r is None:
            problems.append(f"{row.id}: not in {path}")
            continue
        for k in FIGURES:
            if int(float(r[k])) != getattr(row, k):
                problems.append(f"{row.id}.{k}: {getattr(row, k)} here, {r[k]} in csv")
        if r["part"] != row.part or r["strategy"] != row.strategy or int(r["reuse_factor"]) != row.reuse_factor:
            problems.append(f"{row.id}: settings differ")
    return problems


# --------------------------------------------------------------------------- rebuilding
def _laplace_like(rng, shape, fan_in, scale=1.0):
    b = scale * np.sqrt(1.0 / (2.0 * fan_in))
    return rng.laplace(0.0, b, size=shape)


def build(row: RefRow, seed: int):
    """The row's Keras model with drawn weights, and its hls4ml config (as the row's notebook made it)."""
    import hls4ml
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    L = tf.keras.layers
    if row.arch == "jet":
        if row.quant == "q6":
            from qkeras import QActivation, QDense, quantized_bits, quantized_relu

            q = quantized_bits(6, 0, alpha=1)
            inp = tf.keras.Input((16,), name="input_1")
            x = inp
            for i, n in enumerate((64, 32, 32), start=1):
                x = QDense(n, kernel_quantizer=q, bias_quantizer=q, name=f"fc{i}")(x)
                x = QActivation(quantized_relu(6), name=f"relu{i}")(x)
            x = QDense(5, kernel_quantizer=q, bias_quantizer=q, name="output")(x)
            x = L.Activation("softmax", name="softmax")(x)
        else:
            inp = tf.keras.Input((16,), name="input_1")
            x = inp
            for i, n in enumerate((64, 32, 32), start=1):
                x = L.Dense(n, name=f"fc{i}")(x)
                x = L.Activation("relu", name=f"relu{i}")(x)
            x = L.Dense(5, name="output")(x)
            x = L.Activation("softmax", name="softmax")(x)
        model = tf.keras.Model(inp, x)
        for layer in model.layers:
            if layer.name.startswith(("fc", "output")):
                k, b = layer.get_weights()
                k = _laplace_like(rng, k.shape, k.shape[0])
                if row.sparsity:
                    flat = k.ravel().copy()
                    flat[np.argsort(np.abs(flat))[: int(round(row.sparsity * flat.size))]] = 0.0
                    k = flat.reshape(k.shape)
                b = _laplace_like(rng, b.shape, k.shape[0], 0.1)
                if row.quant == "q6":
                    k = np.clip(k * 3, -1, 1)  # 6-bit QAT weights use the quantizer's range
                layer.set_weights([k.astype(np.float32), b.astype(np.float32)])
    elif row.arch.startswith("d1x"):
        n, act = (2, "elu") if row.arch == "d1x2_elu" else (64, row.arch.split("_")[1])
        inp = tf.keras.Input((1,), name="input_1")
        x = L.Dense(n, name="Dense")(inp)
        x = L.Activation(act, name="Activation")(x)
        model = tf.keras.Model(inp, x)
        if row.arch == "d1x2_elu":
            k = rng.uniform(1, 10, size=(1, n))
        else:
            lim = np.sqrt(3.0 / 1)
            k = rng.uniform(-lim, lim, size=(1, n))
        model.get_layer("Dense").set_weights([k.astype(np.float32), np.zeros(n, np.float32)])
    elif row.arch == "conv2d":
        inp = tf.keras.Input((28, 28, 3), name="input_1")
        x = L.Conv2D(32, (4, 4), strides=(4, 4), padding="same", use_bias=False, name="conv")(inp)
        model = tf.keras.Model(inp, x)
        model.get_layer("conv").set_weights([rng.normal(0, 0.05, size=(4, 4, 3, 32)).astype(np.float32)])
    else:
        raise ValueError(f"unknown reference architecture {row.arch}")

    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name" if row.quant == "q6" else "model",
                                               backend=row.tool)
    cfg["Model"]["ReuseFactor"] = row.reuse_factor
    cfg["Model"]["Strategy"] = row.strategy
    if row.quant == "q6":
        for name, lc in cfg["LayerName"].items():
            lc["ReuseFactor"] = row.reuse_factor
            if name.startswith(("fc", "output")):
                lc.setdefault("Precision", {}).update(result="fixed<16,6>", accum="fixed<16,6>")
            if name == "input_1":
                lc.setdefault("Precision", {})["result"] = "fixed<16,6>"
            if name == "softmax":
                lc.setdefault("Precision", {})["result"] = "fixed<16,6>"
    return model, cfg


# --------------------------------------------------------------------------- evaluation
def relative_error(est: float, ref: float) -> float:
    """|est - ref| / ref, with ref floored at 1 (latency 0 and BRAM 0 rows)."""
    return abs(float(est) - float(ref)) / max(abs(float(ref)), 1.0)


def row_record(row: RefRow, ests: list[dict]) -> dict:
    """One reference row against several weight draws' estimates: median, spread, relative error."""
    rec = {"id": row.id, "tool": row.tool, "reference": {k: getattr(row, k) for k in FIGURES}}
    for k in FIGURES:
        vals = np.array([e[k] for e in ests], dtype=float)
        med = float(np.median(vals))
        rec[k] = {"median": med, "min": float(vals.min()), "max": float(vals.max()),
                  "rel_error": relative_error(med, getattr(row, k))}
    return rec


def estimate_row(row: RefRow, seed: int, calibration=None) -> dict:
    """The estimator's figures for one reference row and one weight draw."""
    import tempfile

    from fpgatag.fpga.convert import convert
    from fpgatag.fpga.estimate import estimate_graph
    from fpgatag.fpga.parts import resolve_part

    model, cfg = build(row, seed)
    part = resolve_part(row.part)
    with tempfile.TemporaryDirectory(prefix="fpgatag-ref-") as tmp:
        hls_model, _, _ = convert(model, tmp, part=part.full, backend=row.tool, strategy=row.strategy,
                                  reuse_factor=row.reuse_factor, clock_period=row.clock_ns, hls_config=cfg)
        return estimate_graph(hls_model, part, row.clock_ns, row.tool, calibration)


def evaluate(rows=ROWS, draws: int = 5, calibration_for=None, cache: dict | None = None) -> dict:
    """Per-row estimates over ``draws`` weight draws and the error summary per figure.

    ``calibration_for(tool)`` may return a Calibration to use instead of the committed one.
    ``cache`` (row id, seed) -> hls ModelGraph-free figures is not kept between calls.
    """
    per_row = []
    for row in rows:
        cal = calibration_for(row.tool) if calibration_for else None
        per_row.append(row_record(row, [estimate_row(row, seed, cal) for seed in range(draws)]))
    return {"rows": per_row, "summary": summarize(per_row)}


def summarize(per_row: list[dict]) -> dict:
    out = {}
    for tool in sorted({r["tool"] for r in per_row}):
        rs = [r for r in per_row if r["tool"] == tool]
        out[tool] = {k: {"median_rel_error": float(np.median([r[k]["rel_error"] for r in rs])),
                         "worst_rel_error": float(np.max([r[k]["rel_error"] for r in rs])),
                         "worst_row": max(rs, key=lambda r: r[k]["rel_error"])["id"], "n_rows": len(rs)}
                     for k in FIGURES}
    return out
