"""Side-by-side comparison of run directories (teacher, scratch student, distilled student, ...).

``compare_runs`` reads each run's metrics.json (and run.json for the parameter count of runs that
don't record it in their metrics) and returns one row per run: name, accuracy, AUC, rejection at
eps_S = 0.3 and 0.5, parameter count and bits. ``roc_overlay`` draws their test-split ROC curves in
one plot. Training runs store their test-split predictions (``predictions.npz``); for other runs
(teachers) the curve is recomputed from the stored model on the same uid-keyed test split of
``data``, which must then be given.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import read_json
from fpgatag.core.metrics import format_table
from fpgatag.report.collect import PREDICTIONS

log = logging.getLogger(__name__)

COLUMNS = ["name", "accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_parameters", "bits", "n_test"]


def run_row(run_dir: str | Path) -> dict[str, Any]:
    """One comparison row for a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FpgatagError(f"{run_dir}: run directory not found")
    metrics = read_json(run_dir / "metrics.json", "metrics file")
    run = read_json(run_dir / "run.json", "run record") if (run_dir / "run.json").is_file() else {}
    settings = run.get("settings", run)
    row = {k: metrics.get(k) for k in ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test")}
    row["name"] = str(metrics.get("name") or run_dir.name)
    if row["name"] != run_dir.name:
        row["name"] = f"{run_dir.name} ({row['name']})"
    row["n_parameters"] = metrics.get("n_parameters", settings.get("n_parameters"))
    bits = metrics.get("bits", settings.get("bits"))
    row["bits"] = bits if bits is not None else "float"
    row["dir"] = str(run_dir)
    for key in ("distilled", "alpha", "temperature", "n_objects", "student", "freeze"):
        if key in metrics:
            row[key] = metrics[key]
    return row


def compare_runs(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    if not run_dirs:
        raise FpgatagError("compare: give at least one run directory")
    return [run_row(d) for d in run_dirs]


def compare_table(rows: Sequence[dict[str, Any]]) -> str:
    return format_table([dict(r) for r in rows], COLUMNS)


def test_scores(run_dir: str | Path, data=None) -> tuple[np.ndarray, np.ndarray]:
    """(is_signal, signal score) of a run's test split: stored predictions, else the model on ``data``."""
    run_dir = Path(run_dir)
    metrics = read_json(run_dir / "metrics.json", "metrics file")
    classes = metrics.get("classes") or []
    signal = classes.index(metrics["signal_class"]) if metrics.get("signal_class") in classes else 1
    pred = run_dir / PREDICTIONS
    if pred.is_file():
        with np.load(pred) as f:
            return f["label"] == signal, np.asarray(f["probs"])[:, signal]
    if data is None:
        raise FpgatagError(f"{run_dir}: no stored test predictions ({PREDICTIONS}); give --data to evaluate its model")
    return _evaluate(run_dir, data, signal)


def _evaluate(run_dir: Path, data, signal: int) -> tuple[np.ndarray, np.ndarray]:
    """Run a saved model on the test split of ``data`` recorded in its run.json (uid-keyed)."""
    from fpgatag.core.splits import DEFAULT_FRACTIONS, split_indices
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.train.data import as_source, load_arrays

    run = read_json(run_dir / "run.json", "run record")
    rec = run.get("splits") or {}
    source = as_source(data)
    parts = split_indices(np.asarray(source.uids()), tuple(rec.get("fractions", DEFAULT_FRACTIONS)), int(rec.get("salt", 0)))
    model, spec = load_model(run_dir), load_inputs(run_dir)
    x, y = load_arrays(source, spec, parts["test"])
    out = model.predict(x, batch_size=1024, verbose=0)
    out = np.asarray(out, dtype=np.float64)
    if model.layers[-1].name == "logits" or not np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        from fpgatag.nn.students import softmax

        out = softmax(out)
    return y == signal, out[:, signal]


def roc_overlay(run_dirs: Sequence[str | Path], output: str | Path, data=None) -> Path:
    """One ROC plot (1/eps_B against eps_S) of every run's test split."""
    from fpgatag.train.runs import plot_roc

    curves = {}
    for d in run_dirs:
        curves[Path(d).name] = test_scores(d, data)
    return plot_roc(output, curves, title="test split")
