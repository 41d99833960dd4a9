"""``fpgatag synth``: convert a model with hls4ml, write the HLS project, estimate (and synthesize).

Always writes ``estimate.json`` and ``report.md`` into the project directory. With
``run_synthesis=True`` and the vendor tool on PATH, C synthesis runs and its parsed report becomes
the headline figures (``source`` = "vitis"/"vivado"), the estimate being kept beside it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from pathlib import Path
from typing import Any

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_dir, write_json, write_text
from fpgatag.core.provenance import provenance
from fpgatag.fpga.estimate import report_markdown
from fpgatag.fpga.options import FirmwareOptions

log = logging.getLogger(__name__)

FIGURES = ("latency_cycles", "ii", "dsp", "lut", "ff", "bram18")


def synth(model, options: FirmwareOptions | None = None, output_dir: str | os.PathLike = "hls_projects/model", *,
          run_synthesis: bool = False, weights=None, logic_synthesis: bool = False, **option_overrides: Any) -> dict[str, Any]:
    """Write MODEL's HLS project to ``output_dir`` with estimate.json and report.md; return the estimate.

    ``model``: a path in any accepted form (run directory, .h5, JSON [+ ``weights``]) or a keras.Model.
    ``options`` (a :class:`~fpgatag.fpga.options.FirmwareOptions`) or its fields as keywords (``part``,
    ``backend``, ``io_type``, ``reuse_factor``, ``strategy``, ``clock_period``, ``input_precision``,
    ``recurrent_static``, ``hls_config``: an hls4ml config merged over fpgatag's).
    """
    from fpgatag.fpga import vendor
    from fpgatag.fpga.convert import load_model_like

    opts = FirmwareOptions.make(options, **option_overrides)
    if opts.strategy == "distributed_arithmetic":   # hls4ml runs da4ml's numba-compiled solver: keep its cache
        from fpgatag.fpga.rtl import numba_cache_dir

        numba_cache_dir()
    loaded = load_model_like(model, weights)
    output_dir = Path(output_dir)
    tool = vendor.find_tool(opts.backend) if run_synthesis else None
    if run_synthesis and tool is None:
        log.warning("run_synthesis: %s not on PATH; C synthesis was NOT run, figures are estimates",
                    " / ".join(vendor.TOOLS[opts.backend]))
    with atomic_dir(output_dir) as tmp:
        est, hls_model = _project(loaded, opts, tmp, output_dir)
        if tool is None:
            est["synthesis"] = ("not run: not requested" if not run_synthesis
                                else f"not run: {' / '.join(vendor.TOOLS[opts.backend])} not on PATH")
        write_json(tmp / "estimate.json", est)
        write_text(tmp / "report.md", report_markdown(est, f"Firmware estimate: {output_dir.name}"))
    if tool is not None:   # in place: the project is at its final path now
        est = _synthesize(output_dir, est, opts.backend, opts.target, logic_synthesis,
                          hls_model.config.get_project_name())
    return est


def _project(loaded, opts: FirmwareOptions, tmp: Path, output_dir: Path) -> tuple[dict[str, Any], Any]:
    """Write the hls4ml project into ``tmp``; return (the estimate, the hls4ml model)."""
    from fpgatag.fpga.convert import convert_with
    from fpgatag.fpga.estimate import estimate_graph

    prec = opts.input_precision or loaded.input_precision
    hls_model, cfg, notes = convert_with(loaded.model, tmp, opts, input_precision=prec)
    with contextlib.redirect_stdout(io.StringIO()):
        hls_model.write()
    _retarget(tmp, output_dir)
    est_model, da = hls_model, opts.strategy == "distributed_arithmetic"
    if da:   # DA layers hold no weight matrix: estimate the latency-strategy graph
        est_model, _, _ = convert_with(loaded.model, tmp / "_estimate", opts, input_precision=prec, strategy="Latency")
    est = estimate_graph(est_model, opts.target, opts.clock_period, opts.backend)
    if opts.io_type != "io_parallel":
        est["warning"] = "the estimator models io_parallel; io_stream figures are rough"
    if da:
        est["warning"] = ("figures are the estimate of the latency-strategy firmware: the estimator does not model "
                          "distributed_arithmetic; use --flow rtl for Yosys counts of DA firmware")
    est.update(backend=opts.backend, io_type=opts.io_type, strategy=opts.strategy, reuse_factor=opts.reuse_factor,
               input_precision=list(prec) if prec else None, model=str(loaded.source),
               widened=notes.get("widened", []), parallel=notes.get("parallel", []))
    if opts.hls_config:
        est["hls_config"] = opts.record()["hls_config"]
    if notes.get("recurrent"):
        est["recurrent"] = notes["recurrent"]
    est["provenance"] = provenance(opts.record())
    return est, hls_model


def _retarget(tmp: Path, final: Path) -> None:
    """hls4ml records its output directory in the project; point it at the final path, not the
    temporary one the project was written to (``hls4ml build -p`` and reloads then work)."""
    for name in ("hls4ml_config.yml",):
        f = tmp / name
        if f.is_file():
            f.write_text(f.read_text().replace(str(tmp.resolve()), str(final.resolve())).replace(str(tmp), str(final.resolve())))


def _synthesize(output_dir: Path, est: dict[str, Any], backend: str, part, logic_synthesis: bool, project: str) -> dict[str, Any]:
    from fpgatag.fpga import vendor

    log_path = vendor.run_synthesis(output_dir, backend, logic_synthesis)
    reports = vendor.find_reports(output_dir, project)
    if "csynth" not in reports:
        raise FpgatagError(f"{output_dir}: synthesis finished but no {project}_csynth.xml was found (log: {log_path})")
    cs = vendor.parse_csynth_xml(reports["csynth"])
    result = dict(est)
    result["estimate"] = {k: est[k] for k in (*FIGURES, "latency_ns")}
    result.update({k: cs[k] for k in FIGURES if cs.get(k) is not None})
    result["latency_ns"] = float(result["latency_cycles"] * est["clock_ns"])
    result["source"] = backend.lower()
    result["csynth"] = cs
    if "vsynth" in reports:
        result["post_synthesis"] = vendor.parse_vivado_synth_rpt(reports["vsynth"])
    totals = part.totals()
    result["fraction"] = {k: (result[k] / totals[k] if totals.get(k) else None) for k in ("dsp", "lut", "ff", "bram18")}
    result["synthesis"] = f"{backend} C synthesis run (log: {log_path.name})"
    write_json(output_dir / "estimate.json", result)
    write_text(output_dir / "report.md", report_markdown(result, f"Firmware synthesis: {output_dir.name}"))
    return result
