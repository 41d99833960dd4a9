"""Run directories: what every training command (teacher or student) leaves behind.

A run directory holds::

    model.json, model.h5, inputs.json   the model (fpgatag.nn.io.save_model)
    metrics.json    test-split metrics (fpgatag.core.metrics.classification_metrics) + run name, classes
    roc.png         background rejection 1/eps_B against signal efficiency eps_S on the test split
    history.json    per-epoch training history (loss, accuracy, val_*, lr, seconds)
    run.json        provenance: versions, time, command, settings, data file and splits
    predictions.npz test-split ``uid``, ``label`` and ``probs`` (ROC overlays, teacher-student studies)

Write a run into the temporary directory yielded by :func:`fpgatag.core.io.atomic_dir` so that an
interrupted command leaves no half-written run behind.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import read_json, write_json
from fpgatag.core.metrics import REQUIRED_KEYS, classification_metrics, roc_curve, signal_index, signal_score
from fpgatag.core.provenance import provenance
from fpgatag.core.splits import DEFAULT_FRACTIONS, SPLIT_NAMES

log = logging.getLogger(__name__)

METRICS_JSON = "metrics.json"
ROC_PNG = "roc.png"
HISTORY_JSON = "history.json"
RUN_JSON = "run.json"
PREDICTIONS_NPZ = "predictions.npz"

TABLE_COLUMNS = ["name", "accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test"]
OUTPUT_KINDS = ("logits", "probabilities")
PROBABILITY_ACTIVATIONS = ("softmax", "sigmoid")


def model_outputs(model=None, run_dir: str | Path | None = None) -> str:
    """``"logits"`` or ``"probabilities"``: what a classifier outputs.

    A run directory's metrics.json records it (``outputs``: teachers end in a softmax, students output
    logits); without the record, the model's last layer tells: a softmax or sigmoid activation gives
    probabilities, anything else logits."""
    if run_dir is not None and (Path(run_dir) / METRICS_JSON).is_file():
        kind = read_json(Path(run_dir) / METRICS_JSON, "metrics file").get("outputs")
        if kind is not None:
            if kind not in OUTPUT_KINDS:
                raise FpgatagError(f"{Path(run_dir) / METRICS_JSON}: outputs {kind!r}; known: {', '.join(OUTPUT_KINDS)}")
            return kind
    if model is None:
        return "logits"
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    name = type(last).__name__.lower() if type(last).__name__ in ("Softmax",) else getattr(activation, "__name__", "")
    return "probabilities" if str(name).lower() in PROBABILITY_ACTIVATIONS else "logits"


def probabilities(outputs: np.ndarray, kind: str) -> np.ndarray:
    """Class probabilities from a classifier's outputs of ``kind`` (:func:`model_outputs`): the
    softmax of logits (a sigmoid for one output), or the probabilities themselves."""
    from fpgatag.nn.students import softmax

    y = np.asarray(outputs, dtype=np.float64)
    if kind == "probabilities":
        return y.reshape(-1) if y.ndim > 1 and y.shape[1] == 1 else y
    if y.ndim == 1 or y.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-y.reshape(-1)))
    return softmax(y)


def split_record(splits: Mapping[str, np.ndarray], fractions: Sequence[float] = DEFAULT_FRACTIONS,
                 salt: int = 0, labels: np.ndarray | None = None) -> dict[str, Any]:
    """What run.json records about the splits: fractions, salt, and jet counts (per class if labels)."""
    rec: dict[str, Any] = {"fractions": [float(f) for f in fractions], "salt": int(salt),
                           "counts": {name: int(len(splits[name])) for name in SPLIT_NAMES if name in splits}}
    if labels is not None:
        labels = np.asarray(labels)
        rec["class_counts"] = {name: np.bincount(labels[splits[name]].astype(int)).tolist()
                               for name in SPLIT_NAMES if name in splits}
    return rec


def data_record(source, path: str | Path | None = None) -> dict[str, Any]:
    """What run.json records about the data file: path, format, jets, classes, uid fingerprint."""
    from fpgatag.train.soft_targets import uid_fingerprint

    rec: dict[str, Any] = {"n_jets": int(source.n_jets), "classes": list(source.classes),
                           "format": getattr(source, "format", None),
                           "uid_fingerprint": uid_fingerprint(source.uids())}
    p = path if path is not None else getattr(source, "path", None)
    if p is not None:
        rec["path"] = str(Path(p).resolve())
    return rec


def plot_roc(path: str | Path, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], title: str = "") -> Path:
    """Draw 1/eps_B against eps_S (log scale) for ``{label: (is_signal, score)}`` and save a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fpgatag.core.io import atomic_path
    from fpgatag.core.metrics import auc_delong

    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
    for label, (is_sig, score) in curves.items():
        fpr, tpr, _ = roc_curve(is_sig, score)
        keep = fpr > 0
        a, err = auc_delong(is_sig, score)
        ax.plot(tpr[keep], 1.0 / fpr[keep], label=f"{label} (AUC {a:.4f} +- {err:.4f}, N = {np.size(is_sig)})")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel("signal efficiency $\\epsilon_S$")
    ax.set_ylabel("background rejection $1/\\epsilon_B$")
    for eps in (0.3, 0.5):
        ax.axvline(eps, color="grey", lw=0.6, ls=":")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def history_record(history: Any) -> dict[str, list[float]]:
    """A Keras ``History`` (or its ``.history`` dict) as plain lists of floats."""
    h = getattr(history, "history", history) or {}
    return {str(k): [float(v) for v in vals] for k, vals in h.items()}


