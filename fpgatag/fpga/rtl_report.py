"""Firmware figures side by side, each labelled by its source.

* ``hls4ml estimate``: fpgatag's estimator of the hls4ml HLS firmware (estimate.json, fitted on
  Vitis C-synthesis reports);
* ``da4ml estimate``: da4ml's own cost model of the RTL it generated (manifest.json);
* ``netlist model``: the Yosys LUT/FF predicted from da4ml's figures by the fit on trained students
  (:data:`fpgatag.fpga.rtl.NETLIST_FIT`, manifest.json ``da4ml_estimate.netlist_predicted``);
* ``Yosys netlist``: Yosys ``synth_xilinx`` counts of that RTL (synth.json): synthesis before
  place and route, not Vivado counts;
* ``vendor``: Vitis/Vivado reports, where the vendor tool was run (estimate.json ``source``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpgatag.core.io import read_json

FIGURES = ("latency_cycles", "latency_ns", "ii", "lut", "ff", "dsp", "bram18")
SOURCES = ("hls4ml estimate", "da4ml estimate", "netlist model", "Yosys netlist", "vendor")


def load_firmware(directory: str | Path) -> dict[str, Any]:
    """estimate.json, manifest.json and synth.json of a firmware directory (those present)."""
    d = Path(directory)
    out: dict[str, Any] = {}
    for key, name in (("estimate", "estimate.json"), ("manifest", "manifest.json"), ("synth", "synth.json")):
        if (d / name).is_file():
            out[key] = read_json(d / name, name)
    return out


def columns(estimate: dict | None, manifest: dict | None, synth: dict | None) -> dict[str, dict[str, Any]]:
    """{source: {figure: value}} for the sources present."""
    cols: dict[str, dict[str, Any]] = {}
    if estimate:
        vendor = estimate.get("source") not in (None, "estimate")
        est = estimate.get("estimate", estimate) if vendor else estimate
        cols["hls4ml estimate"] = {k: est.get(k) for k in FIGURES}
        if vendor:
            cols["vendor"] = {k: estimate.get(k) for k in FIGURES}
            cols["vendor"]["source"] = estimate.get("source")
    if manifest:
        da = manifest.get("da4ml_estimate", {})
        cols["da4ml estimate"] = {"latency_cycles": manifest.get("latency_cycles"), "latency_ns": manifest.get("latency_ns"),
                                  "ii": manifest.get("ii"), "lut": da.get("lut"), "ff": da.get("ff"), "dsp": 0, "bram18": 0}
        pred = da.get("netlist_predicted")
        if pred:
            cols["netlist model"] = {**cols["da4ml estimate"], "lut": pred.get("lut"), "ff": pred.get("ff")}
    if synth:
        cols["Yosys netlist"] = {k: synth.get(k) for k in FIGURES}
    return cols


def figures_rows(estimate: dict | None, manifest: dict | None, synth: dict | None) -> tuple[list[dict], list[str]]:
    """Rows (one per figure) and column names for :func:`fpgatag.core.metrics.format_table`."""
    cols = columns(estimate, manifest, synth)
    names = [s for s in SOURCES if s in cols]
    rows = [{"figure": f, **{s: cols[s].get(f) for s in names}} for f in FIGURES]
    return rows, ["figure", *names]


def markdown(estimate: dict | None, manifest: dict | None, synth: dict | None, part_lut: int | None = None) -> str:
    """A Markdown table of the figures by source, with the caveats the numbers need."""
    rows, names = figures_rows(estimate, manifest, synth)
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(n) is None else _fmt(r[n]) for n in names) + " |")
    notes = ["hls4ml estimate: fpgatag's estimator of the hls4ml HLS firmware (fitted on Vitis C-synthesis reports)."]
    if manifest:
        notes.append("da4ml estimate: da4ml's cost model of its own RTL (adder LUTs, register bits).")
        pred = manifest.get("da4ml_estimate", {}).get("netlist_predicted")
        if pred:
            notes.append(f"netlist model: {pred.get('note')}.")
    if synth:
        notes.append(f"Yosys netlist: {synth.get('tool')} {synth.get('tool_version', '')} synth_xilinx "
                     f"-family {synth.get('family')}, synthesis before place and route, not Vivado counts; "
                     f"logic depth {synth.get('logic_depth')} cells between registers (not an Fmax).")
    return "\n".join(lines) + "\n\n" + "\n".join(f"* {n}" for n in notes) + "\n"


def level1_source(estimate: dict | None, synth: dict | None) -> tuple[dict[str, Any], str]:
    """Figures to judge a Level-1 budget on: the Yosys netlist when present, else vendor, else estimate."""
    if synth:
        return synth, "Yosys netlist of the da4ml RTL"
    if estimate and estimate.get("source") not in (None, "estimate"):
        return estimate, f"{estimate['source']} report"
    return estimate or {}, "fpgatag's hls4ml estimate"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.4g}"
    return str(v)
