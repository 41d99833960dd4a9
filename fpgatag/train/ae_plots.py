"""The autoencoder's plots: residual distributions, reconstruction error per class, loss curves.

Every panel states its sample size; the residual panels also the mean and RMS with their errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fpgatag.core.io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    _plt().close(fig)
    return Path(path)


def plot_residuals(path: str | Path, original: np.ndarray, reconstructed: np.ndarray, variables: Sequence[str],
                   mask: np.ndarray | None = None, title: str = "") -> Path:
    """One histogram of (reco - orig) / orig per variable, over its central 98 %."""
    from fpgatag.train.ae_metrics import relative_residuals, summarize

    plt = _plt()
    res, _ = relative_residuals(original, reconstructed, mask)
    k = len(variables)
    fig, axes = plt.subplots(1, k, figsize=(3.4 * k, 3.2), dpi=110, squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], variables)):
        v = res[..., i].ravel()
        v = v[np.isfinite(v)]
        s = summarize(v)
        if v.size:
            lo, hi = np.percentile(v, [1, 99])
            half = max(abs(lo), abs(hi), 1e-6)
            inside = np.abs(v) <= half
            ax.hist(v[inside], bins=60, range=(-half, half), histtype="stepfilled", alpha=0.7)
            text = (f"N = {s['n']}\nmean = {s['mean']:.3g} ± {s['mean_err']:.2g}\nRMS = {s['rms']:.3g} ± {s['rms_err']:.2g}"
                    f"\n68% half-width = {s['central68_half_width']:.3g}\n{np.sum(~inside)} outside the range")
            ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=7)
        ax.set_xlabel(f"({name}_reco - {name}) / {name}")
        ax.set_ylabel("values")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_anomaly(path: str | Path, error: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                 anomaly: dict[str, Any]) -> Path:
    """Reconstruction-error distributions of each class (log x), with the AUC and its error."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=110)
    err = np.maximum(np.asarray(error, dtype=np.float64), 1e-12)
    bins = np.logspace(np.log10(err.min()), np.log10(err.max()) + 1e-9, 50)
    for c in np.unique(labels):
        sel = labels == c
        ax.hist(err[sel], bins=bins, histtype="step", density=True, label=f"{classes[c]} (N = {int(sel.sum())})")
    ax.set_xscale("log")
    ax.set_xlabel("reconstruction error (MSE, normalised inputs)")
    ax.set_ylabel("density")
    trained = classes[anomaly["trained_on_class"]]
    ax.set_title(f"trained on {trained}: AUC = {anomaly['auc']:.3f} ± {anomaly['auc_err']:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def plot_loss(path: str | Path, history: dict[str, list[float]], n_train: int, n_val: int) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.0, 3.8), dpi=110)
    for key, label in (("loss", f"train (N = {n_train})"), ("val_loss", f"validation (N = {n_val})")):
        if history.get(key):
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("reconstruction loss (MSE)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
