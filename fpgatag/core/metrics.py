"""The metrics every stage reports, computed one way for teachers, students and firmware.

``metrics.json`` always holds ``accuracy``, ``auc``, ``rejection_at_30``, ``rejection_at_50`` and
``n_test``. ROC curve and AUC are scikit-learn's. Background rejection is 1/eps_B at a fixed signal
efficiency eps_S, read off the ROC curve by linear interpolation in eps_S. Where no background jet
passes (eps_B = 0), the rejection is reported as the number of background jets (a lower bound) and
``rejection_at_XX_saturated`` is true.

Uncertainties (one standard deviation, or 68 % intervals), written beside every figure:

* ``auc_err``: DeLong's standard error of the AUC (the exact variance of the Mann-Whitney statistic
  estimated from its structural components; deterministic, no resampling).
* ``n_background_passing_30/50``: the background jets passing the cut, round(eps_B x n_background).
* ``rejection_at_30/50_interval``: [low, high] on 1/eps_B from the 68 % central Clopper-Pearson
  interval on eps_B for that count. With no background jet passing, the interval is [low, None]: a
  lower bound only (``rejection_at_XX_saturated`` is then true).
* ``accuracy_err``: the binomial standard error sqrt(a (1 - a) / N) of the accuracy.

Every C: ``accuracy``, ``accuracy_err``, ``per_class`` {class: {auc, auc_err, n}} (one-vs-rest AUC of
p_class with its DeLong error; n: test jets of that class) and ``confusion`` {classes, counts} (rows:
true class, columns: the argmax). With C > 2 the binary keys (``auc``, ``rejection_at_30``, ...) are
the signal class against all others, and ``per_background`` {class: {rejection_at_30, ...}} gives
the rejection of each background class alone at the same signal efficiencies (score p_signal).
* :func:`paired_gain`: distilled-vs-scratch differences with a paired bootstrap over the same test
  jets (stratified by class, fixed seed) and the spread over training seeds;
  :func:`paired_accuracy_gain` the same for the accuracy of any number of classes.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

REQUIRED_KEYS = ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test")
CL = 0.6827          # confidence level of every interval: one standard deviation
FEW_PASSING = 10     # below this many background jets passing, a rejection is flagged as low-statistics


def _binary(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} differ in shape")
    check_finite(scores, "scores")
    if labels.all() or not labels.any():
        raise ValueError("ROC needs both signal and background jets")
    return labels, scores


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

    ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``; the first threshold is +inf.
    """
    from sklearn.metrics import roc_curve as sk_roc_curve

    labels, scores = _binary(labels, scores)
    fpr, tpr, thr = sk_roc_curve(labels, scores, drop_intermediate=False)
    thr = np.asarray(thr, dtype=np.float64)
    thr[0] = np.inf
    return fpr, tpr, thr


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: sklearn's ``roc_auc_score``."""
    from sklearn.metrics import roc_auc_score

    labels, scores = _binary(labels, scores)
    return float(roc_auc_score(labels, scores))


