"""``fpgatag demo``: the whole pipeline on the embedded default configuration, in one command.

generate (both views) -> train a particlenet-lite teacher -> store its soft targets -> distil an
8-bit, pruned, Level-1-sized Deep Sets student (``deepsets-l1``) on the trigger view -> train the
same student from scratch -> synth for xcvu9p -> validate in C simulation -> report. Sample sizes are printed with the results:
the default is small so that it finishes in minutes on two cores; scale it with ``--jets-per-class``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from fpgatag.core.io import write_json
from fpgatag.core.metrics import format_table

log = logging.getLogger(__name__)


@dataclasses.dataclass
class DemoConfig:
    out: Path = Path("runs/demo")
    jets_per_class: int = 1500
    seed: int = 1
    workers: int = 2
    teacher: str = "particlenet-lite"
    teacher_epochs: int = 10
    teacher_particles: int = 64
    student: str = "deepsets-l1"        # the Level-1-sized preset (<= 5 % of a VU9P)
    n_objects: int = 16
    bits: int | None = None             # None: the preset's (8)
    student_epochs: int | None = None   # None: the preset's (early stopping on validation loss)
    batch_size: int = 128                # teacher batch size; students use their preset's
    part: str = "xcvu9p"
    validate_n: int = 2000
    data: Path | None = None   # an existing dataset instead of generating one


def run_demo(cfg: DemoConfig) -> dict[str, Any]:
    """Run every stage; return the final summary (also written to ``<out>/demo.json``)."""
    from fpgatag.data.generate import generate
    from fpgatag.fpga.synth import synth
    from fpgatag.fpga.validate import validate
    from fpgatag.report.report import build_report, summary_rows
    from fpgatag.report.collect import collect
    from fpgatag.train.distill import train_student
    from fpgatag.train.soft_targets import teacher_predict
    from fpgatag.train.teacher import train_teacher

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    def step(name: str):
        log.info("demo: %s", name)
        timings[name] = time.perf_counter()

    def done(name: str) -> None:
        timings[name] = round(time.perf_counter() - timings[name], 1)

    data = Path(cfg.data) if cfg.data else out / "jets.h5"
    if cfg.data is None:
        step("generate")
        generate(data, processes=("qcd", "top"), jets_per_class=cfg.jets_per_class, seed=cfg.seed, workers=cfg.workers)
        done("generate")

    step("train-teacher")
    train_teacher(data, model=cfg.teacher, epochs=cfg.teacher_epochs, batch_size=cfg.batch_size,
                  out_dir=out / "teacher", seed=cfg.seed, n_particles=cfg.teacher_particles)
    done("train-teacher")

    step("teacher-predict")
    teacher_predict(out / "teacher", data)
    done("teacher-predict")

    step("distill")
    train_student(data, student=cfg.student, n_objects=cfg.n_objects, bits=cfg.bits, out_dir=out / "distilled",
                  teacher_dir=out / "teacher", epochs=cfg.student_epochs, seed=cfg.seed)
    done("distill")

    step("train-student (scratch)")
    train_student(data, student=cfg.student, n_objects=cfg.n_objects, bits=cfg.bits, out_dir=out / "scratch",
                  teacher_dir=None, epochs=cfg.student_epochs, seed=cfg.seed)
    done("train-student (scratch)")

    step("synth")
    synth(out / "distilled", part=cfg.part, output_dir=out / "distilled" / "hls")
    done("synth")

    step("validate")
    validate(out / "distilled", data, n=cfg.validate_n, output=out / "distilled" / "validate.json")
    done("validate")

    step("report")
    build_report([out / "teacher", out / "scratch", out / "distilled"], out / "report")
    done("report")

    rows = summary_rows(collect([out / "teacher", out / "scratch", out / "distilled"]))
    summary = {
        "jets_per_class": cfg.jets_per_class,
        "data": str(data),
        "rows": rows,
        "report": str(out / "report" / "report.html"),
        "timings_s": timings,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(cfg).items()},
    }
    write_json(out / "demo.json", summary)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    rows = summary["rows"]
    phys = format_table(rows, ["kind", "model", "accuracy", "auc", "rej@0.3", "rej@0.5", "n_test"])
    fw_rows = [r for r in rows if r.get("lut") is not None]
    fw = format_table(fw_rows, ["kind", "part", "latency_ns", "latency_cycles", "ii", "lut", "lut%", "dsp", "dsp%",
                                "ff", "ff%", "bram18", "bram18%", "bit_exact"])
    target = ""
    dist = next((r for r in fw_rows if r.get("kind") == "student (distilled)"), None)
    if dist is not None:
        fractions = [dist.get(k) for k in ("lut%", "dsp%", "ff%", "bram18%") if dist.get(k) is not None]
        checks = {
            "latency <= 50 ns": (dist.get("latency_ns") or 1e9) <= 50,
            "II = 1": dist.get("ii") == 1,
            "every resource <= 5% of the part": bool(fractions) and max(fractions) <= 5.0,
            "bit-exact in C simulation": dist.get("bit_exact") == 1.0,
        }
        target = "Level-1 target: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items()) + "\n\n"
        from fpgatag.report import firmware_sources

        target += firmware_sources.level1_line(Path(summary["config"]["out"]) / "distilled")   # Yosys netlist when present
    return (
        f"fpgatag demo: {summary['jets_per_class']} jets per class generated ({summary['data']}); "
        f"metrics on the held-out test split\n\n{phys}\n\nFirmware of the distilled student "
        f"(fpgatag estimate, no vendor tool; bit_exact = C simulation vs QKeras)\n\n{fw}\n\n{target}"
        f"Report: {summary['report']}\n"
    )
