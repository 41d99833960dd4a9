"""Display names of fpgatag's figures: one vocabulary for tables, plots, reports and logs.

JSON files keep their keys (``rejection_at_50``, ``auc_err``, ...); what a reader sees goes through
:func:`label` (table headers, legends) and :func:`axis_label` (plot axes). The same figure therefore
has the same name in ``fpgatag compare``, ``fpgatag report``, ``fpgatag sweep``, the demo summary and
every plot:

- ``R30``, ``R50``: background rejection 1/eps_B at signal efficiency eps_S = 0.3, 0.5, with its
  68 % Clopper-Pearson interval on eps_B where one is shown;
- ``AUC +- sd``: area under the ROC curve with its DeLong standard error;
- ``N test``, ``N bkg``: test jets, background jets among them.
"""

from __future__ import annotations

from typing import Any, Iterable

from fpgatag.core.metrics import format_table

# key (JSON key or report-row key) -> the name a reader sees
LABELS: dict[str, str] = {
    "accuracy": "accuracy",
    "auc": "AUC",
    "auc_err": "AUC sd",
    "auc +- err": "AUC +- sd",
    "rejection_at_30": "R30",
    "rejection_at_50": "R50",
    "rej@0.3": "R30",
    "rej@0.5": "R50",
    "rej@0.3 [68% CI]": "R30 [68% CI]",
    "rej@0.5 [68% CI]": "R50 [68% CI]",
    "n_test": "N test",
    "n_bkg": "N bkg",
    "n_background": "N bkg",
    "n_bkg_pass@0.3": "N bkg passing (R30 cut)",
    "n_bkg_pass@0.5": "N bkg passing (R50 cut)",
    "n_parameters": "params",
    "params": "params",
    "latency_cycles": "latency [cycles]",
    "latency_ns": "latency [ns]",
    "ii": "II",
    "lut": "LUT",
    "dsp": "DSP",
    "ff": "FF",
    "bram18": "BRAM18",
    "lut%": "LUT %",
    "dsp%": "DSP %",
    "ff%": "FF %",
    "bram18%": "BRAM18 %",
    "bit_exact": "bit-exact",
    "argmax_agree": "argmax agree",
    "auc distilled": "AUC distilled",
    "auc scratch": "AUC scratch",
    "auc gain": "AUC gain",
    "rej@0.3 distilled": "R30 distilled",
    "rej@0.3 scratch": "R30 scratch",
    "rej@0.3 gain": "R30 gain",
    "rej@0.5 distilled": "R50 distilled",
    "rej@0.5 scratch": "R50 scratch",
    "rej@0.5 gain": "R50 gain",
}

# the same figures on a plot axis (matplotlib mathtext)
AXIS_LABELS: dict[str, str] = {
    "rejection_at_30": r"R30 = $1/\epsilon_B$ at $\epsilon_S = 0.3$",
    "rejection_at_50": r"R50 = $1/\epsilon_B$ at $\epsilon_S = 0.5$",
    "auc": "AUC",
    "signal_efficiency": r"signal efficiency $\epsilon_S$",
    "rejection": r"background rejection $1/\epsilon_B$",
    "lut%": "LUT [% of the part]",
    "dsp%": "DSP [% of the part]",
    "ff%": "FF [% of the part]",
    "latency_ns": "latency [ns]",
}

AXIS_LABELS["rej@0.3"], AXIS_LABELS["rej@0.5"] = AXIS_LABELS["rejection_at_30"], AXIS_LABELS["rejection_at_50"]

DEFINITIONS = ("R30, R50: background rejection 1/eps_B at signal efficiency eps_S = 0.3, 0.5, with the 68 % "
               "Clopper-Pearson interval on eps_B in brackets; where fewer than 10 background jets pass the cut, "
               "their number is given. AUC +- sd: the DeLong standard error. N test: test jets; N bkg: the "
               "background jets among them.")


def label(key: str) -> str:
    """The display name of ``key`` (the key itself where the vocabulary has none)."""
    return LABELS.get(key, key)


