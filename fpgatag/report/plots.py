"""Plots for reports, in the field's style (mplhep): each function writes a PNG and a PDF beside it
and returns the PNG's path.

Every plot carries a "Simulation" label, the centre-of-mass energy and the jet selection of the
sample it was made from (``sample``: see :func:`sample_label`), its sample size and its
uncertainties: the ROC curves a 68 % Clopper-Pearson band on eps_B, the rejections their 68 %
intervals, fpgatag's resource estimates the estimator's out-of-sample error, histograms their
Poisson errors.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from fpgatag.core.io import atomic_path
from fpgatag.core.labels import axis_label, label
from fpgatag.core.metrics import CL, auc_delong, roc_curve, signal_score

# Level-1 trigger budgets drawn on the trade-off plot: a tagger's share of one FPGA, and its latency
LUT_BUDGET_PERCENT = 5.0
LATENCY_BUDGET_NS = 50.0
# fpgatag's own estimator against Vitis HLS C-synthesis, out of sample (median relative error;
# bench/results/estimator.md, "Vitis out of sample"): the uncertainty of an estimated resource figure
ESTIMATE_REL_ERROR = {"lut%": 0.17, "dsp%": 0.05, "latency_ns": 0.08}

# centre-of-mass energy and jet selection of the public datasets fpgatag reads
_DATASETS = {
    "Top Quark Tagging Reference Dataset": (14.0, r"anti-$k_T$ R = 0.8, 550 < $p_T$ < 650 GeV, $|\eta|$ < 2"),
    "hls4ml LHC jet dataset": (13.0, r"anti-$k_T$ R = 0.8, $p_T \approx$ 1 TeV"),
    "JetClass": (13.0, r"anti-$k_T$ R = 0.8, 500 < $p_T$ < 1000 GeV, $|\eta|$ < 2"),
}


@dataclasses.dataclass(frozen=True)
class Sample:
    """What a plot's label says about its jets: centre-of-mass energy [TeV] and selection."""

    com_tev: float | None = None
    selection: str = ""


def sample_label(attrs: dict[str, Any] | None) -> Sample:
    """The :class:`Sample` of a jet file from its attributes (``JetSource.attrs``)."""
    attrs = attrs or {}
    gen = attrs.get("generator")
    if isinstance(gen, dict) and "ecm" in gen:
        sel = (f"Pythia 8, anti-$k_T$ R = {gen.get('jet_r', '?')}, {gen.get('pt_min', '?'):g} < $p_T$ < "
               f"{gen.get('pt_max', '?'):g} GeV, $|\\eta|$ < {gen.get('eta_max', '?'):g}")
        return Sample(float(gen["ecm"]) / 1000.0, sel)
    dataset = str(attrs.get("dataset", ""))
    for name, (com, sel) in _DATASETS.items():
        if dataset.startswith(name):
            return Sample(com, f"{name}: {sel}")
    return Sample(None, dataset)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def _style() -> Iterator[None]:
    import mplhep

    plt = _plt()
    with plt.style.context(mplhep.style.CMS), plt.rc_context({"font.size": 14, "legend.fontsize": 10,
                                                             "figure.figsize": (8, 6.5)}):
        yield


def _com(sample: Sample | None) -> str:
    return "" if sample is None or sample.com_tev is None else f"\u221as = {sample.com_tev:g} TeV"


def _label(ax, sample: Sample | None, loc: int = 0, com: bool = True) -> None:
    """The "Simulation" label (top left) and sqrt(s) (top right, unless ``com`` is False) on ``ax``."""
    import mplhep

    rlabel = _com(sample) if com else ""
    mplhep.label.exp_label(exp="fpgatag", data=False, rlabel=rlabel, loc=loc, ax=ax, fontsize=13)


