#!/usr/bin/env python
"""RTL flow benchmark: da4ml generation, Verilator build and simulation against hls4ml's batched C
simulation (same model, same jets, same run), Yosys synthesis, and the figures of every source.

Models: every shipped student preset (drawn weights, Laplace-spread like an L1-regularised training
and magnitude-pruned to the preset's training sparsity; no training is needed for firmware figures)
and the 16-object Deep Sets at phi/rho widths 8, 16 (32 is the ``deepsets`` preset).

    python bench/bench_rtl.py                         # all models; Yosys up to --yosys-max-lut
    python bench/bench_rtl.py --models deepsets-l1    # one
    python bench/bench_rtl.py --merge                 # add rows to the results instead of replacing
    python bench/bench_rtl.py --merge --models        # only rewrite rtl.md from rtl.json

Writes bench/results/rtl.{json,md}. Yosys counts are logic synthesis before place and route (not
Vivado counts); the logic depth is not an Fmax.
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

log = logging.getLogger("fpgatag.bench.rtl")
PRESETS = ("deepsets-l1", "deepsets", "deepsets-max", "deepsets-logpt", "deepsets-towers", "dense-student", "mlp",
           "deepsets-hls4ml", "mlp-hls4ml", "gru", "lstm")
YOSYS_LOCK = Path(tempfile.gettempdir()) / "fpgatag-bench-yosys.lock"   # one Yosys at a time across bench scripts
WIDTHS = (8, 16)
COLUMNS = ["model", "n_params", "sparsity", "gen_s", "verilator_build_s", "rtl_jets_per_s", "csim_jets_per_s",
           "bit_exact", "n_jets", "yosys_s", "yosys_lut", "yosys_ff", "yosys_dsp", "yosys_carry", "logic_depth",
           "da4ml_lut", "da4ml_ff", "rtl_latency_ns", "hls_est_lut", "hls_est_ff", "hls_est_dsp", "hls_est_latency_ns"]


def build(name: str):
    """(model, input precision) of a preset, or of 'deepsets-wW' (16 objects, 7 features, phi W-W, rho W)."""
    from fpgatag.fpga.examples import _draw
    from fpgatag.nn.presets import get_builder, load_preset

    if name.startswith("deepsets-w"):
        w = int(name[len("deepsets-w"):])
        pre = load_preset("deepsets")
        pre["params"] = dict(pre["params"], phi=[w, w], rho=[w])
    else:
        pre = load_preset(name)
    inputs = pre["inputs"]
    nf = len(inputs["features"])
    shape = {"trigger": (inputs.get("n_objects"), nf), "hls4ml_constituents": (inputs.get("n_objects"), nf),
             "flat_trigger": (inputs.get("n_objects", 16) * nf,), "jet": (nf,), "hls4ml_jet": (nf,)}[inputs["kind"]]
    model = get_builder(pre["builder"])(shape, 2, **pre["params"])
    sparsity = float(pre.get("training", {}).get("sparsity") or 0.0)
    _draw(model, seed=1, sparsity=sparsity, l1_like=True)
    prec = (int(inputs.get("input_bits", 16)), int(inputs.get("input_integer_bits", 6)))
    return model, prec, sparsity


def csim_rate(model, x, prec) -> float | None:
    from fpgatag.fpga.convert import LoadedModel
    from fpgatag.fpga.validate import validate

    lm = LoadedModel(model, Path("<bench>"), prec)
    with contextlib.redirect_stdout(io.StringIO()):
        r = validate(lm, x, n=len(x), workers=2, input_precision=prec)
    return r["jets_per_s"]


@contextlib.contextmanager
def yosys_slot():
    """Hold the bench's Yosys lock (Yosys is single-threaded and memory-hungry: one run at a time)."""
    from fpgatag.core.io import exclusive_lock

    with exclusive_lock(YOSYS_LOCK):
        yield


