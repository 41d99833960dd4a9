"""Plots for reports (matplotlib, Agg backend). Each function writes one PNG and returns its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fpgatag.core.io import atomic_path
from fpgatag.core.metrics import auc_delong, roc_curve, signal_score


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return path


def roc_plot(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path, signal: int = 1) -> Path:
    """Background rejection 1/eps_B against signal efficiency (log y), one curve per (label, y, probs).

    Each legend entry carries the AUC with its DeLong standard error and the number of test jets.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, y, probs in curves:
        is_sig, score = np.asarray(y) == signal, signal_score(probs, signal)
        fpr, tpr, _ = roc_curve(is_sig, score)
        a, err = auc_delong(is_sig, score)
        ok = fpr > 0
        ax.plot(tpr[ok], 1.0 / fpr[ok], label=f"{label} (AUC {a:.4f} +- {err:.4f}, N = {is_sig.size})")
    ax.set_yscale("log")
    ax.set_xlabel("signal efficiency $\\epsilon_S$")
    ax.set_ylabel("background rejection $1/\\epsilon_B$")
    ax.set_xlim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, Path(path))


def pareto_front(cost: np.ndarray, merit: np.ndarray) -> np.ndarray:
    """Indices of points not dominated (lower cost and higher merit), sorted by cost."""
    order = np.lexsort((-merit, cost))
    front, best = [], -np.inf
    for i in order:
        if merit[i] > best:
            front.append(i)
            best = merit[i]
    return np.asarray(front, dtype=int)


def tradeoff_plot(points: Sequence[dict[str, Any]], path: str | Path, merit: str = "rejection_at_50") -> Path:
    """Merit against LUT, DSP and latency (one panel each), Pareto front marked.

    ``points``: dicts with ``name``, ``lut``, ``dsp``, ``latency_ns`` and the merit key; an optional
    ``interval`` ([low, high], high None for a lower bound) is drawn as an error bar, and ``n_test``
    goes into the title.
    """
    plt = _plt()
    costs = (("lut", "LUT"), ("dsp", "DSP"), ("latency_ns", "latency [ns]"))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    m = np.array([p[merit] for p in points], dtype=float)
    for ax, (key, label) in zip(axes, costs):
        c = np.array([p[key] for p in points], dtype=float)
        ax.scatter(c, m, s=25, zorder=3)
        for p, ci, mi in zip(points, c, m):
            low, high = (p.get("interval") or [None, None])[:2]
            if low is not None:
                ax.plot([ci, ci], [low, mi if high is None else high], color="tab:blue", lw=0.8, alpha=0.6)
                if high is None:  # no background jet passes: a lower bound only
                    ax.scatter([ci], [mi], marker="^", color="tab:blue", zorder=4)
        for p, ci, mi in zip(points, c, m):
            ax.annotate(p["name"], (ci, mi), fontsize=6, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(c, m)
        ax.step(c[front], m[front], where="post", color="tab:red", lw=1, label="Pareto front")
        ax.set_xlabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel(merit.replace("_", " ") + " (68 % interval)")
    n_test = sorted({p["n_test"] for p in points if p.get("n_test")})
    if n_test:
        fig.suptitle(f"test jets: {', '.join(map(str, n_test))}", fontsize=9)
    axes[0].legend(fontsize=8)
    return _save(fig, Path(path))


def layer_bars(layers: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Per-layer resource bars (LUT, DSP, FF, BRAM18) and latency cycles, from estimate.json rows."""
    plt = _plt()
    keys = [k for k in ("lut", "ff", "dsp", "bram18", "latency_cycles") if any(k in l for l in layers)]
    names = [str(l.get("name", i)) for i, l in enumerate(layers)]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 0.35 * len(names) + 1.6), sharey=True)
    axes = np.atleast_1d(axes)
    y = np.arange(len(names))
    for ax, key in zip(axes, keys):
        ax.barh(y, [float(l.get(key, 0) or 0) for l in layers], color="tab:blue")
        ax.set_title(key, fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(y, names, fontsize=7)
    axes[0].invert_yaxis()
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, Path(path))


def distributions_plot(panels: Sequence[tuple[str, dict[str, dict[str, np.ndarray]]]], path: str | Path) -> Path:
    """Per-class histograms comparing views. ``panels``: (title, {class: {view: values}})."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6))
    axes = np.atleast_1d(axes)
    styles = {0: "-", 1: "--"}
    for ax, (title, by_class) in zip(axes, panels):
        allv = np.concatenate([v for views in by_class.values() for v in views.values()])
        bins = np.histogram_bin_edges(allv[np.isfinite(allv)], bins=40)
        for ci, (cls, views) in enumerate(by_class.items()):
            for vi, (view, values) in enumerate(views.items()):
                ax.hist(values, bins=bins, histtype="step", density=True, ls=styles.get(vi, ":"),
                        color=f"C{ci}", label=f"{cls}, {view}")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    return _save(fig, Path(path))
