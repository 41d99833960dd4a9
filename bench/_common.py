"""What every benchmark script shares: the repository on sys.path, logging, output directories,
timing, machine information, tables in fpgatag's vocabulary, and writing ``<name>.json`` + ``<name>.md``.

    import _common as C                      # bench/ is the script's own directory
    ap = C.parser(__doc__, "bench-l1-student")   # --work, --out, --reuse (None: --out only)
    args = ap.parse_args(argv)
    C.start(args)                            # logging, the work directory, $BENCH_THREADS
    ...
    C.write(args.out, "l1_student", result, md_lines)   # <out>/l1_student.{json,md}, Markdown on stdout
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fpgatag.core import labels  # noqa: E402
from fpgatag.core.io import write_json, write_text  # noqa: E402
from fpgatag.core.logs import setup_logging  # noqa: E402
from fpgatag.core.metrics import format_auc, format_rejection  # noqa: E402

UNCERTAINTY_KEYS = ("auc_err", "n_background", "n_background_passing_30", "n_background_passing_50",
                    "rejection_at_30_interval", "rejection_at_50_interval", "rejection_at_30_saturated",
                    "rejection_at_50_saturated")
METRIC_KEYS = ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test")


def parser(doc: str | None, work: str | None) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark has: ``--out``, and ``--work``, ``--reuse``
    for a benchmark that keeps runs (``work`` None: one that keeps none, its scratch in a temporary directory)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if work is not None:
        ap.add_argument("--work", type=Path, default=ROOT / "runs" / work, help="where the benchmark's runs go")
        ap.add_argument("--reuse", action="store_true", help="reuse finished runs found in --work")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    return ap


def start(args: argparse.Namespace, threads_env: str = "BENCH_THREADS") -> int:
    """Logging on (fpgatag's set-up: name benchmark loggers ``fpgatag.bench.NAME``), the work directory
    made, TensorFlow's threads from ``$BENCH_THREADS`` (0: its default)."""
    setup_logging(0)
    if getattr(args, "work", None) is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    threads = int(os.environ.get(threads_env, "0"))
    if threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    return threads


def machine() -> dict[str, Any]:
    """Where the benchmark ran: host, CPU count, platform and the stack's versions."""
    from fpgatag.core.provenance import package_versions

    return {"host": platform.node(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "versions": package_versions()}


class Timer:
    """Wall time since it was made (``.s``), and named laps (``.lap(name)``)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.laps: dict[str, float] = {}

    @property
    def s(self) -> float:
        return round(time.perf_counter() - self.t0, 1)

    def lap(self, name: str, since: float) -> float:
        self.laps[name] = round(time.perf_counter() - since, 1)
        return self.laps[name]


def reuse_or_run(out: Path, reuse: bool, make: Callable[[], dict[str, Any]], name: str = "metrics.json") -> dict[str, Any]:
    """``out/metrics.json`` when ``reuse`` and it exists, else what ``make()`` returns (it trains into ``out``)."""
    if reuse and (out / name).is_file():
        return json.loads((out / name).read_text())
    return make()


def ensure_jets(path: Path, jets_per_class: int, seed: int, workers: int = 2) -> Path:
    """A generated top-vs-QCD jet file (``fpgatag generate``), made when missing."""
    from fpgatag.data.generate import generate

    if not Path(path).is_file():
        generate(path, processes=("qcd", "top"), jets_per_class=jets_per_class, seed=seed, workers=workers)
    return Path(path)


def ensure_teacher(out: Path, data: Path, model: str = "particlenet-lite", reuse: bool = True, **kw) -> Path:
    """A trained teacher run (``fpgatag train-teacher``), reused when finished, with its logits on ``data``."""
    from fpgatag.train.distill import logits_path
    from fpgatag.train.soft_targets import teacher_predict
    from fpgatag.train.teacher import train_teacher

    if not (reuse and (Path(out) / "metrics.json").is_file()):
        train_teacher(data, model=model, out_dir=out, **kw)
    if not logits_path(out, data).is_file():
        teacher_predict(out, data)
    return Path(out)


def mean_std(values: Iterable[float]) -> list[float]:
    """[mean, sample std] (std 0 for one value)."""
    v = [float(x) for x in values]
    return [float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0]


def fmt(x: Any, nd: int = 3) -> str:
    """A float with ``nd`` decimals; ``n/a`` for None and NaN."""
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"


def shown(m: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """The AUC and rejection of a metrics dict with their uncertainties, as display strings."""
    sub = {k[len(prefix):]: v for k, v in m.items() if k.startswith(prefix)}
    return {f"{prefix}auc +- err": format_auc(sub), f"{prefix}rej@0.5 [68% CI]": format_rejection(sub, "50")}


def heading(column: str) -> str:
    """A column's display name in fpgatag's vocabulary (``eval_X``: the same figure on the independent file)."""
    return f"eval {labels.label(column[5:])}" if column.startswith("eval_") else labels.label(column)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A Markdown table with fpgatag's display names as headers."""
    heads = {c: heading(c) for c in columns}
    return labels.table([{heads[c]: r.get(c) for c in columns} for r in rows], [heads[c] for c in columns])


def write(out: Path, name: str, result: dict[str, Any] | None, md: str | Sequence[str], echo: bool = True) -> None:
    """``out/<name>.json`` (unless ``result`` is None: the Markdown re-rendered from it) and
    ``out/<name>.md`` (atomically, Markdown as a text or as lines); the Markdown also on stdout."""
    text = md if isinstance(md, str) else "\n".join(md)
    out.mkdir(parents=True, exist_ok=True)
    if result is not None:
        write_json(out / f"{name}.json", result)
    write_text(out / f"{name}.md", text)
    if echo:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
