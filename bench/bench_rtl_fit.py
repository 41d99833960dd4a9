#!/usr/bin/env python
"""The RTL netlist model: Yosys counts of many *trained* students against da4ml's and hls4ml's figures.

Each point is a Deep Sets (or MLP) of fpgatag's own builders, trained for a few epochs on a small
generated jets file (trigger view, labels only), magnitude-pruned to its sparsity and fine-tuned
with the zeros held, then: ``synth_rtl`` (da4ml RTL, 200 MHz, VU9P, with the hls4ml estimate of the
same model), and Yosys ``synth_xilinx`` on it. The grid varies width, weight/activation bits, the
number of objects N and the sparsity one or two at a time around a small base point, so that each
Yosys run takes a minute or two on one core.

The netlist model is fitted on these pairs and its error stated by leave-one-out cross-validation:

* ``da4ml``: da4ml's own LUT estimate, as is;
* ``factor``: one factor x da4ml's LUTs (the median Yosys/da4ml ratio of the other points);
* ``power``: log LUT = a + b log da4ml's LUTs (least squares on the other points);
* ``hls4ml estimate``: fpgatag's estimate of the hls4ml HLS firmware (latency strategy, reuse 1:
  like the RTL, one jet per clock) against the same netlist; it has no fit here.

FFs: da4ml's register bits, as is and times a factor. Yosys counts are logic synthesis before
place and route: not Vivado counts.

    python bench/bench_rtl_fit.py --data demo2500.h5   # the grid (resumes: finished points are kept)
    python bench/bench_rtl_fit.py --refit         # only refit and rewrite the results

Writes bench/results/rtl_fit.{json,md}.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import _common as C  # noqa: E402  (the repository on sys.path)
from fpgatag.core.io import read_json  # noqa: E402
from fpgatag.core.metrics import format_table  # noqa: E402
from fpgatag.core.provenance import provenance  # noqa: E402

log = logging.getLogger("fpgatag.bench.rtl_fit")
FEATURES = ["pt", "deta", "dphi", "pt_rel", "dr", "charge", "pid"]   # the trigger view of deepsets-l1
IN_PREC = (16, 6)
# (name, builder, width, bits, n_objects, sparsity): base ds-w8-b6-n8-s50, one or two factors changed;
# smallest first (on a loaded 2-core machine each Yosys run takes 5-15 minutes)
GRID = [
    ("ds-w8-b6-n8-s50", "deepsets", 8, 6, 8, 0.5),
    ("ds-w4-b6-n8-s50", "deepsets", 4, 6, 8, 0.5),
    ("ds-w8-b4-n8-s50", "deepsets", 8, 4, 8, 0.5),
    ("ds-w8-b6-n8-s75", "deepsets", 8, 6, 8, 0.75),
    ("mlp-w16-b6-s50", "mlp", 16, 6, None, 0.5),
    ("ds-w8-b6-n4-s50", "deepsets", 8, 6, 4, 0.5),
    ("ds-w4-b8-n8-s0", "deepsets", 4, 8, 8, 0.0),
    ("ds-w16-b4-n4-s75", "deepsets", 16, 4, 4, 0.75),
    ("ds-w8-b8-n8-s50", "deepsets", 8, 8, 8, 0.5),
    ("ds-w8-b6-n8-s0", "deepsets", 8, 6, 8, 0.0),
    ("ds-w16-b6-n8-s50", "deepsets", 16, 6, 8, 0.5),
    ("ds-w8-b6-n16-s50", "deepsets", 8, 6, 16, 0.5),
    ("mlp-w32-b8-s75", "mlp", 32, 8, None, 0.75),
]
# Trained students measured with the same flow elsewhere (same Yosys script and version), fitted too
MEASURED_ELSEWHERE = [
    {"model": "demo deepsets-l1 (distilled)", "builder": "deepsets", "width": 16, "bits": 8, "n_objects": 16,
     "sparsity": 0.75, "n_params": 706, "yosys_s": 481, "yosys_lut": 51639, "yosys_ff": 11033, "yosys_dsp": 0,
     "da4ml_lut": 63880.0, "da4ml_ff": 12769, "hls_est_lut": 41832, "hls_est_ff": 17652, "hls_est_dsp": 251,
     "latency_ns": 30.0, "from": "bench/results/rtl_trained.md"},
]
COLUMNS = ["model", "n_params", "sparsity", "val_acc", "n_val", "gen_s", "yosys_s", "yosys_lut", "yosys_ff", "yosys_carry",
           "da4ml_lut", "da4ml_ff", "hls_est_lut", "hls_est_ff", "hls_est_dsp", "latency_ns"]


def prepare(builder: str, n_objects: int | None, data: Path):
    """(x_train, y_train, x_val, y_val) for the trigger view (objects, or the flattened jet for the MLP)."""
    from fpgatag.core.splits import split_indices
    from fpgatag.data.io import open_jets
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.train.data import fit_inputs, load_arrays

    kind = "trigger" if builder == "deepsets" else "flat_trigger"
    spec = InputSpec(kind=kind, features=FEATURES, n_objects=n_objects or 8, input_bits=IN_PREC[0],
                     input_integer_bits=IN_PREC[1])
    with open_jets(data) as src:
        sp = split_indices(src.uids())
        fit_inputs(src, spec, sp["train"])
        xt, yt = load_arrays(src, spec, sp["train"])
        xv, yv = load_arrays(src, spec, sp["val"])
    return xt, yt, xv, yv


def build(builder: str, width: int, bits: int, shape):
    from fpgatag.nn.presets import get_builder

    if builder == "deepsets":
        return get_builder("deepsets")(shape, 2, phi=[width, width], rho=[width], pool="mean", bits=bits)
    return get_builder("mlp")(shape, 2, hidden=[width, width // 2], bits=bits)


def train(model, arrays, sparsity: float, epochs: int, seed: int) -> float:
    """A short training, magnitude pruning of every kernel to ``sparsity``, fine-tuning with the zeros
    held; returns the validation accuracy."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    xt, yt, xv, yv = arrays
    model.compile(tf.keras.optimizers.Adam(3e-3), tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(xt, yt, batch_size=128, epochs=epochs, verbose=0)
    if sparsity > 0:
        masks = {}
        for layer in model.layers:
            if getattr(layer, "kernel", None) is not None:
                k = layer.kernel.numpy()
                masks[layer.name] = np.abs(k) > np.quantile(np.abs(k), sparsity)

        class Hold(tf.keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                for layer in self.model.layers:
                    if layer.name in masks:
                        layer.kernel.assign(layer.kernel.numpy() * masks[layer.name])

        hold = Hold()
        hold.set_model(model)
        hold.on_train_batch_end(0)
        model.fit(xt, yt, batch_size=128, epochs=max(1, epochs // 2), verbose=0, callbacks=[hold])
    return float(model.evaluate(xv, yv, verbose=0)[1])


def run_point(point, data: Path, epochs: int, work: Path) -> dict:
    from bench_rtl import yosys_slot

    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_flow import synth_rtl
    from fpgatag.fpga.rtl_yosys import run_yosys
    from fpgatag.nn.students import count_params, weight_sparsity

    name, builder, width, bits, n_obj, sparsity = point
    arrays = prepare(builder, n_obj, data)
    model = build(builder, width, bits, arrays[0].shape[1:])
    t0 = time.perf_counter()
    acc = train(model, arrays, sparsity, epochs, seed=1)
    train_s = time.perf_counter() - t0
    part = resolve_part("xcvu9p")
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        res = synth_rtl(model, part="xcvu9p", output_dir=work / name, clock_period=5.0, input_precision=IN_PREC, yosys=False)
    gen_s = time.perf_counter() - t0
    man, est = res["manifest"], res["estimate"] or {}
    with yosys_slot():
        s = run_yosys(work / name, man, part)
    row = {"model": name, "builder": builder, "width": width, "bits": bits, "n_objects": n_obj, "sparsity": sparsity,
           "weight_sparsity": weight_sparsity(model)["quantized_sparsity"], "n_params": count_params(model),
           "val_acc": round(acc, 4), "n_val": int(len(arrays[3])), "train_s": round(train_s, 1), "gen_s": round(gen_s, 1),
           "yosys_s": s["wall_seconds"], "yosys_lut": s["lut"], "yosys_ff": s["ff"], "yosys_carry": s["carry"],
           "yosys_dsp": s["dsp"], "logic_depth": s["logic_depth"], "yosys_tool": f"{s['tool']} {s['tool_version']}",
           "da4ml_lut": man["da4ml_estimate"]["lut"], "da4ml_ff": man["da4ml_estimate"]["ff"],
           "latency_ns": man["latency_ns"], "hls_est_lut": est.get("lut"), "hls_est_ff": est.get("ff"),
           "hls_est_dsp": est.get("dsp")}
    log.info("%s: %s", name, {k: row.get(k) for k in COLUMNS})
    return row


# --------------------------------------------------------------------------- the fit
def _rel(pred, truth) -> np.ndarray:
    return np.asarray(pred, float) / np.asarray(truth, float) - 1.0


def _factor(x, y) -> float:
    return float(np.exp(np.median(np.log(np.asarray(y, float) / np.asarray(x, float)))))


def _power(x, y) -> tuple[float, float]:
    b, a = np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)
    return float(a), float(b)


def loo(x, y, fit, predict) -> np.ndarray:
    """Leave-one-out relative errors: each point predicted by the model fitted on the others."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    out = []
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        out.append(predict(fit(x[keep], y[keep]), x[i]) / y[i] - 1.0)
    return np.asarray(out)


def _stats(err: np.ndarray) -> dict:
    a = np.abs(err)
    return {"n": int(a.size), "median_abs_err": round(float(np.median(a)), 3), "mean_abs_err": round(float(np.mean(a)), 3),
            "max_abs_err": round(float(np.max(a)), 3), "bias_median": round(float(np.median(err)), 3)}


def fit_netlist(rows: list[dict]) -> dict:
    """The fitted coefficients (on every point) and each predictor's leave-one-out error."""
    rows = [r for r in rows if r.get("yosys_lut")]
    if len(rows) < 3:
        return {"n": len(rows)}
    x, y = [r["da4ml_lut"] for r in rows], [r["yosys_lut"] for r in rows]
    xf, yf = [r["da4ml_ff"] for r in rows], [r["yosys_ff"] for r in rows]
    hls = [(r["hls_est_lut"], r["yosys_lut"]) for r in rows if r.get("hls_est_lut")]
    a, b = _power(x, y)
    lut = {
        "da4ml": _stats(_rel(x, y)),
        "factor": _stats(loo(x, y, _factor, lambda k, v: k * v)),
        "power": _stats(loo(x, y, _power, lambda ab, v: float(np.exp(ab[0]) * v ** ab[1]))),
        "hls4ml estimate": _stats(_rel(*zip(*hls))) if hls else None,
    }
    ff = {"da4ml": _stats(_rel(xf, yf)), "factor": _stats(loo(xf, yf, _factor, lambda k, v: k * v))}
    best = min(("factor", "power"), key=lambda m: lut[m]["median_abs_err"])
    ff_best = min(("da4ml", "factor"), key=lambda m: ff[m]["median_abs_err"])   # a factor only if it helps out of sample
    return {"n": len(rows), "lut_factor": round(_factor(x, y), 4), "lut_power": {"a": round(a, 4), "b": round(b, 4)},
            "ff_factor": round(_factor(xf, yf), 4), "lut_loo": lut, "ff_loo": ff, "lut_best": best, "ff_best": ff_best}


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--data", type=Path, default=None,
                    help="jets file the students train on (e.g. fpgatag generate -o demo2500.h5 --jets-per-class 2500 --seed 1)")
    ap.add_argument("--epochs", type=int, default=12, help="training epochs (pruned points: + half as many fine-tuning)")
    ap.add_argument("--models", nargs="*", default=[g[0] for g in GRID])
    ap.add_argument("--refit", action="store_true", help="refit and rewrite the results from OUT/rtl_fit.json only")
    args = ap.parse_args(argv)
    if args.data is None and not args.refit:
        ap.error("--data is required (the jets file the students train on)")
    C.start(args)
    path = args.out / "rtl_fit.json"
    old = read_json(path, "rtl fit results") if path.is_file() else {"rows": []}
    rows = {r["model"]: r for r in old["rows"]}
    if args.refit:   # the settings the points were made with
        args.data = Path(old.get("provenance", {}).get("settings", {}).get("data") or "unknown")
        args.epochs = int(old.get("provenance", {}).get("settings", {}).get("epochs") or args.epochs)
    if not args.refit:
        grid = {g[0]: g for g in GRID}
        with tempfile.TemporaryDirectory(prefix="fpgatag-bench-rtl-fit-") as tmp:
            for name in args.models:
                if name in rows:
                    continue
                rows[name] = run_point(grid[name], args.data, args.epochs, Path(tmp))
                _write(list(rows.values()), args, echo=False)
    _write(list(rows.values()), args)
    return 0


def _drawn_rows(out: Path) -> list[dict]:
    p = out / "rtl.json"
    return [r for r in read_json(p, "rtl results")["rows"] if isinstance(r.get("yosys_lut"), (int, float))] if p.is_file() else []


def _versions_note(rows: list[dict]) -> str:
    """A sentence when the points were trained on more than one version of the file (told apart by n_val)."""
    sizes = sorted({r["n_val"] for r in rows if r.get("n_val")})
    if len(sizes) < 2:
        return ""
    counts = ", ".join(f"{sum(r.get('n_val') == n for r in rows)} points with n_val = {n}" for n in sizes)
    return (f" The points were trained on {len(sizes)} versions of the file, written by the same command and seed at "
            f"different commits of fpgatag ({counts}): each point's counts are those of its own trained weights.")


def _write(rows: list[dict], args, echo: bool = True) -> None:
    rows = [r for r in rows if not r.get("from")] + MEASURED_ELSEWHERE
    fit = fit_netlist(rows)
    drawn = _drawn_rows(args.out)
    drawn_err = []
    if fit.get("n", 0) >= 3:
        a, b = fit["lut_power"]["a"], fit["lut_power"]["b"]
        for r in drawn:
            drawn_err.append({"model": r["model"], "yosys_lut": r["yosys_lut"], "da4ml_lut": r["da4ml_lut"],
                              "factor_err": round(fit["lut_factor"] * r["da4ml_lut"] / r["yosys_lut"] - 1, 3),
                              "power_err": round(float(np.exp(a) * r["da4ml_lut"] ** b) / r["yosys_lut"] - 1, 3)})
    result = {"rows": rows, "fit": fit, "drawn_weights_under_fit": drawn_err,
              "provenance": provenance({k: str(v) for k, v in vars(args).items()})}
    loo_rows = [{"predictor": k, **v} for k, v in fit.get("lut_loo", {}).items() if v]
    ff_rows = [{"predictor": k, **v} for k, v in fit.get("ff_loo", {}).items() if v]
    md = [
        "# RTL netlist model: trained students, Yosys counts against da4ml's and hls4ml's figures",
        "",
        f"Each point: a student of fpgatag's builders trained on `{Path(str(args.data)).name}` (trigger view, "
        f"{FEATURES}, inputs ap_fixed<{IN_PREC[0]},{IN_PREC[1]}>) for {args.epochs} epochs, magnitude-pruned to its "
        "sparsity and fine-tuned with the zeros held; `synth_rtl` at 200 MHz for the VU9P; Yosys "
        "`synth_xilinx -family xcup -flatten -noiopad -noclkbuf` (logic synthesis before place and route, not Vivado "
        "counts). `val_acc` on `n_val` validation jets shows the weights are trained. `hls_est_*`: fpgatag's estimate "
        "of the hls4ml HLS firmware (latency strategy, reuse 1) of the same model. Machine: 2 cores shared with other "
        "jobs (wall times are upper bounds). Rows with `from` were measured with the same flow and Yosys elsewhere "
        f"({', '.join(sorted({r['from'] for r in MEASURED_ELSEWHERE}))}).{_versions_note(rows)}",
        "",
        format_table(rows, COLUMNS + ["from"]),
        "",
        f"## LUT: relative error against the Yosys netlist ({fit.get('n', 0)} trained models)",
        "",
        "`da4ml` and `hls4ml estimate` are used as they are (no fit); `factor` and `power` are fitted, and their "
        "errors are leave-one-out (each point predicted by the fit on the others).",
        "",
        format_table(loo_rows, ["predictor", "n", "median_abs_err", "mean_abs_err", "max_abs_err", "bias_median"])
        if loo_rows else "fewer than 3 points yet",
        "",
        "## FF (register bits): relative error against the Yosys netlist",
        "",
        format_table(ff_rows, ["predictor", "n", "median_abs_err", "mean_abs_err", "max_abs_err", "bias_median"])
        if ff_rows else "fewer than 3 points yet",
        "",
        f"Fitted on all {fit.get('n', 0)} points: {json.dumps({k: fit.get(k) for k in ('lut_factor', 'lut_power', 'ff_factor', 'lut_best', 'ff_best')})}. "
        "These coefficients are `fpgatag.fpga.rtl.NETLIST_FIT`: the `netlist model` column of the side-by-side "
        "tables and `da4ml_estimate.netlist_predicted` in manifest.json.",
        "",
        "The hls4ml estimate is compared at reuse factor 1 only: the RTL is fully parallel (II = 1), so that is the "
        "like-for-like hls4ml design; higher reuse factors trade DSPs for II and have no netlist here.",
        "",
    ]
    if drawn_err:
        md += ["## Drawn-weight models (bench/results/rtl.json) under the trained fit", "",
               "The fit on trained students applied to the drawn-weight models of bench/results/rtl.md (not used in the "
               "fit): a check on models of another weight distribution.", "",
               format_table(drawn_err, ["model", "yosys_lut", "da4ml_lut", "factor_err", "power_err"]), ""]
    C.write(args.out, "rtl_fit", result, md, echo=echo)


if __name__ == "__main__":
    sys.exit(main())
