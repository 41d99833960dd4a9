"""``fpgatag synth --flow rtl``: Verilog with da4ml, the hls4ml estimate beside it, Yosys counts.

Writes into the output directory (atomically: a failed run leaves no half-written directory):

* the RTL and ``manifest.json`` (:mod:`fpgatag.fpga.rtl`);
* ``estimate.json``: fpgatag's estimate of the *hls4ml HLS* firmware of the same model, so that the
  cost of the distributed-arithmetic RTL can be read beside it;
* ``synth.json`` and ``yosys.log`` (:mod:`fpgatag.fpga.rtl_yosys`) when Yosys is installed and
  ``yosys=True``; otherwise one warning line, and the RTL is still written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from fpgatag.core.errors import FpgatagError, ToolNotFoundError
from fpgatag.fpga.parts import DEFAULT_PART

log = logging.getLogger(__name__)


def synth_rtl(model, part: str = DEFAULT_PART, output_dir: str | os.PathLike = "hls_projects/model",
              clock_period: float = 5.0, weights=None, input_precision: tuple[int, int] | None = None,
              yosys: bool = True, hls_estimate: bool = True, yosys_timeout_s: float | None = None,
              yosys_jobs: int = 1) -> dict[str, Any]:
    """Write MODEL's RTL to ``output_dir``; returns {"manifest", "estimate", "synth"} (synth None when not run).

    ``yosys_jobs`` > 1 synthesizes the pipeline stages in parallel Yosys processes
    (:func:`fpgatag.fpga.rtl_yosys.run_yosys`)."""
    from fpgatag.core.io import atomic_dir, write_json
    from fpgatag.core.provenance import provenance
    from fpgatag.fpga.convert import LoadedModel, load_any_model
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl import check_rtl_supported, generate_rtl, require_da4ml
    from fpgatag.fpga.rtl_yosys import check_jobs, family_of

    check_jobs(yosys_jobs, "yosys_jobs")
    if not float(clock_period) > 0:
        raise FpgatagError(f"clock_period: must be > 0 ns, got {clock_period}")
    p = resolve_part(part)
    if yosys:
        family_of(p)
    require_da4ml()
    loaded = model if isinstance(model, LoadedModel) else (
        load_any_model(model, weights) if isinstance(model, (str, os.PathLike)) else LoadedModel(model, Path("<memory>")))
    check_rtl_supported(loaded.model)
    if input_precision is not None:
        loaded.input_precision = tuple(input_precision)
    output_dir = Path(output_dir)
    with atomic_dir(output_dir, kind="rtl") as tmp:
        t0 = time.perf_counter()
        manifest = generate_rtl(loaded, tmp, p, clock_period, loaded.input_precision)
        manifest["timing_s"]["generate_total"] = round(time.perf_counter() - t0, 3)
        manifest["provenance"] = provenance({"part": p.full, "clock_period": clock_period, "flow": "rtl"})
        est = _hls_estimate(loaded, p, clock_period) if hls_estimate else None
        if est is not None:
            write_json(tmp / "estimate.json", est)
        write_json(tmp / "manifest.json", manifest)
    synth = None
    if yosys:
        synth = _yosys(output_dir, manifest, p, yosys_timeout_s, yosys_jobs)
    return {"manifest": manifest, "estimate": est, "synth": synth}


def _yosys(output_dir: Path, manifest: dict[str, Any], part, timeout_s, jobs: int = 1) -> dict[str, Any] | None:
    from fpgatag.fpga.rtl_yosys import run_yosys

    try:
        return run_yosys(output_dir, manifest, part, timeout_s, jobs)
    except ToolNotFoundError as exc:
        log.warning("%s", exc)
        return None


def _hls_estimate(loaded, part, clock_period: float) -> dict[str, Any] | None:
    """fpgatag's estimate of the hls4ml (HLS, latency strategy) firmware of the same model, or None
    when hls4ml cannot convert it (the RTL flow does not need hls4ml)."""
    from fpgatag.fpga.convert import convert
    from fpgatag.fpga.estimate import estimate_graph

    try:
        with tempfile.TemporaryDirectory(prefix="fpgatag-est-") as tmp, contextlib.redirect_stdout(io.StringIO()):
            hls_model, _, _ = convert(loaded.model, Path(tmp) / "prj", part=part.full, clock_period=clock_period,
                                      input_precision=loaded.input_precision)
            est = estimate_graph(hls_model, part, clock_period, "Vitis")
    except FpgatagError as exc:
        log.warning("hls4ml estimate not written: %s", exc)
        return None
    est.update(flow="hls", note="fpgatag's estimate of the hls4ml HLS firmware (latency strategy) of this model, "
                                "for comparison with the RTL flow's figures")
    return est


class BackgroundYosys:
    """Yosys on an RTL directory while the caller goes on (the demo trains its other students meanwhile).

    The synthesis runs in Yosys' own process, watched from a thread; :meth:`join` waits for it and
    returns synth.json's content, or None (one warning line) when Yosys is not installed.
    """

    def __init__(self, rtl_dir: str | os.PathLike, manifest: dict[str, Any], part, timeout_s: float | None = None,
                 jobs: int = 1):
        from concurrent.futures import ThreadPoolExecutor

        from fpgatag.fpga.rtl_yosys import run_yosys

        self.rtl_dir = Path(rtl_dir)
        self.started = time.perf_counter()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="fpgatag-yosys")
        self._future = self._pool.submit(run_yosys, self.rtl_dir, manifest, part, timeout_s, jobs)

    def done(self) -> bool:
        return self._future.done()

    def join(self) -> dict[str, Any] | None:
        """synth.json's content once Yosys has finished; None when Yosys is missing (warned)."""
        try:
            return self._future.result()
        except ToolNotFoundError as exc:
            log.warning("%s", exc)
            return None
        finally:
            self._pool.shutdown(wait=True)
            log.info("Yosys on %s joined %.0f s after it started", self.rtl_dir, time.perf_counter() - self.started)
