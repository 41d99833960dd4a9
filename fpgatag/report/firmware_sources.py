"""Firmware figures by source for ``report`` and ``demo``: hls4ml estimate, da4ml estimate, Yosys
netlist, vendor report, each labelled (see :mod:`fpgatag.fpga.rtl_report`).

An RTL directory is one written by ``fpgatag synth MODEL --flow rtl -o DIR`` (``manifest.json`` with
``flow: rtl``); it is found as a run directory itself or one level inside it (``RUN/rtl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpgatag.core.io import read_json
from fpgatag.fpga.rtl_report import level1_source, load_firmware, markdown

LEVEL1 = {"latency_ns": 50.0, "pct": 5.0}


def rtl_dirs(run_dirs) -> list[Path]:
    found: list[Path] = []
    for d in map(Path, run_dirs):
        for cand in [d, *sorted(p for p in d.glob("*") if p.is_dir())] if d.is_dir() else []:
            m = cand / "manifest.json"
            if m.is_file() and cand not in found:
                try:
                    if read_json(m, "manifest").get("flow") == "rtl":
                        found.append(cand)
                except Exception:   # noqa: BLE001 - a foreign manifest.json is not ours to report
                    continue
    return found


def markdown_section(run_dirs) -> list[str]:
    """Markdown lines: one side-by-side table per RTL directory (empty when there is none)."""
    dirs = rtl_dirs(run_dirs)
    if not dirs:
        return []
    md = ["## Firmware by source (RTL flow)", ""]
    for d in dirs:
        fw = load_firmware(d)
        md += [f"### {d}", "", markdown(fw.get("estimate"), fw.get("manifest"), fw.get("synth"))]
        v = d / "validate.json"
        if v.is_file():
            r = read_json(v, "validate.json")
            md += [f"Verilator simulation: bit_exact_fraction {r.get('bit_exact_fraction')} on {r.get('n_jets', r.get('n'))} jets, "
                   f"argmax_agreement {r.get('argmax_agreement')}.", ""]
    return md


def level1_line(run_dir: str | Path) -> str:
    """The Level-1 check on the best source for the RTL in ``run_dir`` (Yosys netlist when present);
    empty when ``run_dir`` has no RTL."""
    dirs = rtl_dirs([run_dir])
    if not dirs:
        return ""
    fw = load_firmware(dirs[0])
    fig, source = level1_source(fw.get("estimate"), fw.get("synth"))
    if fw.get("synth") is None:
        return f"RTL at {dirs[0]}: no Yosys netlist (synth.json) yet; judged above on {source}\n"
    v = dirs[0] / "validate.json"
    bit_exact = read_json(v, "validate.json").get("bit_exact_fraction") if v.is_file() else None
    pcts = [fig.get(k) for k in ("lut_pct", "ff_pct", "dsp_pct", "bram18_pct") if fig.get(k) is not None]
    checks: dict[str, Any] = {
        "latency <= 50 ns": (fig.get("latency_ns") or 1e9) <= LEVEL1["latency_ns"],
        "II = 1": fig.get("ii") == 1,
        "every resource <= 5% of the part": bool(pcts) and max(pcts) <= LEVEL1["pct"],
        "0 DSP": fig.get("dsp") == 0,
        "bit-exact in RTL simulation": None if bit_exact is None else bit_exact == 1.0,
    }
    text = "; ".join(f"{k}: {'not run' if v is None else ('yes' if v else 'NO')}" for k, v in checks.items())
    return (f"Level-1 target on the {source} ({fw['synth'].get('tool')}, synthesis before place and route, "
            f"not Vivado): {text}\n")