def profile_top(fn, n: int = 8) -> tuple[object, list[dict]]:
    """fn()'s result and its n most expensive functions by own time (cProfile)."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    result = prof.runcall(fn)
    st = pstats.Stats(prof)
    rows = sorted(((v[2], v[3], k) for k, v in st.stats.items()), reverse=True)[:n]
    return result, [{"function": f"{Path(k[0]).name}:{k[1]}({k[2]})", "own_s": round(t, 2), "cum_s": round(c, 2)}
                    for t, c, k in rows]


def run_one(name: str, n_jets: int, yosys_max_lut: float, csim: bool, work: Path, yosys: bool = True,
            profile: bool = False, yosys_jobs: int = 1) -> dict:
    from fpgatag.fpga.examples import inputs_for
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_flow import synth_rtl
    from fpgatag.fpga.rtl_yosys import run_yosys
    from fpgatag.fpga.rtlsim import RTLSimulator
    from fpgatag.nn.inputs import quantize_fixed
    from fpgatag.nn.students import count_params

    from fpgatag.core.errors import FpgatagError

    model, prec, sparsity = build(name)
    part = resolve_part("xcvu9p")
    out = work / name
    t0 = time.perf_counter()
    gen = lambda: synth_rtl(model, part="xcvu9p", output_dir=out, clock_period=5.0, input_precision=prec, yosys=False)  # noqa: E731
    try:
        res, prof = profile_top(gen) if profile else (gen(), None)
    except FpgatagError as exc:   # a preset the RTL flow cannot build: recorded, by layer
        log.info("%s: refused: %s", name, exc)
        return {"model": name, "n_params": count_params(model), "refused": str(exc)}
    gen_s = time.perf_counter() - t0
    man, est = res["manifest"], res["estimate"] or {}
    row = {"model": name, "n_params": count_params(model), "sparsity": sparsity, "gen_s": round(gen_s, 1),
           "gen_timing": man["timing_s"], "da4ml_lut": man["da4ml_estimate"]["lut"], "da4ml_ff": man["da4ml_estimate"]["ff"],
           "rtl_latency_ns": man["latency_ns"], "rtl_stages": man["pipeline_stages"],
           "hls_est_lut": est.get("lut"), "hls_est_ff": est.get("ff"), "hls_est_dsp": est.get("dsp"),
           "hls_est_latency_ns": est.get("latency_ns"), "distinct_solved_matrices": man.get("distinct_solved_matrices")}
    if prof:
        row["gen_profile"] = prof
    x = quantize_fixed(inputs_for(model, n_jets, seed=2, scale=3.0), *prec)
    sim = RTLSimulator(out, work / f"{name}-sim", threads=2)
    try:
        row["verilator_build_s"] = round(sim.build(), 1)
        t0 = time.perf_counter()
        y = sim.predict(x)
        row["rtl_jets_per_s"] = round(n_jets / (time.perf_counter() - t0))
    finally:
        sim.close()
    yk = model.predict(x, batch_size=2048, verbose=0).reshape(n_jets, -1)
    row["bit_exact"] = float(np.mean(np.all(yk == y, axis=1)))
    row["n_jets"] = n_jets
    row["csim_jets_per_s"] = round(csim_rate(model, x, prec)) if csim else None
    if not yosys:
        row["yosys_s"] = "not run (--no-yosys-for)"
    elif row["da4ml_lut"] <= yosys_max_lut:
        with yosys_slot():
            s = run_yosys(out, man, part, jobs=yosys_jobs)
        row.update(yosys_s=s["wall_seconds"], yosys_cpu_s=s["cpu_seconds"], yosys_mode=s["mode"], yosys_lut=s["lut"], yosys_ff=s["ff"], yosys_dsp=s["dsp"],
                   yosys_carry=s["carry"], yosys_bram18=s["bram18"], logic_depth=s["logic_depth"],
                   yosys_lut_pct=s["lut_pct"], yosys_tool=f"{s['tool']} {s['tool_version']}")
    else:
        row["yosys_s"] = f"skipped (da4ml estimate {row['da4ml_lut']:.0f} LUT > {yosys_max_lut:.0f})"
    log.info("%s: %s", name, {k: row.get(k) for k in COLUMNS})
    return row


SAME_RTL = ("da4ml_lut", "da4ml_ff", "rtl_stages", "n_params")


def carry_yosys(old: dict | None, new: dict) -> dict:
    """NEW, with OLD's Yosys figures when NEW skipped Yosys (--no-yosys-for) and is the same RTL: the
    weights are drawn from a fixed seed, so equal da4ml cost, register bits, stages and parameters
    mean the same circuit. The row says where its Yosys figures come from."""
    if (old is None or isinstance(new.get("yosys_lut"), (int, float)) or not isinstance(old.get("yosys_lut"), (int, float))
            or any(old.get(k) != new.get(k) for k in SAME_RTL)):
        return new
    kept = {k: v for k, v in old.items() if k.startswith(("yosys_", "logic_depth"))}
    return {**new, **kept, "yosys_from": "an earlier run of the same RTL (equal " + ", ".join(SAME_RTL) + ")"}


def error_table(rows: list[dict]) -> tuple[list[dict], dict]:
    """Each estimate's relative LUT/FF error against the Yosys netlist, and a one-factor correction
    of da4ml's estimate (least squares in log space: the median ratio)."""
    have = [r for r in rows if isinstance(r.get("yosys_lut"), (int, float)) and r["yosys_lut"] > 0]
    out = []
    for r in have:
        out.append({"model": r["model"], "yosys_lut": r["yosys_lut"],
                    "da4ml_lut_err": round(r["da4ml_lut"] / r["yosys_lut"] - 1, 3),
                    "hls_est_lut_err": round(r["hls_est_lut"] / r["yosys_lut"] - 1, 3) if r.get("hls_est_lut") else None,
                    "da4ml_ff_err": round(r["da4ml_ff"] / r["yosys_ff"] - 1, 3) if r.get("yosys_ff") else None})
    fit = {}
    if have:
        lut_ratio = np.array([r["yosys_lut"] / r["da4ml_lut"] for r in have])
        ff_ratio = np.array([r["yosys_ff"] / r["da4ml_ff"] for r in have if r.get("yosys_ff")])
        fit = {"n": len(have), "lut_factor": round(float(np.exp(np.median(np.log(lut_ratio)))), 4),
               "ff_factor": round(float(np.exp(np.median(np.log(ff_ratio)))), 4) if ff_ratio.size else None}
        for o, r in zip(out, have):
            o["corrected_da4ml_lut_err"] = round(fit["lut_factor"] * r["da4ml_lut"] / r["yosys_lut"] - 1, 3)
        fit["median_abs_err_da4ml_lut"] = float(np.median([abs(o["da4ml_lut_err"]) for o in out]))
        fit["median_abs_err_corrected_lut"] = float(np.median([abs(o["corrected_da4ml_lut_err"]) for o in out]))
        hls = [abs(o["hls_est_lut_err"]) for o in out if o["hls_est_lut_err"] is not None]
        fit["median_abs_err_hls_estimate_lut"] = float(np.median(hls)) if hls else None
    return out, fit


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--models", nargs="*", default=[*PRESETS, *(f"deepsets-w{w}" for w in WIDTHS)])
    ap.add_argument("--n-jets", type=int, default=10000)
    ap.add_argument("--yosys-max-lut", type=float, default=120_000, help="skip Yosys above this da4ml LUT estimate")
    ap.add_argument("--no-csim", action="store_true", help="skip hls4ml's C simulation (its compile is slow for wide models)")
    ap.add_argument("--merge", action="store_true",
                    help="add to OUT/rtl.json instead of replacing it (with --models and no name: only rewrite rtl.md from it)")
    ap.add_argument("--no-yosys-for", nargs="*", default=[], metavar="MODEL", help="models whose Yosys run is skipped")
    ap.add_argument("--profile", action="store_true", help="cProfile the RTL generation (top functions by own time)")
    ap.add_argument("--yosys-jobs", type=int, default=1,
                    help="Yosys processes: > 1 synthesizes the pipeline stages in parallel (yosys_mode in the rows)")
    args = ap.parse_args(argv)
    C.start(args)
    stored = args.out / "rtl.json"
    old = read_json(stored, "rtl results")["rows"] if args.merge and stored.is_file() else []
    rows = {r["model"]: r for r in old}
    with tempfile.TemporaryDirectory(prefix="fpgatag-bench-rtl-") as tmp:
        for name in args.models:
            rows[name] = carry_yosys(rows.get(name), run_one(name, args.n_jets, args.yosys_max_lut, not args.no_csim, Path(tmp),
                                 yosys=name not in args.no_yosys_for, profile=args.profile, yosys_jobs=args.yosys_jobs))
            _write(list(rows.values()), args, echo=False)
    _write(list(rows.values()), args)
    return 0