def check_converged(name: str, probs: np.ndarray, history: Any = None) -> None:
    """FpgatagError when a training diverged (a non-finite loss, or non-finite test outputs): such a
    model is never saved, and the command ends non-zero."""
    for key, vals in history_record(history).items():
        if key.endswith("loss") and not all(np.isfinite(v) for v in vals):
            first = next(i for i, v in enumerate(vals) if not np.isfinite(v))
            raise FpgatagError(f"{name}: training diverged ({key} is {vals[first]} at epoch {first + 1}); "
                               "no model saved (try a lower --lr)")
    probs = np.asarray(probs, dtype=np.float64)
    if not np.all(np.isfinite(probs)):
        raise FpgatagError(f"{name}: training diverged ({int(np.sum(~np.isfinite(probs)))} non-finite outputs on "
                           "the test split); no model saved (try a lower --lr)")


def write_run(run_dir: str | Path, *, name: str, labels: np.ndarray, probs: np.ndarray,
              classes: Sequence[str] | None = None, signal: int | str | None = None, model=None, inputs=None,
              history: Any = None, settings: Mapping[str, Any] | None = None,
              splits: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None,
              extra_metrics: Mapping[str, Any] | None = None, extra_run: Mapping[str, Any] | None = None,
              command: str | None = None, uids: np.ndarray | None = None) -> dict[str, Any]:
    """Write a complete run directory and return its metrics.

    ``labels``/``probs`` are the test split's class indices and class probabilities (n, C) or
    signal probabilities (n,). ``model`` and ``inputs`` (an InputSpec) are saved with
    ``fpgatag.nn.io.save_model`` when given. ``splits`` is a :func:`split_record`, ``data`` a
    :func:`data_record`; ``extra_metrics`` are merged into metrics.json, ``extra_run`` into run.json.
    ``uids`` (the test jets' uids, in the order of ``labels``) go into predictions.npz. ``signal`` (a
    class name or index) is the class the rejections are of; default the last class (class 1 of two).
    """
    check_converged(name, probs, history)
    n_out = np.asarray(probs).shape[1] if np.ndim(probs) > 1 else 2
    signal = signal_index(list(classes) if classes is not None else [str(i) for i in range(n_out)], signal, where=name)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if model is not None:
        from fpgatag.nn.io import save_model

        save_model(model, run_dir, inputs=inputs)
    labels = np.asarray(labels).astype(int).ravel()
    metrics = classification_metrics(labels, probs, signal=signal, classes=classes)
    metrics = {**{k: metrics[k] for k in REQUIRED_KEYS}, **metrics, "name": name}
    if classes is not None:
        metrics["classes"] = list(classes)
        metrics["signal_class"] = list(classes)[signal]
    if extra_metrics:
        metrics.update(extra_metrics)
    write_json(run_dir / METRICS_JSON, metrics)
    plot_roc(run_dir / ROC_PNG, {name: (labels == signal, signal_score(probs, signal))},
             title=f"{name}: test split, {metrics['n_test']} jets")
    write_json(run_dir / HISTORY_JSON, history_record(history))
    from fpgatag.core.io import atomic_path

    with atomic_path(run_dir / PREDICTIONS_NPZ) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, uid=np.full(labels.shape, -1, np.int64) if uids is None else np.asarray(uids, np.int64),
                 label=labels, probs=np.asarray(probs, np.float32))
    record = provenance(dict(settings or {}), command=command)
    record["name"] = name
    if data is not None:
        record["data"] = dict(data)
    if splits is not None:
        record["splits"] = dict(splits)
    if extra_run:
        record.update(extra_run)
    write_json(run_dir / RUN_JSON, record)
    return metrics


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """metrics.json of a run directory (FpgatagError when missing or malformed)."""
    return read_json(Path(run_dir) / METRICS_JSON, "metrics file")


def metrics_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """The readable table of one or more runs' metrics (headers in the shared vocabulary: R30, R50, ...)."""
    from fpgatag.core.labels import table

    return table([dict(r) for r in rows], list(columns))