def _save(fig, path: Path) -> Path:
    """``path`` (PNG) and the same figure as PDF beside it."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    with atomic_path(path.with_suffix(".pdf")) as tmp:
        fig.savefig(tmp, bbox_inches="tight", format="pdf")
    _plt().close(fig)
    return path


def rejection_band(fpr: np.ndarray, n_background: int, cl: float = CL) -> tuple[np.ndarray, np.ndarray]:
    """The Clopper-Pearson interval of 1/eps_B at each point of a ROC curve: (low, high)."""
    from scipy.stats import beta

    k = np.rint(np.asarray(fpr) * n_background)
    alpha = 1 - cl
    lo = np.where(k > 0, beta.ppf(alpha / 2, np.maximum(k, 1), n_background - k + 1), 0.0)
    hi = np.where(k < n_background, beta.ppf(1 - alpha / 2, k + 1, np.maximum(n_background - k, 1)), 1.0)
    with np.errstate(divide="ignore"):
        return 1.0 / hi, np.where(lo > 0, 1.0 / lo, np.inf)


def roc_plot(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path, signal: int = 1,
             sample: Sample | None = None, max_bands: int = 4) -> Path:
    """Background rejection 1/eps_B against signal efficiency (log y), one curve per (label, y, probs).

    Each legend entry carries the AUC with its DeLong standard error and the number of test jets;
    with up to ``max_bands`` curves each has a band, the 68 % Clopper-Pearson interval on eps_B.
    """
    plt = _plt()
    bands = len(curves) <= max_bands
    colors = plt.get_cmap("tab20" if len(curves) > 10 else "tab10").colors
    with _style():
        fig, ax = plt.subplots()
        for i, (name, y, probs) in enumerate(curves):
            is_sig, score = np.asarray(y) == signal, signal_score(probs, signal)
            fpr, tpr, _ = roc_curve(is_sig, score)
            a, err = auc_delong(is_sig, score)
            n_bkg = int(np.sum(~is_sig))
            ok = fpr > 0
            color = colors[i % len(colors)]
            ax.plot(tpr[ok], 1.0 / fpr[ok], color=color, lw=1.6, ls="-" if i < len(colors) else "--",
                    label=f"{name}: {label('auc')} {a:.4f} $\\pm$ {err:.4f}, N = {is_sig.size}")
            if bands:
                low, high = rejection_band(fpr[ok], n_bkg)
                ax.fill_between(tpr[ok], low, np.minimum(high, n_bkg), color=color, alpha=0.2, lw=0, step="post")
        for eps in (0.3, 0.5):
            ax.axvline(eps, color="grey", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xlabel(axis_label("signal_efficiency"))
        ax.set_ylabel(axis_label("rejection"))
        ax.set_xlim(0, 1)
        ax.grid(True, which="major", alpha=0.3)
        where = dict(loc="upper right") if len(curves) <= 6 else dict(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        ax.legend(title=(sample.selection if sample else None) or None, title_fontsize=9, fontsize=9, frameon=False,
                  **where)
        note = ("bands: 68 % Clopper-Pearson interval on $\\epsilon_B$" if bands else
                f"uncertainty: AUC $\\pm$ DeLong sd in the legend (bands drawn for up to {max_bands} curves)")
        ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=9)
        _label(ax, sample)
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


def _merit_errors(points: Sequence[dict[str, Any]], m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Asymmetric y error bars from each point's ``interval`` (a missing upper end: drawn as zero)."""
    lo, hi = np.zeros_like(m), np.zeros_like(m)
    for i, p in enumerate(points):
        low, high = (p.get("interval") or [None, None])[:2]
        if low is not None:
            lo[i] = max(m[i] - low, 0.0)
        if high is not None:
            hi[i] = max(high - m[i], 0.0)
    return lo, hi