def auc_delong(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(AUC, standard error) by DeLong, DeLong & Clarke-Pearson (1988), with midranks for ties."""
    from scipy.stats import rankdata

    labels, scores = _binary(labels, scores)
    pos, neg = scores[labels], scores[~labels]
    m, n = pos.size, neg.size
    r_all = rankdata(np.r_[pos, neg])
    v10 = (r_all[:m] - rankdata(pos)) / n          # per signal jet: fraction of background below it
    v01 = 1.0 - (r_all[m:] - rankdata(neg)) / m    # per background jet: fraction of signal above it
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    return float(v10.mean()), float(np.sqrt(var))


def _eps_b_at(fpr: np.ndarray, tpr: np.ndarray, signal_efficiency: float) -> float:
    tpr_u, idx = np.unique(tpr, return_index=True)  # tpr is non-decreasing
    return float(np.interp(signal_efficiency, tpr_u, fpr[idx]))


def rejection_at(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float) -> tuple[float, bool]:
    """Background rejection 1/eps_B at the given signal efficiency; (value, saturated)."""
    fpr, tpr, _ = roc_curve(labels, scores)
    n_bkg = int(np.sum(~np.asarray(labels).astype(bool)))
    eps_b = _eps_b_at(fpr, tpr, signal_efficiency)
    if eps_b <= 0.0:
        return float(n_bkg), True
    return 1.0 / eps_b, False


def clopper_pearson(k: int, n: int, cl: float = CL) -> tuple[float, float]:
    """Central Clopper-Pearson interval [low, high] on a binomial fraction with k of n passing."""
    from scipy.stats import beta

    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"binomial interval needs 0 <= k <= n, n > 0 (got k={k}, n={n})")
    a = (1.0 - cl) / 2.0
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1.0 - a, k + 1, n - k))
    return low, high


def rejection_interval(n_passing: int, n_background: int, cl: float = CL) -> list[float | None]:
    """[low, high] on 1/eps_B from Clopper-Pearson on eps_B; high is None (no upper bound) when k = 0."""
    low_eps, high_eps = clopper_pearson(n_passing, n_background, cl)
    return [1.0 / high_eps, None if low_eps <= 0.0 else 1.0 / low_eps]


def rejection_with_interval(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float) -> dict[str, Any]:
    """Rejection, saturation flag, background jets passing and the 68 % interval, at one eps_S."""
    labels, scores = _binary(labels, scores)
    fpr, tpr, _ = roc_curve(labels, scores)
    n_bkg = int(np.sum(~labels))
    eps_b = _eps_b_at(fpr, tpr, signal_efficiency)
    k = int(round(eps_b * n_bkg))
    return {
        "rejection": float(n_bkg) if eps_b <= 0.0 else 1.0 / eps_b,
        "saturated": eps_b <= 0.0,
        "n_passing": k,
        "interval": rejection_interval(k, n_bkg),
    }


def signal_score(probs: np.ndarray, signal: int = 1) -> np.ndarray:
    """The binary discriminant from class probabilities (n,) or (n, C): p_signal."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        return probs
    return probs[:, signal]


def signal_index(classes: Sequence[str], signal: str | int | None = None, where: str = "data") -> int:
    """The index of the signal class: ``signal`` by name (or index), by default the last class (class 1
    of two). FpgatagError naming ``where`` and the known classes for an unknown name."""
    classes = list(classes)
    if signal is None:
        return max(len(classes) - 1, 1) if len(classes) != 1 else 0
    if isinstance(signal, (int, np.integer)) and 0 <= int(signal) < len(classes):
        return int(signal)
    if str(signal) in classes:
        return classes.index(str(signal))
    from fpgatag.core.errors import FpgatagError

    raise FpgatagError(f"{where}: signal class {signal!r} is not one of its classes ({', '.join(map(str, classes))})")


def accuracy_with_error(labels: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(accuracy, binomial standard error sqrt(a (1 - a) / N))."""
    hit = np.asarray(pred).ravel() == np.asarray(labels).ravel()
    a = float(np.mean(hit))
    return a, float(np.sqrt(a * (1.0 - a) / hit.size))


def confusion_counts(labels: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(labels).astype(int).ravel(), np.asarray(pred).astype(int).ravel()), 1)
    return out


def per_class_auc(labels: np.ndarray, probs: np.ndarray, classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{class: {auc, auc_err, n}}: the one-vs-rest AUC of p_class with its DeLong standard error
    (``auc`` None where the test split holds no jet of that class, or only such jets)."""
    labels = np.asarray(labels).astype(int).ravel()
    out = {}
    for c, name in enumerate(classes):
        is_c = labels == c
        n = int(is_c.sum())
        if 0 < n < labels.size:
            a, err = auc_delong(is_c, probs[:, c])
            out[str(name)] = {"auc": a, "auc_err": err, "n": n}
        else:
            out[str(name)] = {"auc": None, "auc_err": None, "n": n}
    return out


def per_background_rejection(labels: np.ndarray, score: np.ndarray, signal: int,
                             classes: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{background class: rejection of its jets alone at eps_S = 0.3 and 0.5 (signal score ``score``),
    with the interval, the jets passing, saturation and n} for every class but ``signal``."""
    labels = np.asarray(labels).astype(int).ravel()
    out: dict[str, dict[str, Any]] = {}
    for c, name in enumerate(classes):
        keep = (labels == c) | (labels == signal)
        if c == signal or not (labels == c).any() or not (labels == signal).any():
            continue
        rec: dict[str, Any] = {"n": int((labels == c).sum())}
        for eff, tag in ((0.3, "30"), (0.5, "50")):
            r = rejection_with_interval(labels[keep] == signal, score[keep], eff)
            rec.update({f"rejection_at_{tag}": r["rejection"], f"rejection_at_{tag}_saturated": r["saturated"],
                        f"n_background_passing_{tag}": r["n_passing"], f"rejection_at_{tag}_interval": r["interval"]})
        out[str(name)] = rec
    return out


def multiclass_metrics(labels: np.ndarray, probs: np.ndarray, signal: int,
                       classes: Sequence[str] | None = None) -> dict[str, Any]:
    """``accuracy_err``, ``per_class``, ``confusion`` (and for C > 2 ``per_background``) of (n, C) probabilities."""
    labels = np.asarray(labels).astype(int).ravel()
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 1:
        probs = np.stack([1.0 - probs, probs], axis=1)
    n_classes = probs.shape[1]
    names = [str(c) for c in classes] if classes is not None else [str(c) for c in range(n_classes)]
    if len(names) != n_classes:
        raise ValueError(f"{len(names)} class names for {n_classes} outputs")
    pred = probs.argmax(axis=1)
    out: dict[str, Any] = {"accuracy_err": accuracy_with_error(labels, pred)[1],
                           "per_class": per_class_auc(labels, probs, names),
                           "confusion": {"classes": names, "rows": "true class", "columns": "predicted class (argmax)",
                                         "counts": confusion_counts(labels, pred, n_classes).tolist()}}
    if n_classes > 2:
        out["per_background"] = per_background_rejection(labels, probs[:, signal], signal, names)
    return out


def classification_metrics(labels: np.ndarray, probs: np.ndarray, signal: int = 1,
                           classes: Sequence[str] | None = None) -> dict[str, Any]:
    """The standard metric set for a classifier's outputs on a test split, with uncertainties.

    ``probs`` is (n,) signal probability or (n, C) class probabilities; ``labels`` are class
    indices; ``classes`` their names (the keys of ``per_class``). For C > 2 the ROC figures are
    signal-vs-rest, and ``per_background`` holds each background class's own rejection.
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
    out: dict[str, Any] = {
        "accuracy": float(np.mean(pred == labels)),
        "auc": auc(is_sig, score),
        "auc_err": auc_delong(is_sig, score)[1],
        "n_test": int(labels.size),
        "n_signal": int(is_sig.sum()),
        "n_background": int((~is_sig).sum()),
    }
    for eff, tag in ((0.3, "30"), (0.5, "50")):
        r = rejection_with_interval(is_sig, score, eff)
        out[f"rejection_at_{tag}"] = r["rejection"]
        out[f"rejection_at_{tag}_saturated"] = r["saturated"]
        out[f"n_background_passing_{tag}"] = r["n_passing"]
        out[f"rejection_at_{tag}_interval"] = r["interval"]
    if probs.ndim == 1 or probs.shape[1] >= 2:
        out.update(multiclass_metrics(labels, probs, signal, classes))
    return out


def _g(v: float) -> str:
    return format(v, ".3g") if abs(v) < 1e4 else format(v, ".0f")


def format_auc(m: dict[str, Any]) -> str:
    """``0.9641 +- 0.0021`` from a metrics dict (``auc`` alone where ``auc_err`` is missing)."""
    if m.get("auc") is None:
        return ""
    err = m.get("auc_err")
    return f"{m['auc']:.4f}" + ("" if err is None else f" +- {err:.4f}")


def format_rejection(m: dict[str, Any], tag: str) -> str:
    """A rejection with its 68 % interval and, below 10 background jets passing, how many pass.

    ``57.6 [49.1, 68.4]``; ``143 [52.4, 734] (1 bkg jet passes)``; ``> 166 (no bkg jet passes of 303)``.
    """
    value = m.get(f"rejection_at_{tag}")
    if value is None:
        return ""
    interval = m.get(f"rejection_at_{tag}_interval")
    k = m.get(f"n_background_passing_{tag}")
    if m.get(f"rejection_at_{tag}_saturated"):
        low = interval[0] if interval else None
        bound = f"> {_g(low)}" if low is not None else f">= {_g(value)}"
        return f"{bound} (68% lower bound; no bkg jet passes of {m.get('n_background', int(value))})"
    text = _g(value)
    if interval:
        # no upper bound where eps_B rounds to no background jet passing
        text += f" [{_g(interval[0])}, {'inf' if interval[1] is None else _g(interval[1])}]"
    if k is not None and k < FEW_PASSING:
        text += f" ({k} bkg jet{'s' if k != 1 else ''} pass{'es' if k == 1 else ''}: <{FEW_PASSING})"
    return text


def bootstrap_indices(labels: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) resampled indices, stratified by class so every resample has both classes."""
    labels = np.asarray(labels).astype(bool).ravel()
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels), np.flatnonzero(~labels)]
    return np.concatenate([g[rng.integers(0, g.size, size=(n_boot, g.size))] for g in groups], axis=1)


def _roc_fast(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eps_B, eps_S) as sklearn's ``roc_curve(drop_intermediate=False)``, without its input checks.

    Used inside the bootstrap loops, where sklearn's per-call validation dominates the run time.
    """
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[ends].astype(np.float64)
    fps = ends + 1 - tps
    return np.r_[0.0, fps / fps[-1]], np.r_[0.0, tps / tps[-1]]


def _figures(labels: np.ndarray, scores: Sequence[np.ndarray], eff: float) -> tuple[float, float]:
    """Seed-averaged (AUC, rejection at eff) of several models' scores on the same jets."""
    a, r = [], []
    for s in scores:
        fpr, tpr = _roc_fast(labels, s)
        a.append(np.trapz(tpr, fpr))
        eps_b = _eps_b_at(fpr, tpr, eff)
        r.append(float(np.sum(~labels)) if eps_b <= 0 else 1.0 / eps_b)
    return float(np.mean(a)), float(np.mean(r))


def paired_gain(labels: np.ndarray, distilled: Sequence[np.ndarray], scratch: Sequence[np.ndarray],
                teacher: np.ndarray | None = None, signal_efficiency: float = 0.5,
                n_boot: int = 200, seed: int = 12345) -> dict[str, Any]:
    """Distilled-vs-scratch gain on the same test jets, with its uncertainties.

    ``distilled`` and ``scratch`` are lists of signal scores (one per training seed) on the jets of
    ``labels`` (same order). Figures are seed averages: AUC difference, rejection ratio - 1 and, with
    a ``teacher`` score, the fraction of the scratch-to-teacher rejection gap closed. Each gets
    ``*_err_jets`` (std of a paired bootstrap: the same resampled jets for every model, stratified by
    class, fixed ``seed``) and, with >= 2 seeds of both kinds, ``*_err_seeds`` (the standard error of
    the seed means, propagated) and ``*_err`` (both in quadrature).
    """
    labels = np.asarray(labels).astype(bool).ravel()
    distilled, scratch = [np.asarray(s, float) for s in distilled], [np.asarray(s, float) for s in scratch]
    if not distilled or not scratch:
        raise ValueError("paired_gain needs at least one distilled and one scratch score")
    teacher = None if teacher is None else np.asarray(teacher, float)

    def gains(idx: np.ndarray | slice) -> np.ndarray:
        y = labels[idx]
        ad, rd = _figures(y, [s[idx] for s in distilled], signal_efficiency)
        as_, rs = _figures(y, [s[idx] for s in scratch], signal_efficiency)
        out = [ad - as_, rd / rs - 1.0]
        if teacher is not None:
            rt = _figures(y, [teacher[idx]], signal_efficiency)[1]
            out.append((rd - rs) / (rt - rs) if rt > rs else np.nan)  # no gap: undefined
        return np.asarray(out)

    central = gains(slice(None))
    boot = np.array([gains(i) for i in bootstrap_indices(labels, n_boot, seed)])
    names = ["auc_gain", "rejection_gain"] + (["gap_closed"] if teacher is not None else [])
    tag = f"{int(round(100 * signal_efficiency))}"
    per_d = np.array([_figures(labels, [s], signal_efficiency) for s in distilled])
    per_s = np.array([_figures(labels, [s], signal_efficiency) for s in scratch])
    out: dict[str, Any] = {"signal_efficiency": signal_efficiency, "n_test": int(labels.size),
                           "n_background": int((~labels).sum()), "n_seeds_distilled": len(distilled),
                           "n_seeds_scratch": len(scratch), "n_boot": n_boot, "bootstrap_seed": seed,
                           "auc_distilled": float(per_d[:, 0].mean()), "auc_scratch": float(per_s[:, 0].mean()),
                           f"rejection_at_{tag}_distilled": float(per_d[:, 1].mean()),
                           f"rejection_at_{tag}_scratch": float(per_s[:, 1].mean())}
    for j, name in enumerate(names):
        out[name] = float(central[j])
        finite = boot[np.isfinite(boot[:, j]), j]
        out[f"{name}_err_jets"] = float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan")
        out[f"{name}_err"] = out[f"{name}_err_jets"]
    if len(distilled) >= 2 and len(scratch) >= 2:
        se = lambda v: float(np.std(v, ddof=1) / np.sqrt(len(v)))  # noqa: E731
        out["auc_gain_err_seeds"] = float(np.hypot(se(per_d[:, 0]), se(per_s[:, 0])))
        rd, rs = per_d[:, 1].mean(), per_s[:, 1].mean()
        out["rejection_gain_err_seeds"] = float((rd / rs) * np.hypot(se(per_d[:, 1]) / rd, se(per_s[:, 1]) / rs))
        for name in ("auc_gain", "rejection_gain"):
            out[f"{name}_err"] = float(np.hypot(out[f"{name}_err_jets"], out[f"{name}_err_seeds"]))
        out["auc_gain_per_seed"] = [float(a - b) for a, b in zip(per_d[:, 0], per_s[:, 0])]
    if teacher is not None and not np.isfinite(out["gap_closed"]):
        for key in ("gap_closed", "gap_closed_err_jets", "gap_closed_err"):
            out.pop(key)
        out["gap_closed_undefined"] = "the teacher's rejection is not above the scratch students'"
    for name in ("auc_gain", "rejection_gain"):
        out[f"{name}_significant"] = bool(out[name] > 0 and out[name] > out[f"{name}_err"])
    return out


def class_bootstrap_indices(labels: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) resampled indices, stratified by every class present (any number of classes)."""
    labels = np.asarray(labels).ravel()
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    return np.concatenate([g[rng.integers(0, g.size, size=(n_boot, g.size))] for g in groups], axis=1)


def paired_accuracy_gain(labels: np.ndarray, distilled: Sequence[np.ndarray], scratch: Sequence[np.ndarray],
                         n_boot: int = 1000, seed: int = 12345) -> dict[str, Any]:
    """Accuracy of distilled minus scratch students (any number of classes) on the same test jets.

    ``distilled`` and ``scratch`` are lists (one per training seed) of predicted classes, or of
    (n, C) probabilities, on the jets of ``labels`` (same order). The gain is the difference of the
    seed-mean accuracies. ``gain_err_jets`` is the std of a paired bootstrap (the same resampled jets
    for every model, stratified by class, fixed ``seed``): jets both kinds get right or wrong cancel,
    so it is far smaller than either accuracy's binomial error. With >= 2 seeds of both kinds,
    ``gain_err_seeds`` is the standard error of the two seed means in quadrature, and ``gain_err``
    both in quadrature (else the jets' alone). ``significant``: the gain is above ``gain_err``.
    """
    labels = np.asarray(labels).ravel()

    def correct(pred: np.ndarray) -> np.ndarray:
        pred = np.asarray(pred)
        pred = pred.argmax(axis=1) if pred.ndim == 2 else pred
        if pred.shape != labels.shape:
            raise ValueError(f"paired_accuracy_gain: {pred.shape[0]} predictions for {labels.size} jets")
        return (pred == labels).astype(np.float64)

    if not distilled or not scratch:
        raise ValueError("paired_accuracy_gain needs at least one distilled and one scratch model")
    cd, cs = np.array([correct(p) for p in distilled]), np.array([correct(p) for p in scratch])
    diff = cd.mean(axis=0) - cs.mean(axis=0)   # per jet: the seed-mean difference of being right
    boot = diff[class_bootstrap_indices(labels, n_boot, seed)].mean(axis=1)
    acc_d, acc_s = cd.mean(axis=1), cs.mean(axis=1)
    out: dict[str, Any] = {"n_test": int(labels.size), "n_seeds_distilled": len(distilled),
                           "n_seeds_scratch": len(scratch), "n_boot": n_boot, "bootstrap_seed": seed,
                           "accuracy_distilled": float(acc_d.mean()), "accuracy_scratch": float(acc_s.mean()),
                           "gain": float(diff.mean()), "gain_err_jets": float(np.std(boot, ddof=1))}
    out["gain_err"] = out["gain_err_jets"]
    if len(distilled) >= 2 and len(scratch) >= 2:
        se = lambda v: float(np.std(v, ddof=1) / np.sqrt(v.size))  # noqa: E731
        out["gain_err_seeds"] = float(np.hypot(se(acc_d), se(acc_s)))
        out["gain_err"] = float(np.hypot(out["gain_err_jets"], out["gain_err_seeds"]))
    if len(distilled) == len(scratch):
        out["gain_per_seed"] = [float(a - b) for a, b in zip(acc_d, acc_s)]
    out["significant"] = bool(out["gain"] > 0 and out["gain"] > out["gain_err"])
    return out


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