def axis_label(key: str) -> str:
    """A plot-axis label for ``key``."""
    return AXIS_LABELS.get(key, label(key))


def rejection_key(signal_efficiency: float) -> str:
    """``rejection_at_50`` for eps_S = 0.5: the JSON key of a rejection."""
    return f"rejection_at_{int(round(100 * signal_efficiency))}"


def table(rows: Iterable[dict[str, Any]], columns: list[str], floatfmt: str = ".4g") -> str:
    """``format_table`` of ``rows`` (keyed as in the JSON files) with display names as headers."""
    heads = [label(c) for c in columns]
    if len(set(heads)) != len(heads):   # two keys of one meaning in one table: keep them apart
        heads = list(columns)
    return format_table([{h: r.get(c) for h, c in zip(heads, columns)} for r in rows], heads, floatfmt=floatfmt)


def n_classes(metrics: dict[str, Any]) -> int:
    """The number of classes of a metrics record (2 where it does not say)."""
    classes = metrics.get("classes") or (metrics.get("confusion") or {}).get("classes") or []
    return max(len(classes), 2)


def _pm(value: float | None, err: float | None, scale: float = 1.0, fmt: str = ".4f") -> str:
    if value is None:
        return ""
    return f"{scale * value:{fmt}}" + ("" if err is None else f" +- {scale * err:{fmt}}")


def multiclass_rows(records: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of accuracy +- its binomial sd, N test and each class's one-vs-rest AUC +- DeLong sd, and
    their columns, for metrics records (``name`` keys them) of more than two classes."""
    rows, classes = [], []
    for m in records:
        if n_classes(m) <= 2 or not m.get("per_class"):
            continue
        row = {"name": m.get("name", ""), "accuracy": _pm(m.get("accuracy"), m.get("accuracy_err"), 100, ".1f") + " %",
               "n_test": m.get("n_test")}
        for cls, rec in m["per_class"].items():
            classes += [cls] if cls not in classes else []
            row[f"AUC {cls}"] = _pm(rec.get("auc"), rec.get("auc_err")) + f" (N {rec.get('n')})"
        rows.append(row)
    return rows, ["name", "accuracy", "n_test"] + [f"AUC {c}" for c in classes]


def background_rows(records: Iterable[dict[str, Any]], tag: str = "50") -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of each background class's own rejection 1/eps_B at eps_S = 0.``tag`` (score p_signal), with its
    68 % interval, for metrics records of more than two classes."""
    from fpgatag.core.metrics import format_rejection

    rows, classes = [], []
    for m in records:
        if n_classes(m) <= 2 or not m.get("per_background"):
            continue
        row = {"name": m.get("name", ""), "signal": m.get("signal_class", "")}
        for cls, rec in m["per_background"].items():
            classes += [cls] if cls not in classes else []
            text = format_rejection({**rec, "n_background": rec.get("n")}, tag)
            row[f"R{tag} {cls}"] = text if rec.get(f"rejection_at_{tag}_saturated") else f"{text} (N {rec.get('n')})"
        rows.append(row)
    return rows, ["name", "signal"] + [f"R{tag} {c}" for c in classes]


def multiclass_text(records: Iterable[dict[str, Any]]) -> str:
    """The multi-class tables (empty for two classes): accuracy and per-class AUC, then the rejection of
    each background class at eps_S = 0.3 and 0.5 of the named signal class."""
    records = list(records)
    rows, cols = multiclass_rows(records)
    if not rows:
        return ""
    text = ("Accuracy (+- binomial sd) and one-vs-rest AUC of each class (+- DeLong sd; N: test jets of the class)\n\n"
            + format_table(rows, cols))
    for tag in ("30", "50"):
        brows, bcols = background_rows(records, tag)
        if brows:
            text += (f"\n\nRejection 1/eps_B of each background class at eps_S = 0.{tag[0]} of the signal class "
                     f"(score p_signal; 68 % Clopper-Pearson interval; N: background jets of the class)\n\n"
                     + format_table(brows, bcols))
    return text
