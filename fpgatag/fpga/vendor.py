"""Vendor tools: find them, run C synthesis through hls4ml's build script, parse the reports.

Runs only where the tool is on PATH (``vitis-run``/``vitis_hls`` for Vitis, ``vivado_hls`` for
Vivado); the command line, exit status and full log are kept in ``<project>/vendor_build.log``.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from fpgatag.core.errors import FpgatagError, ToolNotFoundError

log = logging.getLogger(__name__)

TOOLS = {"Vitis": ("vitis-run", "vitis_hls"), "Vivado": ("vivado_hls",)}


def find_tool(backend: str) -> str | None:
    """The first vendor executable of ``backend`` found on PATH, or None."""
    for name in TOOLS.get(backend, ()):
        if shutil.which(name):
            return name
    return None


def build_command(tool: str) -> list[str]:
    if tool == "vitis-run":
        return ["vitis-run", "--mode", "hls", "--tcl", "build_prj.tcl"]
    return [tool, "-f", "build_prj.tcl"]


def run_synthesis(project_dir: str | Path, backend: str = "Vitis", logic_synthesis: bool = False) -> Path:
    """Run C synthesis (and Vivado logic synthesis if asked) in an hls4ml project; returns the log."""
    project_dir = Path(project_dir)
    tool = find_tool(backend)
    if tool is None:
        raise ToolNotFoundError(f"{' / '.join(TOOLS.get(backend, ()))}: not found on PATH; C synthesis needs the "
                                f"{backend} HLS tool")
    opts = {"reset": 1, "csim": 0, "synth": 1, "cosim": 0, "validation": 0, "export": 0,
            "vsynth": int(logic_synthesis), "fifo_opt": 0}
    (project_dir / "build_opt.tcl").write_text("array set opt {\n" + "".join(f"    {k} {v}\n" for k, v in opts.items()) + "}\n")
    cmd = build_command(tool)
    log_path = project_dir / "vendor_build.log"
    log.info("running %s in %s (log: %s)", " ".join(cmd), project_dir, log_path)
    with open(log_path, "w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        try:
            subprocess.run(cmd, cwd=project_dir, check=True, stdout=fh, stderr=subprocess.STDOUT)
        except subprocess.CalledProcessError as exc:
            raise FpgatagError(f"{tool}: synthesis failed with exit status {exc.returncode} (log: {log_path})") from None
    return log_path


def _text(node, path: str) -> str | None:
    found = node.find(path)
    return None if found is None or found.text is None else found.text.strip()


def parse_csynth_xml(path: str | Path) -> dict[str, Any]:
    """Figures of a ``<top>_csynth.xml`` written by Vivado HLS / Vitis HLS C synthesis.

    Worst-case latency and the maximum interval are reported (as the reference tables do).
    Vivado names DSPs ``DSP48E``, Vitis ``DSP``; BRAM is counted in RAMB18 (``BRAM_18K``).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise FpgatagError(f"{path}: not a readable csynth XML report ({exc})") from None
    perf = root.find("./PerformanceEstimates")
    area = root.find("./AreaEstimates/Resources")
    if perf is None or area is None:
        raise FpgatagError(f"{path}: no PerformanceEstimates/AreaEstimates in the report")

    def num(v):
        if v is None or v in ("undef", "-"):
            return None
        try:
            return int(v)
        except ValueError:
            return float(v)

    res = {child.tag: num(child.text) for child in area}
    avail = root.find("./AreaEstimates/AvailableResources")
    available = {child.tag.replace("DSP48E", "DSP"): num(child.text) for child in avail} if avail is not None else {}
    out = {
        "latency_cycles": num(_text(perf, "./SummaryOfOverallLatency/Worst-caseLatency")),
        "latency_best_cycles": num(_text(perf, "./SummaryOfOverallLatency/Best-caseLatency")),
        "ii": num(_text(perf, "./SummaryOfOverallLatency/Interval-max")),
        "dsp": res.get("DSP", res.get("DSP48E")),
        "lut": res.get("LUT"),
        "ff": res.get("FF"),
        "bram18": res.get("BRAM_18K"),
        "uram": res.get("URAM"),
        "clock_ns": num(_text(root, "./UserAssignments/TargetClockPeriod")),
        "estimated_clock_ns": num(_text(perf, "./SummaryOfTimingAnalysis/EstimatedClockPeriod")),
        "part": _text(root, "./UserAssignments/Part"),
        "tool_version": _text(root, "./ReportVersion/Version"),
        "available": available,
        "report": str(path),
    }
    if out["latency_cycles"] is None or out["dsp"] is None:
        raise FpgatagError(f"{path}: report lacks latency or resource figures")
    return out


def parse_vivado_synth_rpt(path: str | Path) -> dict[str, Any]:
    """Post-synthesis utilisation from Vivado's ``report_utilization`` text (``vivado_synth.rpt``)."""
    path = Path(path)
    out: dict[str, Any] = {"report": str(path)}
    section = 0
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"^(\d+)\.\s", line)
        if m:
            section = int(m.group(1))
        if "|" not in line:
            continue
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 3:
            continue
        name, used = cells[1], cells[2]
        try:
            val = float(used)
        except ValueError:
            continue
        if section == 1 and name in ("CLB LUTs", "Slice LUTs", "CLB LUTs*", "Slice LUTs*"):
            out["lut"] = int(val)
        elif section == 1 and name in ("CLB Registers", "Slice Registers"):
            out["ff"] = int(val)
        elif section == 2 and name == "Block RAM Tile":
            out["bram18"] = int(round(2 * val))
        elif section == 3 and name in ("DSPs", "DSP48E2", "DSP48E1"):
            out["dsp"] = int(val)
    return out


def find_reports(project_dir: str | Path, project_name: str = "myproject") -> dict[str, Path]:
    project_dir = Path(project_dir)
    found: dict[str, Path] = {}
    xmls = sorted(project_dir.glob(f"**/syn/report/{project_name}_csynth.xml"))
    if xmls:
        found["csynth"] = xmls[0]
    rpt = project_dir / "vivado_synth.rpt"
    if rpt.is_file():
        found["vsynth"] = rpt
    return found
