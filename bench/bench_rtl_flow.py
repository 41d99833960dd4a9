#!/usr/bin/env python
"""The whole RTL flow for one trained student, timed as a user runs it: da4ml Verilog, then Yosys
(in the background) while Verilator builds and simulates the RTL against Keras on every jet of a
file. Once with the whole design in one Yosys process, once per pipeline stage in ``--jobs``
processes (``fpgatag synth --flow rtl --yosys-jobs N``).

    python bench/bench_rtl_flow.py --model RUN --data JETS.h5 [--n 10000] [--jobs 1 2]

RUN: a trained student's run directory (its inputs.json prepares the jets: every jet of JETS.h5, not
only its test split, up to --n). Writes bench/results/rtl_flow.{json,md}: the steps' wall times, the
netlist counts and the Level-1 target checked on them.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import _common as C  # noqa: E402  (the repository on sys.path)
from fpgatag.core.metrics import format_table  # noqa: E402
from fpgatag.core.provenance import provenance  # noqa: E402

log = logging.getLogger("fpgatag.bench.rtl_flow")
TARGET = {"latency_ns": 50.0, "lut_pct": 5.0, "dsp": 0, "ii": 1, "bit_exact_fraction": 1.0, "n_jets": 10000, "total_s": 300.0}


def jets(model: Path, data: Path, n: int) -> np.ndarray:
    """The model's inputs for the first ``n`` jets of ``data`` (all splits)."""
    from fpgatag.data.io import open_jets
    from fpgatag.fpga.convert import load_model_like
    from fpgatag.train.data import input_keys

    loaded = load_model_like(str(model), None)
    with open_jets(data) as src:
        batch = src.read(indices=np.arange(min(n, src.n_jets)), keys=input_keys(loaded.inputs))
    return np.asarray(loaded.inputs.transform(batch), np.float32)


def flow(model: Path, x: np.ndarray, work: Path, jobs: int, clock_period: float) -> dict:
    """synth (RTL, then Yosys in the background) and validate (Verilator) on ``x``: one row."""
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_flow import BackgroundYosys, synth_rtl
    from fpgatag.fpga.validate import validate_rtl

    rtl = work / f"rtl-jobs{jobs}"
    t0 = time.perf_counter()
    res = synth_rtl(str(model), part="xcvu9p", output_dir=rtl, clock_period=clock_period, yosys=False)
    gen_s = time.perf_counter() - t0
    job = BackgroundYosys(rtl, res["manifest"], resolve_part("xcvu9p"), jobs=jobs)
    v = validate_rtl(str(model), x, rtl, n=len(x), workers=2)
    sim_done = time.perf_counter() - t0
    s = job.join()
    total = time.perf_counter() - t0
    row = {"yosys_jobs": jobs, "yosys_mode": s["mode"], "gen_s": round(gen_s, 1), "verilator_build_s": round(v["compile_s"], 1),
           "rtlsim_s": round(v["rtlsim_s"], 2), "validate_done_s": round(sim_done, 1), "yosys_s": s["wall_seconds"],
           "yosys_cpu_s": s["cpu_seconds"], "total_s": round(total, 1), "n_jets": v["n_jets"],
           "bit_exact_fraction": v["bit_exact_fraction"], "argmax_agreement": v["argmax_agreement"],
           "lut": s["lut"], "lut_pct": s["lut_pct"], "ff": s["ff"], "dsp": s["dsp"], "carry": s["carry"],
           "logic_depth": s["logic_depth"], "latency_cycles": s["latency_cycles"], "latency_ns": s["latency_ns"], "ii": s["ii"],
           "da4ml_lut": res["manifest"]["da4ml_estimate"]["lut"], "tool": f"{s['tool']} {s['tool_version']}",
           "verilator": v["verilator"]}
    row["target_met"] = (row["latency_ns"] <= TARGET["latency_ns"] and row["lut_pct"] <= TARGET["lut_pct"]
                         and row["dsp"] == 0 and row["ii"] == 1 and row["bit_exact_fraction"] == 1.0
                         and row["n_jets"] >= TARGET["n_jets"] and row["total_s"] <= TARGET["total_s"])
    log.info("jobs %d: %s", jobs, row)
    return row


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--model", type=Path, required=True, help="a trained student's run directory")
    ap.add_argument("--data", type=Path, required=True, help="jets file (every jet is used, up to --n)")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="Yosys processes, one flow run each")
    ap.add_argument("--clock-period", type=float, default=5.0)
    args = ap.parse_args(argv)
    C.start(args)
    x = jets(args.model, args.data, args.n)
    with tempfile.TemporaryDirectory(prefix="fpgatag-bench-flow-") as tmp:
        rows = [flow(args.model, x, Path(tmp), j, args.clock_period) for j in args.jobs]
    cols = ["yosys_jobs", "gen_s", "verilator_build_s", "rtlsim_s", "validate_done_s", "yosys_s", "yosys_cpu_s", "total_s",
            "n_jets", "bit_exact_fraction", "lut", "lut_pct", "ff", "dsp", "logic_depth", "latency_ns", "ii", "target_met"]
    md = [
        "# The whole RTL flow for one trained student, timed",
        "",
        f"Model: `{args.model}` (a trained student's run directory); jets: the first {len(x)} of `{args.data.name}` "
        "(every split), prepared by the run's inputs.json. Each row: `synth_rtl` (da4ml Verilog, "
        f"{args.clock_period:g} ns clock, VU9P), then Yosys `synth_xilinx` in the background while Verilator builds the "
        "RTL and simulates every jet against Keras; `total_s` is from the first step to the last result. "
        f"Machine: {C.machine()['cpus']} cores; the long background jobs were paused for these runs, short ones may have shared "
        "the cores (wall times are upper bounds). Yosys counts are logic synthesis "
        "before place and route (not Vivado counts); the logic depth is not an Fmax.",
        "",
        f"Level-1 target (`target_met`): latency <= {TARGET['latency_ns']:g} ns, II = 1, LUT <= {TARGET['lut_pct']:g} % of "
        f"a VU9P and 0 DSP on the Yosys netlist, bit-exact on 100 % of >= {TARGET['n_jets']} jets, the whole flow in "
        f"<= {TARGET['total_s']:g} s.",
        "",
        format_table(rows, cols),
        "",
        *[f"* jobs {r['yosys_jobs']}: {r['yosys_mode']}; {r['tool']}; Verilator {r['verilator']}" for r in rows],
        "",
    ]
    C.write(args.out, "rtl_flow", {"rows": rows, "target": TARGET, "machine": C.machine(),
                                   "provenance": provenance(vars(args))}, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