def tradeoff_plot(points: Sequence[dict[str, Any]], path: str | Path, merit: str = "rejection_at_50",
                  sample: Sample | None = None) -> Path:
    """Merit against LUT and DSP as % of the part and against latency, Pareto front marked.

    ``points``: dicts with ``name``, ``lut%``, ``dsp%``, ``latency_ns``, the merit key, and optionally
    ``interval`` ([low, high] of the merit, high None for a lower bound), ``source`` (``estimate``:
    fpgatag's estimator, drawn with its out-of-sample error) and ``n_test``. The Level-1 budgets
    (5 % of the LUTs, 50 ns) are drawn as dashed lines.
    """
    plt = _plt()
    costs = ("lut%", "dsp%", "latency_ns")
    budgets = {"lut%": LUT_BUDGET_PERCENT, "latency_ns": LATENCY_BUDGET_NS}
    m = np.array([p[merit] for p in points], dtype=float)
    yerr = np.vstack(_merit_errors(points, m))
    with _style():
        fig, axes = plt.subplots(1, 3, figsize=(18, 6.5), sharey=True)
        for ax, key in zip(axes, costs):
            c = np.array([p[key] for p in points], dtype=float)
            xerr = np.array([ESTIMATE_REL_ERROR[key] * ci if p.get("source") == "estimate" else 0.0
                             for p, ci in zip(points, c)])
            ax.errorbar(c, m, yerr=yerr, xerr=xerr, fmt="o", ms=6, color="C0", capsize=2, zorder=3, label="runs")
            for p, ci, mi in zip(points, c, m):
                ax.annotate(p["name"], (ci, mi), fontsize=8, xytext=(4, 4), textcoords="offset points")
            front = pareto_front(c, m)
            ax.plot(c[front], m[front], "s", ms=12, mfc="none", mec="C3", mew=1.5, zorder=4, label="Pareto front")
            if len(front) > 1:
                ax.step(c[front], m[front], where="post", color="C3", lw=1.2, zorder=2)
            if key in budgets:
                ax.axvline(budgets[key], color="C1", ls="--", lw=1.5,
                           label=f"L1 budget: {budgets[key]:g}{' %' if key.endswith('%') else ' ns'}")
            hi_x = max([budgets.get(key, 0.0), *(c + xerr)]) * 1.15
            ax.set_xlim(0, hi_x if hi_x > 0 else 1)
            ax.set_xlabel(axis_label(key))
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=9, loc="lower right", frameon=False)
        axes[0].set_ylabel(axis_label(merit) + " (68 % interval)")
        axes[0].set_ylim(bottom=0)
        _label(axes[0], sample)
        n_test = sorted({p["n_test"] for p in points if p.get("n_test")})
        notes = [sample.selection] if sample and sample.selection else []
        if n_test:
            notes.append(f"N test = {', '.join(map(str, n_test))}")
        if any(p.get("source") == "estimate" for p in points):
            notes.append("x error: fpgatag estimator's out-of-sample error")
        if notes:
            axes[1].set_title("; ".join(notes), fontsize=10, loc="left")
        return _save(fig, Path(path))


def layer_name(layer: dict[str, Any], index: int) -> str:
    """A per-layer row's name (estimate.json says ``layer``; other sources ``name``)."""
    return str(layer.get("layer") or layer.get("name") or index)


def layer_bars(layers: Sequence[dict[str, Any]], path: str | Path, title: str = "",
               sample: Sample | None = None, estimated: bool = True) -> Path:
    """Per-layer resource bars (LUT, DSP, FF, BRAM18) and latency cycles, from estimate.json rows
    (``estimated``: made by fpgatag's estimator, whose out-of-sample error the plot states)."""
    plt = _plt()
    keys = [k for k in ("lut", "ff", "dsp", "bram18", "latency_cycles") if any(row.get(k) for row in layers)]
    names = [layer_name(row, i) for i, row in enumerate(layers)]
    with _style():
        fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 0.42 * len(names) + 2.4), sharey=True)
        axes = np.atleast_1d(axes)
        y = np.arange(len(names))
        for ax, key in zip(axes, keys):
            ax.barh(y, [float(row.get(key, 0) or 0) for row in layers], color="C0")
            ax.set_xlabel(label(key), fontsize=12)
            ax.grid(True, axis="x", alpha=0.3)
            ax.tick_params(axis="x", labelsize=9)
        axes[0].set_yticks(y, names, fontsize=9)
        axes[0].invert_yaxis()
        heading = "; ".join(t for t in (title, _com(sample), sample.selection if sample else "") if t)
        if heading:
            fig.suptitle(heading, fontsize=12, y=1.02)
        if estimated:
            err = ", ".join(f"{label(k).split()[0]} {100 * v:.0f} %" for k, v in ESTIMATE_REL_ERROR.items())
            fig.text(0.01, -0.06, f"fpgatag's estimate per layer (out-of-sample error of the totals: {err})", fontsize=9)
        _label(axes[0], sample, com=False)
        return _save(fig, Path(path))


