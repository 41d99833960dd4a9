"""Firmware figures by source for ``report`` and ``demo``: hls4ml estimate, da4ml estimate, Yosys
netlist, vendor report, each labelled (see :mod:`fpgatag.fpga.rtl_report`).

An RTL directory is one written by ``fpgatag synth MODEL --flow rtl -o DIR`` (``manifest.json`` with
``flow: rtl``); it is found as a run directory itself or one level inside it (``RUN/rtl``). Its
``validate.json`` is the Verilator check of that RTL; ``RUN/validate.json`` the C simulation of the
hls4ml firmware.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fpgatag.core.io import read_json
from fpgatag.core.metrics import format_table
from fpgatag.fpga.rtl_report import figures_rows, level1_source, load_firmware, markdown

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


def _json_or_none(path: Path) -> dict[str, Any] | None:
    return read_json(path, path.name) if path.is_file() else None


def firmware(rtl_dir: str | Path) -> dict[str, Any]:
    """estimate.json, manifest.json and synth.json of ``rtl_dir``; the hls4ml estimate is its own
    estimate.json or, when it has none (the demo writes one HLS project per run), the run's
    ``hls/estimate.json``."""
    d = Path(rtl_dir)
    fw = load_firmware(d)
    if "estimate" not in fw and (d.parent / "hls" / "estimate.json").is_file():
        fw["estimate"] = read_json(d.parent / "hls" / "estimate.json", "estimate.json")
    return fw


def checks_done(rtl_dir: Path) -> dict[str, dict[str, Any] | None]:
    """{"rtl": the Verilator check of ``rtl_dir``, "csim": the C simulation of its run} (None: not run)."""
    csim = _json_or_none(rtl_dir.parent / "validate.json")
    return {"rtl": _json_or_none(rtl_dir / "validate.json"),
            "csim": csim if csim is not None and csim.get("simulator") != "verilator" else None}


def _checked(v: dict[str, Any] | None, what: str) -> str:
    if v is None:
        return f"{what}: not run"
    n = v.get("n_jets", v.get("n"))
    exact = round(float(v.get("bit_exact_fraction", 0.0)) * n) if n else 0
    return f"{what}: bit-exact on {exact} of {n} jets (argmax agreement {v.get('argmax_agreement')})"


def markdown_section(run_dirs) -> list[str]:
    """Markdown lines: one side-by-side table per RTL directory (empty when there is none)."""
    dirs = rtl_dirs(run_dirs)
    if not dirs:
        return []
    md = ["## Firmware by source (RTL flow)", ""]
    for d in dirs:
        fw = firmware(d)
        done = checks_done(d)
        md += [f"### {d}", "", markdown(fw.get("estimate"), fw.get("manifest"), fw.get("synth")),
               f"* {_checked(done['rtl'], 'RTL simulation (Verilator) of the da4ml RTL')}",
               f"* {_checked(done['csim'], 'C simulation of the hls4ml firmware')}", ""]
    return md


def side_by_side(rtl_dir: str | Path) -> str:
    """The figures of ``rtl_dir`` by source as a plain-text table, with what each source is."""
    fw = firmware(rtl_dir)
    rows, names = figures_rows(fw.get("estimate"), fw.get("manifest"), fw.get("synth"))
    notes = markdown(fw.get("estimate"), fw.get("manifest"), fw.get("synth")).split("\n\n", 1)[1]
    return format_table(rows, names, floatfmt=".0f") + "\n\n" + notes


def _percentages(fig: dict[str, Any]) -> dict[str, float]:
    """Resource use in % of the part, from synth.json (``*_pct``) or estimate.json (``fraction``)."""
    out = {}
    for k in ("lut", "ff", "dsp", "bram18"):
        if fig.get(f"{k}_pct") is not None:
            out[k] = float(fig[f"{k}_pct"])
        elif (fig.get("fraction") or {}).get(k) is not None:
            out[k] = 100.0 * float(fig["fraction"][k])
    return out


def _exact(v: dict[str, Any] | None, what: str) -> tuple[str, bool | None]:
    if v is None:
        return f"bit-exact in {what}", None
    return f"bit-exact in {what} (checked on {v.get('n_jets', v.get('n'))} jets)", v.get("bit_exact_fraction") == 1.0


def level1_line(run_dir: str | Path, estimate: dict[str, Any] | None = None) -> str:
    """The Level-1 check of a run's firmware, judged on the Yosys netlist of its RTL when there is one,
    else on ``estimate`` (the hls4ml firmware's estimate.json or vendor report); names the source and
    on how many jets bit-exactness was checked in C simulation and in RTL simulation."""
    run_dir = Path(run_dir)
    dirs = rtl_dirs([run_dir])
    fw = firmware(dirs[0]) if dirs else {}
    done = checks_done(dirs[0]) if dirs else {"rtl": None, "csim": _json_or_none(run_dir / "validate.json")}
    fig, source = level1_source(estimate or fw.get("estimate"), fw.get("synth"))
    if not fig:
        return ""
    on_netlist = fw.get("synth") is not None
    pct = _percentages(fig)
    worst = max(pct, key=pct.get) if pct else None
    lat = fig.get("latency_ns")
    lat_label = f"latency <= 50 ns ({lat:g} ns)" if lat is not None else "latency <= 50 ns"
    checks: dict[str, bool | None] = {
        lat_label: None if lat is None else lat <= LEVEL1["latency_ns"],
        "II = 1": fig.get("ii") == 1,
        (f"every resource <= 5% of the part (largest: {worst.upper()} {pct[worst]:.2f} %)" if worst
         else "every resource <= 5% of the part"): (max(pct.values()) <= LEVEL1["pct"]) if pct else None,
    }
    if on_netlist:
        checks["0 DSP"] = fig.get("dsp") == 0
    for v, what in ((done["rtl"], "RTL simulation (Verilator)"), (done["csim"], "C simulation")):
        label, ok = _exact(v, what)
        checks[label] = ok
    text = "; ".join(f"{k}: {'not run' if ok is None else ('yes' if ok else 'NO')}" for k, ok in checks.items())
    if on_netlist:
        where = (f"the {source} ({fw['synth'].get('tool')} {fw['synth'].get('tool_version', '')}, synthesis before "
                 "place and route, not Vivado counts)")
    else:
        why = "its RTL has no Yosys netlist (synth.json)" if dirs else "no RTL was written"
        where = f"{source}, as {why}"
    return f"Level-1 target, judged on {where}: {text}\n"
