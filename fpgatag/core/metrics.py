"""The metrics every stage reports, computed one way for teachers, students and firmware.

``metrics.json`` always holds ``accuracy``, ``auc``, ``rejection_at_30``, ``rejection_at_50`` and
``n_test``. Background rejection is 1/eps_B at a fixed signal efficiency eps_S, read off the ROC
curve by linear interpolation in eps_S. Where no background jet passes (eps_B = 0), the rejection is
reported as the number of background jets (a lower bound) and ``rejection_at_XX_saturated`` is true.
"""

from __future__ import annotations

from typing import Any

import numpy as np

REQUIRED_KEYS = ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test")


def check_finite(values: np.ndarray, what: str) -> np.ndarray:
    """``values``, or FpgatagError when any is nan or inf: a metric of such scores is no number."""
    bad = ~np.isfinite(values)
    if bad.any():
        from fpgatag.core.errors import FpgatagError

        raise FpgatagError(f"{what}: {int(bad.sum())} of {bad.size} values are not finite (nan or inf); "
                           "no metric is computed from them")
    return values


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC of a binary score: (eps_B, eps_S, thresholds), thresholds descending, ties merged.

    Matches ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.
    """
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    check_finite(scores, "scores")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.where(np.diff(s))[0]
    ends = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y)[ends].astype(np.float64)
    fps = (ends + 1 - tps).astype(np.float64)
    n_pos, n_neg = tps[-1] if tps.size else 0.0, fps[-1] if fps.size else 0.0
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC needs both signal and background jets")
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, fps / n_neg]
    thr = np.r_[np.inf, s[ends]]
    return fpr, tpr, thr


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (trapezoidal), equal to sklearn's ``roc_auc_score``."""
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapz(tpr, fpr))


def rejection_at(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float) -> tuple[float, bool]:
    """Background rejection 1/eps_B at the given signal efficiency; (value, saturated)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    n_bkg = int(np.sum(~np.asarray(labels).astype(bool)))
    # tpr is non-decreasing; interpolate eps_B as a function of eps_S on the unique tpr points
    tpr_u, idx = np.unique(tpr, return_index=True)
    eps_b = float(np.interp(signal_efficiency, tpr_u, fpr[idx]))
    if eps_b <= 0.0:
        return float(n_bkg), True
    return 1.0 / eps_b, False


def signal_score(probs: np.ndarray, signal: int = 1) -> np.ndarray:
    """The binary discriminant from class probabilities (n,) or (n, C): p_signal."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        return probs
    return probs[:, signal]


def classification_metrics(labels: np.ndarray, probs: np.ndarray, signal: int = 1) -> dict[str, Any]:
    """The standard metric set for a classifier's outputs on a test split.

    ``probs`` is (n,) signal probability or (n, C) class probabilities; ``labels`` are class
    indices. For C > 2 the ROC figures are signal-vs-rest.
    """
    labels = np.asarray(labels).ravel().astype(int)
    probs = check_finite(np.asarray(probs, dtype=np.float64), "probabilities")
    if probs.ndim == 1:
        pred = (probs >= 0.5).astype(int) * signal
        if signal != 1:
            raise ValueError("a 1-D score must be the probability of class 1")
    else:
        pred = probs.argmax(axis=1)
    is_sig = labels == signal
    score = signal_score(probs, signal)
    r30, s30 = rejection_at(is_sig, score, 0.3)
    r50, s50 = rejection_at(is_sig, score, 0.5)
    return {
        "accuracy": float(np.mean(pred == labels)),
        "auc": auc(is_sig, score),
        "rejection_at_30": r30,
        "rejection_at_50": r50,
        "n_test": int(labels.size),
        "n_signal": int(is_sig.sum()),
        "n_background": int((~is_sig).sum()),
        "rejection_at_30_saturated": s30,
        "rejection_at_50_saturated": s50,
    }


def format_table(rows: list[dict[str, Any]], columns: list[str], floatfmt: str = ".4g") -> str:
    """A plain-text table (Markdown pipe syntax) of ``rows`` restricted to ``columns``."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return format(v, floatfmt)
        return "" if v is None else str(v)

    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = lambda vals: "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in cells]
    return "\n".join(out)
