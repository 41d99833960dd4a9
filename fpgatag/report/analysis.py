"""Teacher-vs-student analysis used by the notebooks: joined predictions, score distributions,
and the jets where the student disagrees with the teacher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import FpgatagError
from fpgatag.core.metrics import signal_score
from fpgatag.report.collect import PREDICTIONS


def load_predictions(run_dir: str | Path) -> dict[str, np.ndarray]:
    """A run's test-split predictions: ``uid``, ``label``, ``probs``."""
    path = Path(run_dir) / PREDICTIONS
    if not path.is_file():
        raise FpgatagError(f"{path}: not found (training runs write their test-split predictions there)")
    with np.load(path) as z:
        return {k: z[k] for k in ("uid", "label", "probs")}


def resolve_data_path(path: str | Path, run_dir: str | Path) -> Path:
    """The data file a run recorded, found from anywhere (a notebook runs in ``notebooks/``).

    A recorded relative path is relative to the directory the command ran in, which the record does
    not keep: it is tried as given, then against the run directory and each directory above it
    (``make demo`` writes ``runs/demo/jets.h5`` from the repository root).
    """
    path = Path(path)
    candidates = [path] if path.is_absolute() else [path, *(d / path for d in (Path(run_dir).resolve(),
                                                                               *Path(run_dir).resolve().parents))]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise FpgatagError(f"{path}: data file of {run_dir} not found (also looked under {Path(run_dir).resolve()} "
                           "and the directories above it)")
    return found


def run_data_file(run_dir: str | Path) -> Path:
    """The data file of a demo or sweep directory (``demo.json``'s ``data``, else a run's ``run.json``)."""
    from fpgatag.core.io import read_json

    run_dir = Path(run_dir)
    if (run_dir / "demo.json").is_file():
        return resolve_data_path(read_json(run_dir / "demo.json", "demo summary")["data"], run_dir)
    for run_json in sorted(run_dir.glob("*/run.json")):
        data = read_json(run_json, "run record").get("data")
        path = data.get("path") if isinstance(data, dict) else data
        if isinstance(path, str):
            return resolve_data_path(path, run_json.parent)
    raise FpgatagError(f"{run_dir}: no demo.json and no run.json naming a data file")


def join_predictions(teacher_dir: str | Path, student_dir: str | Path, signal: int = 1) -> dict[str, np.ndarray]:
    """Teacher and student signal scores on the jets both were tested on, matched by uid."""
    t, s = load_predictions(teacher_dir), load_predictions(student_dir)
    common, it, is_ = np.intersect1d(t["uid"], s["uid"], return_indices=True)
    if common.size == 0:
        raise FpgatagError(f"{teacher_dir} and {student_dir}: no test jets in common (different data files?)")
    return {
        "uid": common,
        "label": t["label"][it],
        "teacher": signal_score(t["probs"], signal)[it],
        "student": signal_score(s["probs"], signal)[is_],
    }


def disagreements(joined: dict[str, np.ndarray], data_path: str | Path, threshold: float = 0.5) -> dict[str, Any]:
    """Jet mass and multiplicity (full view) of jets where teacher and student decide differently.

    Returns arrays for ``agree`` and ``disagree`` jets and a per-class summary table.
    """
    from fpgatag.core.schema import col
    from fpgatag.data.io import open_jets

    with open_jets(data_path) as src:
        uids = src.uids()
        order = np.argsort(uids)
        pos = np.searchsorted(uids, joined["uid"], sorter=order)
        idx = order[np.clip(pos, 0, len(order) - 1)]
        if not np.array_equal(uids[idx], joined["uid"]):
            raise FpgatagError(f"{data_path}: does not hold the jets these runs were tested on")
        sorted_idx = np.sort(idx)
        batch = src.read(indices=sorted_idx, keys=["jet", "n_particles"])
        back = np.searchsorted(sorted_idx, idx)
        classes = list(src.classes)
    mass = batch["jet"][back, col("jet", "mass")]
    mult = batch["n_particles"][back].astype(float)
    dis = (joined["teacher"] >= threshold) != (joined["student"] >= threshold)
    rows = []
    for ci, name in enumerate(classes):
        sel = joined["label"] == ci
        for tag, mask in (("agree", sel & ~dis), ("disagree", sel & dis)):
            rows.append({
                "class": name, "jets": tag, "n": int(mask.sum()),
                "median_mass": float(np.median(mass[mask])) if mask.any() else None,
                "mean_multiplicity": float(np.mean(mult[mask])) if mask.any() else None,
            })
    return {"mass": mass, "multiplicity": mult, "disagree": dis, "label": joined["label"], "classes": classes,
            "table": rows, "fraction": float(dis.mean())}


def score_plot(joined: dict[str, np.ndarray], path: str | Path, classes=("qcd", "top"), sample=None) -> Path:
    """Teacher and student score distributions per class (Poisson errors), and the teacher-student scatter."""
    import mplhep

    from fpgatag.report.plots import _label, _plt, _save, _style

    plt = _plt()
    with _style():
        fig, (a, b) = plt.subplots(1, 2, figsize=(15, 6.5))
        bins = np.linspace(0, 1, 41)
        for ci, name in enumerate(classes):
            sel = joined["label"] == ci
            for who, ls in (("teacher", "-"), ("student", "--")):
                counts, _ = np.histogram(joined[who][sel], bins)
                mplhep.histplot(counts, bins, yerr=np.sqrt(counts), ax=a, histtype="step", ls=ls, color=f"C{ci}",
                                label=f"{who}, {name} (N = {int(sel.sum())})")
            b.scatter(joined["teacher"][sel], joined["student"][sel], s=4, alpha=0.4, color=f"C{ci}", label=name)
        a.set_xlabel("signal score")
        a.set_ylabel("test jets / bin")
        a.set_yscale("log")
        a.legend(fontsize=9, frameon=False)
        b.set_xlabel("teacher score")
        b.set_ylabel("student score")
        b.plot([0, 1], [0, 1], "k:", lw=1)
        b.legend(fontsize=9, frameon=False)
        _label(a, sample)
        return _save(fig, Path(path))
