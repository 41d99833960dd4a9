#!/usr/bin/env python
"""Yosys on one RTL directory twice, back to back on the same machine: the whole design in one
process (the default), then the pipeline stages in ``--jobs`` parallel processes
(``fpgatag synth --flow rtl --yosys-jobs N``). Wall and CPU time, and how far the per-stage counts
are from the whole-design ones.

    python bench/bench_yosys_split.py --rtl DIR [DIR ...] [--jobs 2]

Each DIR: an RTL directory written by ``fpgatag synth MODEL --flow rtl`` (its own synth.json is
left as it is; both runs work on copies). Writes bench/results/yosys_split.{json,md}.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path

import _common as C  # noqa: E402  (the repository on sys.path)
from fpgatag.core.metrics import format_table  # noqa: E402
from fpgatag.core.provenance import provenance  # noqa: E402

log = logging.getLogger("fpgatag.bench.yosys_split")
FIGURES = ("lut", "ff", "carry", "logic_depth")


def compare(rtl: Path, jobs: int) -> dict:
    """Whole-design and per-stage Yosys on copies of ``rtl``: one row of figures and times."""
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl import read_manifest
    from fpgatag.fpga.rtl_yosys import run_yosys

    man = read_manifest(rtl)
    part = resolve_part(man["part"])
    runs = {}
    with tempfile.TemporaryDirectory(prefix="fpgatag-bench-split-") as tmp:
        for mode, n in (("whole", 1), ("split", jobs)):
            work = Path(tmp) / mode
            shutil.copytree(rtl, work, ignore=shutil.ignore_patterns("synth.json", "yosys.log"))
            runs[mode] = run_yosys(work, man, part, jobs=n)
            log.info("%s %s: %s", rtl.name, mode, {k: runs[mode][k] for k in (*FIGURES, "wall_seconds", "cpu_seconds")})
    w, s = runs["whole"], runs["split"]
    row = {"rtl": rtl.name, "model": man.get("model"), "stages": man["pipeline_stages"], "jobs": jobs,
           "da4ml_lut": (man.get("da4ml_estimate") or {}).get("lut")}
    for k in FIGURES:
        row[f"whole_{k}"], row[f"split_{k}"] = w[k], s[k]
        row[f"{k}_diff"] = round(s[k] / w[k] - 1, 4) if w[k] else None
    row.update(whole_wall_s=w["wall_seconds"], split_wall_s=s["wall_seconds"], split_cpu_s=s["cpu_seconds"],
               speedup=round(w["wall_seconds"] / s["wall_seconds"], 2), split_stages=s["stages"],
               tool=f"{w['tool']} {w['tool_version']}")
    return row


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--rtl", nargs="+", type=Path, required=True, help="RTL directories (fpgatag synth --flow rtl)")
    ap.add_argument("--jobs", type=int, default=2, help="Yosys processes of the per-stage run")
    args = ap.parse_args(argv)
    C.start(args)
    rows = [compare(d, args.jobs) for d in args.rtl]
    cols = ["rtl", "stages", "jobs", "whole_lut", "split_lut", "lut_diff", "whole_ff", "split_ff", "ff_diff",
            "whole_carry", "split_carry", "whole_logic_depth", "split_logic_depth", "whole_wall_s", "split_wall_s",
            "split_cpu_s", "speedup"]
    md = [
        "# Yosys: the whole design in one process against its pipeline stages in parallel processes",
        "",
        "Each RTL directory synthesized twice, back to back: `synth_xilinx -family xcup -flatten -noiopad -noclkbuf` "
        "on the whole design (fpgatag's default), then each pipeline stage in its own process, `jobs` at a time, "
        "with the registers counted by one unmapped pass over the whole design (`fpgatag synth --flow rtl "
        "--yosys-jobs N`). `*_diff`: per-stage / whole - 1. Logic synthesis before place and route (not Vivado "
        f"counts); the logic depth is not an Fmax. Tool: {rows[0]['tool'] if rows else ''}. Machine: "
        f"{C.machine()['cpus']} cores, shared with other jobs (wall times are upper bounds; both runs of a row saw "
        "about the same load).",
        "",
        format_table(rows, cols),
        "",
        "Per stage (the per-stage run; LUT, carry, depth, wall seconds):",
        "",
        *[f"* {r['rtl']}: " + "; ".join(f"{s['module']} {s['lut']} / {s['carry']} / {s['logic_depth']} / {s['wall_seconds']} s"
                                      for s in r["split_stages"]) for r in rows],
        "",
    ]
    C.write(args.out, "yosys_split", {"rows": rows, "provenance": provenance(vars(args))}, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
