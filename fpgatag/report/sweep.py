"""``fpgatag sweep``: train and synthesize a grid of students, resumable and shardable.

The grid is bits x n_objects (one training each) x reuse factors (one synthesis each). A point's
outputs are ``<out>/<student>_b<bits>_n<N>/`` (the training run) and ``.../hls_rf<R>/`` (its
firmware). Every output is written atomically, so a point counts as finished exactly when its
``metrics.json`` (training) or ``estimate.json`` (synthesis) exists: an interrupted sweep resumes
without redoing finished work. ``--shard i/N`` runs every N-th training point starting at i, so a
batch system can spread the grid over machines. The output feeds ``fpgatag report`` directly.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

from fpgatag.core.config import parse_shard
from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import write_json
from fpgatag.fpga.parts import DEFAULT_PART
from fpgatag.core.logs import progress

log = logging.getLogger(__name__)


@dataclasses.dataclass
class SweepConfig:
    data: str
    out: str = "runs/sweep"
    teacher: str | None = None       # a teacher run dir: distil; None: train from scratch
    student: str = "deepsets"
    bits: tuple[int, ...] = (4, 6, 8, 16)
    n_objects: tuple[int, ...] = (8, 16, 32)
    reuse_factors: tuple[int, ...] = (1,)
    epochs: int = 30
    batch_size: int = 128
    seed: int = 1
    part: str = DEFAULT_PART
    workers: int = 2
    shard: str | None = None
    scheduler: str | None = None     # a Dask scheduler address: run the points there (docs/distributed.md)


@dataclasses.dataclass(frozen=True, order=True)
class Point:
    bits: int
    n_objects: int

    def dirname(self, student: str) -> str:
        """``<student>_b<bits>_n<N>``; a preset file's stem stands for its path, so a point never
        leaves the sweep directory."""
        name = Path(student).stem if student.endswith(".json") else student
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "student"
        return f"{name}_b{self.bits}_n{self.n_objects}"


def grid(cfg: SweepConfig) -> list[Point]:
    """The training points of this shard, in a fixed order."""
    points = [Point(b, n) for b in cfg.bits for n in cfg.n_objects]
    i, n = parse_shard(cfg.shard)
    return points[i::n]


def _run_point(cfg: SweepConfig, point: Point, threads: int | None) -> dict[str, Any]:
    """Train (unless finished) and synthesize each reuse factor (unless finished). Runs in a worker
    (``threads`` None: a Dask worker, which keeps TensorFlow's own thread settings)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import threading

    if threading.current_thread() is threading.main_thread():
        from fpgatag.core.io import interrupt_on_sigterm

        interrupt_on_sigterm()
    import tensorflow as tf

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from fpgatag.fpga.synth import synth
    from fpgatag.train.distill import train_student

    run_dir = Path(cfg.out) / point.dirname(cfg.student)
    did: list[str] = []
    if not (run_dir / "metrics.json").is_file():
        train_student(cfg.data, student=cfg.student, n_objects=point.n_objects, bits=point.bits, out_dir=run_dir,
                      teacher_dir=cfg.teacher, epochs=cfg.epochs, batch_size=cfg.batch_size, seed=cfg.seed)
        did.append("train")
    for rf in cfg.reuse_factors:
        hls = run_dir / f"hls_rf{rf}"
        if not (hls / "estimate.json").is_file():
            synth(run_dir, part=cfg.part, output_dir=hls, reuse_factor=rf)
            did.append(f"synth_rf{rf}")
    return {"point": dataclasses.asdict(point), "dir": str(run_dir), "did": did, "metrics": _point_metrics(run_dir)}


def _point_metrics(run_dir: Path) -> dict[str, Any]:
    """A point's test figures with their uncertainties, for the sweep summary."""
    from fpgatag.core.io import read_json
    from fpgatag.core.metrics import format_auc, format_rejection

    m = read_json(run_dir / "metrics.json", "metrics file")
    keep = ("auc", "auc_err", "rejection_at_50", "rejection_at_50_interval", "n_background_passing_50", "n_test")
    return {**{k: m.get(k) for k in keep}, "auc +- err": format_auc(m), "rej@0.5 [68% CI]": format_rejection(m, "50")}


def _remove_unfinished(cfg: SweepConfig, points: list[Point]) -> None:
    """Remove the temporary (unfinished) outputs of this shard's points, left by a killed worker. Only
    this shard's names are touched: another shard may be running in the same directory."""
    import shutil

    out = Path(cfg.out)
    for p in points:
        run_dir = out / p.dirname(cfg.student)
        for tmp in [*out.glob(f".{run_dir.name}.*.tmp"), *run_dir.glob(".hls_rf*.tmp")]:
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def run_sweep(cfg: SweepConfig, executor=None) -> dict[str, Any]:
    """Run this shard's grid with ``cfg.workers`` processes, on the Dask cluster at ``cfg.scheduler`` or on
    ``executor`` (any ``concurrent.futures.Executor``; its workers must see ``cfg.out`` and the data);
    return (and write) a summary."""
    if not Path(cfg.data).is_file():
        raise FpgatagError(f"{cfg.data}: data file not found")
    if cfg.teacher is not None and not Path(cfg.teacher).is_dir():
        raise FpgatagError(f"{cfg.teacher}: teacher run directory not found")
    for b in cfg.bits:
        if not 2 <= b <= 32:
            raise FpgatagError(f"bits {b}: outside 2..32")
    points = grid(cfg)
    if not points:
        raise FpgatagError(f"shard {cfg.shard}: this shard of the sweep has no points "
                           f"({len(cfg.bits) * len(cfg.n_objects)} in all); use fewer shards")
    from fpgatag.core.executor import open_engine, result
    from fpgatag.core.io import write_marker

    out = Path(cfg.out)

    workers = max(1, min(cfg.workers, len(points)))
    local = executor is None and cfg.scheduler is None
    threads = max(1, (os.cpu_count() or 2) // workers) if local else None
    results: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    started = False
    try:   # even one local point runs in a spawned process: TensorFlow's thread settings are per process
        with open_engine(workers, cfg.scheduler, executor, serial=False) as engine:   # connects first
            started = True
            out.mkdir(parents=True, exist_ok=True)
            write_marker(out, "sweep")
            log.info("sweep: %d point(s) on %s", len(points), engine.description)
            futures = {engine.executor.submit(_run_point, cfg, p, threads): p for p in points}
            for fut in progress(as_completed(futures), total=len(futures), desc="sweep", unit="point"):
                p = futures[fut]
                try:
                    results.append(result(fut))
                except FpgatagError as exc:
                    failures.append({"point": dataclasses.asdict(p), "error": str(exc)})
                    log.warning("sweep point %s failed: %s", p, exc)
    except BaseException:   # Ctrl-C, SIGTERM (as KeyboardInterrupt): the workers are stopped, finished points kept
        if not started:     # no scheduler answered: nothing ran
            raise
        _remove_unfinished(cfg, points)
        log.warning("sweep stopped: finished points are kept, run the same command again to resume")
        raise
    results.sort(key=lambda r: (r["point"]["bits"], r["point"]["n_objects"]))
    summary = {
        "config": {**dataclasses.asdict(cfg)},
        "points": results,
        "failed": failures,
        "ran": [r["dir"] for r in results if r["did"]],
        "skipped": [r["dir"] for r in results if not r["did"]],
    }
    shard = parse_shard(cfg.shard)
    write_json(out / (f"sweep-shard{shard[0]}of{shard[1]}.json" if shard[1] > 1 else "sweep.json"), summary)
    if failures:
        raise FpgatagError(f"{len(failures)} sweep point(s) failed; first: {failures[0]['error']}")
    return summary
