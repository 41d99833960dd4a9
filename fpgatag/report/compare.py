"""Side-by-side comparison of run directories (teacher, scratch student, distilled student, ...).

``compare_runs`` reads each run's metrics.json (and run.json for the parameter count of runs that
don't record it in their metrics) and returns one row per run: name, accuracy, AUC +- its DeLong
error, rejection at eps_S = 0.3 and 0.5 with 68 % Clopper-Pearson intervals (and the number of
background jets passing, named where below 10), parameter count, bits and N. Where distilled and
scratch students of the same architecture are among the runs, ``distillation_gains`` pairs them on
their common test jets (paired bootstrap, spread over seeds; see ``fpgatag.core.metrics.paired_gain``)
and ``compare_table`` prints the gain with its uncertainty below the runs. ``roc_overlay`` draws their test-split ROC curves in
one plot. Training runs store their test-split predictions (``predictions.npz``); for other runs
(teachers) the curve is recomputed from the stored model on the same uid-keyed test split of
``data``, which must then be given.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fpgatag.core import labels
from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import read_json
from fpgatag.core.metrics import FEW_PASSING, format_auc, format_rejection, paired_gain
from fpgatag.report.collect import PREDICTIONS

log = logging.getLogger(__name__)

COLUMNS = ["name", "accuracy", "auc +- err", "rej@0.3 [68% CI]", "rej@0.5 [68% CI]", "n_parameters", "bits", "n_test"]
UNCERTAINTY_KEYS = ("auc_err", "n_background", "n_background_passing_30", "n_background_passing_50",
                    "rejection_at_30_interval", "rejection_at_50_interval",
                    "rejection_at_30_saturated", "rejection_at_50_saturated")
MULTICLASS_KEYS = ("accuracy_err", "classes", "signal_class", "per_class", "per_background", "confusion")
GAIN_COLUMNS = ["student", "teacher", "seeds", "n_test", "auc distilled", "auc scratch", "auc gain",
                "rej@0.5 distilled", "rej@0.5 scratch", "rej@0.5 gain", "gap closed", "significant"]


def run_row(run_dir: str | Path) -> dict[str, Any]:
    """One comparison row for a run directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FpgatagError(f"{run_dir}: run directory not found")
    metrics = read_json(run_dir / "metrics.json", "metrics file")
    run = read_json(run_dir / "run.json", "run record") if (run_dir / "run.json").is_file() else {}
    settings = run.get("settings", run)
    row = {k: metrics.get(k) for k in ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test")}
    row.update({k: metrics[k] for k in UNCERTAINTY_KEYS if k in metrics})
    row["auc +- err"] = format_auc(metrics)
    row["rej@0.3 [68% CI]"] = format_rejection(metrics, "30")
    row["rej@0.5 [68% CI]"] = format_rejection(metrics, "50")
    row["name"] = str(metrics.get("name") or run_dir.name)
    if row["name"] != run_dir.name:
        row["name"] = f"{run_dir.name} ({row['name']})"
    row["n_parameters"] = metrics.get("n_parameters", settings.get("n_parameters"))
    bits = metrics.get("bits", settings.get("bits"))
    row["bits"] = bits if bits is not None else "float"
    row["dir"] = str(run_dir)
    for key in ("distilled", "alpha", "temperature", "n_objects", "student", "freeze", "seed", "teacher_dir", "role"):
        if key in metrics:
            row[key] = metrics[key]
    if labels.n_classes(metrics) > 2:   # the multi-class figures (compare_table prints them below the runs)
        row.update({k: metrics[k] for k in MULTICLASS_KEYS if k in metrics})
    return row


def compare_runs(run_dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """One row per run; each distilled student's row carries its ``gain`` over the scratch runs."""
    if not run_dirs:
        raise FpgatagError("compare: give at least one run directory")
    rows = [run_row(d) for d in run_dirs]
    for gain in distillation_gains(rows):
        for row in rows:
            if row["dir"] in gain["distilled_dirs"]:
                row["gain"] = gain
    return rows


def compare_table(rows: Sequence[dict[str, Any]]) -> str:
    """The runs' table and, where distilled and scratch students are paired, the gain table."""
    text = labels.table([dict(r) for r in rows], COLUMNS)
    multiclass = labels.multiclass_text(rows)
    if multiclass:
        text += "\n\n" + multiclass
    gains = {id(r["gain"]): r["gain"] for r in rows if r.get("gain")}
    if gains:
        text += "\n\n" + gain_table(list(gains.values()))
    return text


# ---- distilled vs scratch ---------------------------------------------------------------------


def _group_key(row: dict[str, Any]) -> tuple:
    return (row.get("student"), row.get("bits"), row.get("n_objects"))


def _load_scores(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uid, is_signal, signal score) of a run's stored test predictions."""
    run_dir = Path(run_dir)
    is_sig, score = test_scores(run_dir)
    with np.load(run_dir / PREDICTIONS) as f:
        uid = np.asarray(f["uid"], np.int64)
    return uid, is_sig, score


def _aligned(run_dirs: Sequence[str | Path]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Labels and every run's scores on the test jets all runs share (matched by uid)."""
    loaded = [_load_scores(d) for d in run_dirs]
    if any(np.any(u < 0) for u, _, _ in loaded):
        if len({u.size for u, _, _ in loaded}) != 1:
            raise FpgatagError(f"{run_dirs[0]}: test predictions without jet uids and of different sizes: cannot pair")
        common = np.arange(loaded[0][0].size)
        picks = [common for _ in loaded]
    else:
        common = loaded[0][0]
        for u, _, _ in loaded[1:]:
            common = np.intersect1d(common, u)
        picks = [np.searchsorted(u, common, sorter=np.argsort(u)) for u, _, _ in loaded]
        picks = [np.argsort(u)[p] for (u, _, _), p in zip(loaded, picks)]
    if common.size == 0:
        raise FpgatagError(f"{run_dirs[0]}: no test jets in common with the other runs (different data files?)")
    labels = [lab[p] for (_, lab, _), p in zip(loaded, picks)]
    for d, lab in zip(run_dirs[1:], labels[1:]):
        if not np.array_equal(lab, labels[0]):
            raise FpgatagError(f"{d}: its test jets carry other labels than {run_dirs[0]}'s: not the same jets")
    return labels[0], [s[p] for (_, _, s), p in zip(loaded, picks)]


def distillation_gain(distilled: Sequence[str | Path], scratch: Sequence[str | Path], teacher: str | Path | None = None,
                      n_boot: int = 200, seed: int = 12345) -> dict[str, Any]:
    """Gain of distilled over scratch students (lists of run dirs, one per seed) on their common test jets."""
    dirs = [*distilled, *scratch, *([teacher] if teacher is not None else [])]
    labels, scores = _aligned(dirs)
    nd, ns = len(distilled), len(scratch)
    gain = paired_gain(labels, scores[:nd], scores[nd:nd + ns], scores[-1] if teacher is not None else None,
                       n_boot=n_boot, seed=seed)
    gain.update({"distilled_dirs": [str(d) for d in distilled], "scratch_dirs": [str(d) for d in scratch],
                 "teacher_dir": None if teacher is None else str(teacher)})
    return gain


def distillation_gains(rows: Sequence[dict[str, Any]], n_boot: int = 200) -> list[dict[str, Any]]:
    """One gain per (student, bits, N, teacher) group holding distilled and scratch runs (rows of ``run_row``).

    The gap closed is measured where the distilling teacher's run is among the rows or still on disk.
    A group whose runs were not tested on the same jets is skipped with a warning.
    """
    students = [r for r in rows if r.get("distilled") is not None and r.get("student")]
    teachers = {str(Path(r["dir"]).resolve()): r["dir"] for r in rows if r.get("distilled") is None}
    out = []
    for key in sorted({_group_key(r) for r in students}, key=str):
        group = [r for r in students if _group_key(r) == key]
        scratch = [r["dir"] for r in group if not r["distilled"]]
        for tdir in sorted({str(r.get("teacher_dir")) for r in group if r["distilled"]}):
            distilled = [r["dir"] for r in group if r["distilled"] and str(r.get("teacher_dir")) == tdir]
            if not scratch:
                continue
            teacher = teachers.get(tdir)
            if teacher is None and tdir != "None" and (Path(tdir) / PREDICTIONS).is_file():
                teacher = tdir
            try:
                gain = distillation_gain(distilled, scratch, teacher, n_boot=n_boot)
            except FpgatagError as exc:
                log.warning("distillation gain of %s not computed: %s", key[0], exc)
                continue
            gain.update({"student": key[0], "bits": key[1], "n_objects": key[2],
                         "teacher": Path(tdir).name if tdir != "None" else None})
            out.append(gain)
    return out


def _pm(value: float, err: float, fmt: str, sign: bool = True) -> str:
    return f"{value:{'+' if sign else ''}{fmt}} +- {err:{fmt}}"


def gain_row(g: dict[str, Any]) -> dict[str, Any]:
    """A display row of one distillation gain (uncertainties: test jets (+) seeds, one sd)."""
    tag = f"{int(round(100 * g['signal_efficiency']))}"
    sig = g["rejection_gain"] / g["rejection_gain_err"] if g["rejection_gain_err"] > 0 else float("inf")
    row = {
        "student": f"{g['student']} {g['bits']}b N={g['n_objects']}", "teacher": g.get("teacher") or "",
        "seeds": f"{g['n_seeds_distilled']} + {g['n_seeds_scratch']}", "n_test": g["n_test"],
        "auc distilled": f"{g['auc_distilled']:.4f}", "auc scratch": f"{g['auc_scratch']:.4f}",
        "auc gain": _pm(g["auc_gain"], g["auc_gain_err"], ".4f"),
        f"rej@0.{tag[0]} distilled": f"{g[f'rejection_at_{tag}_distilled']:.3g}",
        f"rej@0.{tag[0]} scratch": f"{g[f'rejection_at_{tag}_scratch']:.3g}",
        f"rej@0.{tag[0]} gain": f"{100 * g['rejection_gain']:+.0f} % +- {100 * g['rejection_gain_err']:.0f} %",
        "gap closed": _pm(g["gap_closed"], g["gap_closed_err"], ".2f", sign=False) if "gap_closed" in g else "",
        "significant": f"{'yes' if g['rejection_gain_significant'] else 'no'} ({sig:.1f} sd)",
    }
    for kind in ("distilled", "scratch"):
        passing = g["n_background"] / g[f"rejection_at_{tag}_{kind}"]
        if passing < FEW_PASSING:
            row[f"rej@0.{tag[0]} {kind}"] += f" (~{passing:.0f} bkg jet(s) passing: <{FEW_PASSING})"
    return row


def gain_table(gains: Sequence[dict[str, Any]]) -> str:
    """The gain table with a line saying how its uncertainties were made."""
    if not gains:
        return ""
    seeds = all(g["n_seeds_distilled"] >= 2 and g["n_seeds_scratch"] >= 2 for g in gains)
    note = (f"Distilled vs scratch on the same test jets: seed means; +- is one sd, paired bootstrap over the test jets "
            f"({gains[0]['n_boot']} resamples, stratified, seed {gains[0]['bootstrap_seed']})"
            + (" and the standard error over training seeds, in quadrature" if seeds else
               "; one training seed: the spread over seeds is not included") + ". "
            f"{labels.label('rej@0.5 gain')} = distilled / scratch - 1; significant = gain above its 1-sd uncertainty.")
    return labels.table([gain_row(g) for g in gains], GAIN_COLUMNS) + "\n\n" + note


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
    from fpgatag.train.runs import model_outputs, probabilities

    run = read_json(run_dir / "run.json", "run record")
    rec = run.get("splits") or {}
    source = as_source(data)
    parts = split_indices(np.asarray(source.uids()), tuple(rec.get("fractions", DEFAULT_FRACTIONS)), int(rec.get("salt", 0)))
    model, spec = load_model(run_dir), load_inputs(run_dir)
    x, y = load_arrays(source, spec, parts["test"])
    out = probabilities(model.predict(x, batch_size=1024, verbose=0), model_outputs(model, run_dir))
    return y == signal, out[:, signal]


def roc_overlay(run_dirs: Sequence[str | Path], output: str | Path, data=None) -> Path:
    """One ROC plot (1/eps_B against eps_S) of every run's test split (a PDF beside the PNG)."""
    from fpgatag.report import plots

    curves = [(Path(d).name, *test_scores(d, data)) for d in run_dirs]
    return plots.roc_plot([(name, is_sig.astype(int), score) for name, is_sig, score in curves], output,
                          sample=_sample(run_dirs, data))


def _sample(run_dirs: Sequence[str | Path], data=None):
    """sqrt(s) and jet selection of the runs' data file (``data``, else the first run's run.json)."""
    from fpgatag.report.collect import collect
    from fpgatag.report.report import run_sample

    if isinstance(data, (str, Path)):
        from fpgatag.data.io import open_jets
        from fpgatag.report.plots import sample_label

        with open_jets(data) as src:
            return sample_label(src.attrs)
    return run_sample(collect(list(run_dirs)))