def _write(rows: list[dict], args, echo: bool = True) -> None:
    refused = [r for r in rows if r.get("refused")]
    rows = [r for r in rows if not r.get("refused")]
    errs, fit = error_table(rows)
    result = {"rows": rows + refused, "estimator_vs_netlist": errs, "fit": fit, "provenance": provenance(vars(args))}
    md = [
        "# RTL flow: da4ml Verilog, Verilator simulation, Yosys synthesis",
        "",
        "Each model: `fpgatag synth MODEL --flow rtl --clock-period 5` (200 MHz, VU9P), then a Verilator build and "
        "simulation of the RTL on `n_jets` random jets on the model's input grid against Keras (`bit_exact`), "
        "hls4ml's batched C simulation on the same jets (2 workers) for throughput, and Yosys "
        "`synth_xilinx -family xcup -flatten -noiopad -noclkbuf`. Weights are drawn (Laplace, as after L1 training) and "
        "pruned to the preset's training sparsity: figures of untrained models of the presets' shapes. "
        "Machine: 2 cores shared with other jobs (wall times are upper bounds).",
        "",
        "Sources: `yosys_*` netlist counts (logic synthesis before place and route, not Vivado counts; `logic_depth` is "
        "the longest chain of cells between registers, not an Fmax); `da4ml_*` da4ml's own cost model; `hls_est_*` "
        "fpgatag's estimate of the hls4ml HLS (latency strategy) firmware of the same model. `rtl_latency_ns`: "
        "pipeline stages x 5 ns (exact); the RTL has II = 1 and 0 DSP by construction.",
        "",
        "Trained students: bench/results/rtl_trained.md (the demo's distilled `deepsets-l1`) and "
        "bench/results/rtl_fit.md (the netlist model, fitted on trained students).",
        "",
        format_table(rows, COLUMNS),
        "",
        "## Estimates against the Yosys netlist (LUT, relative error)",
        "",
        format_table(errs, ["model", "yosys_lut", "da4ml_lut_err", "corrected_da4ml_lut_err", "hls_est_lut_err", "da4ml_ff_err"])
        if errs else "no Yosys rows yet",
        "",
        f"Drawn-weight ratio (median Yosys / da4ml over these {fit.get('n', 0)} models, in-sample; the netlist model "
        f"used by fpgatag is fitted on trained students in bench/results/rtl_fit.md): {json.dumps(fit)}",
        "",
        *(["Yosys runs (`yosys_s` is the wall time; per pipeline stage: `fpgatag synth --flow rtl --yosys-jobs N`, "
           "bench/results/yosys_split.md measures how its counts differ from the whole design's):", ""]
          + [f"* {r['model']}: {r['yosys_mode']}, wall {r['yosys_s']} s, CPU {r.get('yosys_cpu_s')} s" for r in rows
             if r.get("yosys_mode")] + [""] if any(r.get("yosys_mode") for r in rows) else []),
        *([f"Yosys counts of {', '.join(r['model'] for r in carried)}: from an earlier Yosys run of the same RTL (the row "
           "was redone without Yosys, for the C simulation; equal da4ml cost, register bits, stages and parameters).", ""]
          if (carried := [r for r in rows if r.get("yosys_from")]) else []),
        *([f"No `logic_depth` for {', '.join(r['model'] for r in through)}: synthesized when the depth was counted "
           "through the pipeline registers (the sum over the stages, kept in rtl.json as "
           "`logic_depth_through_registers`), not the longest stage.", ""]
          if (through := [r for r in rows if r.get("logic_depth_through_registers") is not None]) else []),
        "Generation time split (`gen_timing`, seconds: trace includes da4ml's constant-matrix solver):",
        "",
        *[f"* {r['model']}: {r.get('gen_timing')}" for r in rows],
        "",
        *([f"Shipped student presets and Deep Sets widths not measured in these runs: {', '.join(missing)} (python bench/bench_rtl.py "
           "--merge --models NAME adds one).", ""] if (missing := [m for m in (*PRESETS, *(f"deepsets-w{w}" for w in WIDTHS)) if m not in
                                                               {r['model'] for r in rows + refused}]) else []),
        *(["Presets the RTL flow refuses (checked before any work, by layer):", ""]
          + [f"* {r['model']}: {r['refused']}" for r in refused] + [""] if refused else []),
        *(["Profile of the RTL generation (cProfile, top functions by own time):", ""]
          + [f"* {r['model']}: " + "; ".join(f"{p['function']} {p['own_s']} s" for p in r["gen_profile"])
             for r in rows if r.get("gen_profile")] + [""] if any(r.get("gen_profile") for r in rows) else []),
    ]
    C.write(args.out, "rtl", result, md, echo=echo)


if __name__ == "__main__":
    sys.exit(main())