def distributions_plot(panels: Sequence[tuple[str, dict[str, dict[str, np.ndarray]]]], path: str | Path,
                       sample: Sample | None = None) -> Path:
    """Per-class normalised histograms comparing views, with Poisson errors. ``panels``: (x label, {class: {view: values}})."""
    import mplhep

    plt = _plt()
    with _style():
        fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels), 6.5))
        axes = np.atleast_1d(axes)
        styles = {0: "-", 1: "--"}
        for ax, (xlabel, by_class) in zip(axes, panels):
            allv = np.concatenate([v for views in by_class.values() for v in views.values()])
            bins = np.histogram_bin_edges(allv[np.isfinite(allv)], bins=40)
            for ci, (cls, views) in enumerate(by_class.items()):
                for vi, (view, values) in enumerate(views.items()):
                    values = np.asarray(values)[np.isfinite(values)]
                    counts, _ = np.histogram(values, bins)
                    norm = max(values.size, 1) * np.diff(bins)
                    mplhep.histplot(counts / norm, bins, yerr=np.sqrt(counts) / norm, ax=ax, histtype="step",
                                    ls=styles.get(vi, ":"), color=f"C{ci}", label=f"{cls}, {view} (N = {values.size})")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("fraction of jets / bin width")
            ax.legend(fontsize=9, title=(sample.selection if sample else None) or None, title_fontsize=8, frameon=False)
            _label(ax, sample)
        return _save(fig, Path(path))


def confusion_plot(counts: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, name: str = "",
                   sample: Sample | None = None) -> Path:
    """The confusion matrix, row-normalised (each true class sums to 1), with each cell's count and its
    binomial sd; the title gives the test jets of every class (N)."""
    plt = _plt()
    counts = np.asarray(counts, dtype=np.int64)
    n_row = counts.sum(axis=1, keepdims=True)
    frac = np.divide(counts, n_row, out=np.zeros(counts.shape), where=n_row > 0)
    err = np.sqrt(np.divide(frac * (1 - frac), n_row, out=np.zeros(counts.shape), where=n_row > 0))
    with _style():
        fig, ax = plt.subplots(figsize=(8, 7))
        im = ax.imshow(frac, cmap="Blues", vmin=0.0, vmax=1.0)
        for i in range(counts.shape[0]):
            for j in range(counts.shape[1]):
                ax.text(j, i, f"{frac[i, j]:.2f}\n$\\pm${err[i, j]:.2f}\n({counts[i, j]})", ha="center", va="center",
                        fontsize=9, color="white" if frac[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), labels=list(classes))
        ax.set_yticks(range(len(classes)), labels=[f"{c} (N {int(n)})" for c, n in zip(classes, n_row.ravel())])
        ax.set_xlabel("predicted class (argmax)")
        ax.set_ylabel("true class")
        ax.minorticks_off()
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
        acc = np.trace(counts) / max(counts.sum(), 1)
        acc_err = np.sqrt(acc * (1 - acc) / max(counts.sum(), 1))
        ax.set_title(f"{name}: accuracy {100 * acc:.1f} $\\pm$ {100 * acc_err:.1f} %, N = {int(counts.sum())}",
                     fontsize=11, pad=28)
        _label(ax, sample)
        return _save(fig, Path(path))
