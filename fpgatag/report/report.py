"""``fpgatag report``: one Markdown + one self-contained HTML page (plots embedded) from run dirs.

Every number in the tables is read from the runs' own JSON files (metrics.json, estimate.json,
validate.json); nothing is recomputed, so the report always equals its sources. The one derived
table is the distillation gain (distilled vs scratch students of one architecture, paired on their
stored test predictions, with its uncertainty: ``fpgatag.report.compare.distillation_gains``). Published figures
are shown beside measured ones only for the models they were published for, and are marked as such.
"""

from __future__ import annotations

import base64
import html
import logging
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core import labels
from fpgatag.core.io import atomic_dir, to_json
from fpgatag.core.metrics import format_auc, format_rejection
from fpgatag.core.provenance import provenance
from fpgatag.report import firmware_sources
from fpgatag.report import plots
from fpgatag.report.collect import PUBLISHED, RunRecord, collect

log = logging.getLogger(__name__)

RESOURCES = ("latency_cycles", "latency_ns", "ii", "lut", "dsp", "ff", "bram18")


def est_total(est: dict[str, Any] | None, key: str) -> Any:
    """A total from estimate.json (``totals`` block, or top level)."""
    if not est:
        return None
    totals = est.get("totals") if isinstance(est.get("totals"), dict) else est
    return totals.get(key)


def est_fraction(est: dict[str, Any] | None, key: str) -> float | None:
    """A total as a fraction of the part (estimate.json's ``fraction`` block, or ``<key>_fraction``)."""
    if not est:
        return None
    candidates = [(est.get("fraction") or {}).get(key)]
    for block in (est.get("totals") or {}, est):
        candidates.append(block.get(f"{key}_fraction"))
    return next((float(v) for v in candidates if isinstance(v, (int, float))), None)


def est_layers(est: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not est:
        return []
    layers = est.get("layers") or est.get("per_layer") or []
    return [l for l in layers if isinstance(l, dict)]


def summary_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    """One row per run: physics metrics, firmware totals (with part fractions) and C-sim agreement."""
    rows = []
    for r in records:
        m, e, v = r.metrics or {}, r.estimate, r.validate or {}
        kind = r.role
        if kind == "student":
            kind = "student (distilled)" if r.distilled else "student (scratch)"
        row: dict[str, Any] = {
            "run": r.name,
            "kind": kind,
            "model": r.model_name or "",
            "accuracy": m.get("accuracy"),
            "auc": m.get("auc"),
            "rej@0.3": m.get("rejection_at_30"),
            "rej@0.5": m.get("rejection_at_50"),
            "n_test": m.get("n_test"),
            "auc_err": m.get("auc_err"),
            "n_bkg": m.get("n_background"),
            "n_bkg_pass@0.3": m.get("n_background_passing_30"),
            "n_bkg_pass@0.5": m.get("n_background_passing_50"),
            "rej@0.3_interval": m.get("rejection_at_30_interval"),
            "rej@0.5_interval": m.get("rejection_at_50_interval"),
            "auc +- err": format_auc(m),
            "rej@0.3 [68% CI]": format_rejection(m, "30"),
            "rej@0.5 [68% CI]": format_rejection(m, "50"),
            "params": n_parameters(r),
            "bits": m.get("bits"),
        }
        if e is not None:
            for key in RESOURCES:
                row[key] = est_total(e, key)
            for key in ("lut", "dsp", "ff", "bram18"):
                frac = est_fraction(e, key)
                row[f"{key}%"] = None if frac is None else round(100 * frac, 2)
            row["part"] = e.get("part")
            row["source"] = e.get("source")
        if v:
            row["bit_exact"] = v.get("bit_exact_fraction")
            row["argmax_agree"] = v.get("argmax_agreement")
        row["missing"] = ", ".join(r.missing())
        rows.append(row)
    return rows


def n_parameters(record: RunRecord) -> int | None:
    """A run's parameter count: metrics.json, else run.json's settings (teachers record it there)."""
    m, run = record.metrics or {}, record.run or {}
    settings = run.get("settings") if isinstance(run.get("settings"), dict) else run
    for source in (m, settings):
        for key in ("n_parameters", "n_params"):
            if isinstance(source.get(key), int):
                return source[key]
    return None


def published_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    """Published anchors for teachers whose model has published figures on the public top dataset."""
    rows = []
    for r in records:
        name = (r.model_name or "").lower()
        data = (r.run or {}).get("data")
        data_format = data.get("format") if isinstance(data, dict) else ""
        if r.role == "teacher" and name in PUBLISHED:
            pub = PUBLISHED[name]
            comparable = data_format == "toptagging"
            rows.append({
                "model": name,
                "accuracy": pub["accuracy"], "auc": pub["auc"],
                "rej@0.3": pub["rejection_at_30"], "rej@0.5": pub["rejection_at_50"],
                "measured on": "published (not measured here)",
                "comparable": "yes, same public dataset" if comparable else "no: different jets",
                "source": pub["source"],
            })
    return rows


def gain_inputs(records: list[RunRecord]) -> list[dict[str, Any]]:
    """The records as rows for ``distillation_gains`` (one per run directory)."""
    rows, seen = [], set()
    for r in records:
        if r.metrics is None or r.path in seen:
            continue
        seen.add(r.path)
        m = r.metrics
        rows.append({"dir": str(r.path), "distilled": r.distilled, "student": m.get("student"), "bits": m.get("bits"),
                     "n_objects": m.get("n_objects"), "teacher_dir": m.get("teacher_dir"), "seed": m.get("seed")})
    return rows


def _columns(rows: list[dict[str, Any]], wanted: tuple[str, ...]) -> list[str]:
    return [c for c in wanted if any(row.get(c) not in (None, "") for row in rows)]


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def run_data_path(record: RunRecord) -> str | None:
    """The data file a run was trained on (run.json ``data.path``), if it still exists."""
    data = (record.run or {}).get("data")
    path = data.get("path") if isinstance(data, dict) else data
    return str(path) if isinstance(path, str) and Path(path).is_file() else None


def run_sample(records: list[RunRecord]) -> plots.Sample | None:
    """sqrt(s) and jet selection of the data file the first run recorded (None if it went away)."""
    data_path = next((p for p in map(run_data_path, records) if p is not None), None)
    if data_path is None:
        return None
    from fpgatag.data.io import open_jets

    try:
        with open_jets(data_path) as src:
            return plots.sample_label(src.attrs)
    except Exception as exc:  # a report renders even when the data file changed
        log.warning("%s: sample description skipped: %s", data_path, exc)
        return None


def _input_distributions(records: list[RunRecord], out: Path, sample: plots.Sample | None) -> Path | None:
    """Both views' distributions per class, from the data file the first run recorded."""
    data_path = next((p for p in map(run_data_path, records) if p is not None), None)
    if data_path is None:
        return None
    from fpgatag.data import features as F
    from fpgatag.data.io import open_jets

    with open_jets(data_path) as src:
        n = min(src.n_jets, 4000)
        batch = src.read(0, n)
        classes = list(src.classes)
    labels = batch["label"]
    trig_mass = F.jet_features(batch, view="candidates", features=("mass",))[:, 0]
    trig_mult = F.jet_features(batch, view="candidates", features=("multiplicity",))[:, 0]
    from fpgatag.core.schema import col

    full_mass = batch["jet"][:, col("jet", "mass")]
    panels = []
    mass, mult = {}, {}
    for ci, cls in enumerate(classes):
        sel = labels == ci
        if not np.any(sel):
            continue
        mass[cls] = {"full view": full_mass[sel], "trigger view": trig_mass[sel]}
        mult[cls] = {"full view": batch["n_particles"][sel].astype(float), "trigger view": trig_mult[sel]}
    panels.append(("jet mass [GeV]", mass))
    panels.append(("multiplicity", mult))
    return plots.distributions_plot(panels, out / "input_distributions.png", sample=sample)


PHYS_COLUMNS = ("run", "kind", "model", "accuracy", "auc +- err", "rej@0.3 [68% CI]", "rej@0.5 [68% CI]", "n_test", "n_bkg",
                "params", "bits")
FIRMWARE_COLUMNS = ("run", "part", "source", "latency_cycles", "latency_ns", "ii", "lut", "lut%", "dsp", "dsp%", "ff", "ff%",
                    "bram18", "bram18%", "bit_exact", "argmax_agree")


def _figures(records: list[RunRecord], rows: list[dict[str, Any]], tmp: Path, layers_of: str | None,
             sample: plots.Sample | None) -> dict[str, Path]:
    """The report's plots (PNG, with a PDF beside each), keyed by the caption a reader sees."""
    figures: dict[str, Path] = {}
    curves = [(r.name, *pred) for r in records if (pred := r.predictions()) is not None]
    signal, signal_name = _signal(records)
    if curves:
        figures["ROC curves of the test split (legend: AUC +- DeLong sd, N test jets; bands, drawn for up to "
                "4 curves: 68 % Clopper-Pearson interval on eps_B)"
                + (f"; signal {signal_name} against all other classes" if signal_name else "")] = \
            plots.roc_plot(curves, tmp / "roc.png", sample=sample, signal=signal)
    for i, r in enumerate(rec for rec in records if labels.n_classes(rec.metrics or {}) > 2):
        conf = (r.metrics or {}).get("confusion") or {}
        if conf.get("counts"):
            figures[f"Confusion matrix of {r.name} on its test split (row-normalised; +- binomial sd; counts in "
                    "brackets)"] = plots.confusion_plot(conf["counts"], conf["classes"], tmp / f"confusion_{i}.png",
                                                        name=r.name, sample=sample)
    points = [
        {"name": row["run"], "lut%": row["lut%"], "dsp%": row["dsp%"], "latency_ns": row["latency_ns"],
         "rejection_at_50": row["rej@0.5"], "interval": row.get("rej@0.5_interval"), "n_test": row.get("n_test"),
         "source": row.get("source")}
        for row in rows
        if all(row.get(k) is not None for k in ("lut%", "dsp%", "rej@0.5", "latency_ns"))
    ]
    if points:
        figures[f"{labels.label('rej@0.5')} against LUT and DSP (% of the part) and latency, with the Level-1 budgets "
                f"({plots.LUT_BUDGET_PERCENT:g} % of the LUTs, {plots.LATENCY_BUDGET_NS:g} ns); Pareto front boxed; "
                "error bars: 68 % interval of the rejection, the estimator's error on resources"] = \
            plots.tradeoff_plot(points, tmp / "tradeoff.png", sample=sample)
    firmware = [r for r in records if est_layers(r.estimate)]
    if firmware:
        chosen = next((r for r in firmware if layers_of and layers_of in (r.name, str(r.path))), None)
        chosen = chosen or next((r for r in firmware if r.distilled), firmware[0])
        figures[f"Per-layer resources: {chosen.name}"] = plots.layer_bars(
            est_layers(chosen.estimate), tmp / "layers.png", chosen.name, sample=sample,
            estimated=(chosen.estimate or {}).get("source") == "estimate")
    try:
        dist = _input_distributions(records, tmp, sample)
    except Exception as exc:  # a report renders even when the data file went away or changed
        log.warning("input distributions skipped: %s", exc)
        dist = None
    if dist is not None:
        figures["Input distributions per class: full view vs trigger view (normalised; Poisson errors)"] = dist
    return figures


def _signal(records: list[RunRecord]) -> tuple[int, str | None]:
    """The signal class index of the runs' ROC curves (their metrics' ``signal_class``) and, for more than
    two classes, its name; class 1 where no run records one."""
    for r in records:
        m = r.metrics or {}
        classes = m.get("classes") or []
        if m.get("signal_class") in classes:
            return classes.index(m["signal_class"]), (m["signal_class"] if len(classes) > 2 else None)
    return 1, None


def _multiclass_section(records: list[RunRecord]) -> list[str]:
    """The multi-class tables of the runs of more than two classes (none for binary runs)."""
    text = labels.multiclass_text([{**(r.metrics or {}), "name": r.name} for r in records])
    return ["## Multi-class performance (test split)", "", text, ""] if text else []


def _markdown(rows: list[dict[str, Any]], gains: list[dict[str, Any]], pubs: list[dict[str, Any]],
              figures: dict[str, Path], run_dirs: list[str | Path], multiclass: list[str] = ()) -> list[str]:
    from fpgatag.report.compare import gain_table

    phys_cols = _columns(rows, PHYS_COLUMNS)
    fw_rows = [row for row in rows if row.get("lut") is not None]
    fw_cols = _columns(fw_rows, FIRMWARE_COLUMNS)
    missing = [(row["run"], row["missing"]) for row in rows if row["missing"]]
    md = ["# fpgatag report", ""]
    md += ["## Physics performance (test split)", "", labels.table(rows, phys_cols) if rows else "_no runs found_", ""]
    if rows:
        md += [labels.DEFINITIONS, ""]
    md += multiclass
    if gains:
        md += ["## Distillation gain (distilled vs scratch)", "", gain_table(gains), ""]
    if pubs:
        md += ["## Published figures (not measured here)", "",
               "ParticleNet's published figures are for the Top Quark Tagging Reference Dataset. "
               "They compare with a measured row only where `comparable` says so.", "",
               labels.table(pubs, list(pubs[0])), ""]
    md += ["## Firmware (hls4ml)", ""]
    md += [labels.table(fw_rows, fw_cols) if fw_rows else "_no firmware estimates found (run `fpgatag synth`)_", ""]
    if fw_rows:
        md += ["`source = estimate` means fpgatag's own estimator (no vendor tool), which targets Vitis HLS "
               "C-synthesis figures (out-of-sample median error: "
               + ", ".join(f"{labels.label(k).split()[0]} {100 * v:.0f} %" for k, v in plots.ESTIMATE_REL_ERROR.items())
               + "); `%` columns are fractions of the part.", ""]
    md += firmware_sources.markdown_section(run_dirs)   # hls4ml / da4ml / Yosys / vendor side by side
    if missing:
        md += ["## Missing pieces", ""] + [f"- {name}: {what}" for name, what in missing] + [""]
    md += ["## Figures", "", "Each figure is also saved as PDF beside its PNG.", ""]
    md += [f"### {title}\n\n![{title}]({p.name})\n" for title, p in figures.items()]
    return md


def build_report(run_dirs: list[str | Path], out_dir: str | Path, layers_of: str | None = None) -> dict[str, Any]:
    """Write report.md, report.html, report.json and the plots (PNG and PDF) into ``out_dir``; return report.json."""
    records = collect(run_dirs)
    out_dir = Path(out_dir)
    rows = summary_rows(records)
    pubs = published_rows(records)
    from fpgatag.report.compare import distillation_gains

    gains = distillation_gains(gain_inputs(records))
    sample = run_sample(records)
    with atomic_dir(out_dir) as tmp:
        figures = _figures(records, rows, tmp, layers_of, sample)
        multiclass = _multiclass_section(records)
        md = _markdown(rows, gains, pubs, figures, run_dirs, multiclass)
        missing = {row["run"]: row["missing"] for row in rows if row["missing"]}
        report = {"runs": rows, "gains": gains, "multiclass": multiclass[2] if multiclass else "",
                  "published": pubs, "figures": {t: p.name for t, p in figures.items()},
                  "missing": missing, "provenance": provenance({"runs": [str(p) for p in run_dirs]})}
        (tmp / "report.md").write_text("\n".join(md))
        (tmp / "report.json").write_text(to_json(report))
        (tmp / "report.html").write_text(render_html("\n".join(md), figures))
    return report


_STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
          "table{border-collapse:collapse;font-size:13px;margin:0.5em 0}"
          "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}"
          "code{background:#f4f4f4;padding:0 3px}img{max-width:100%}")


def render_html(md_text: str, figures: dict[str, Path]) -> str:
    """The Markdown report as one self-contained HTML page (Python-Markdown; figures embedded as data URIs)."""
    import markdown

    body = markdown.markdown(md_text, extensions=["tables"], output_format="html")
    for p in figures.values():
        body = body.replace(f'src="{html.escape(p.name)}"', f'src="{_data_uri(p)}"')
    return ("<!doctype html><html><head><meta charset='utf-8'><title>fpgatag report</title>"
            f"<style>{_STYLE}</style></head><body>{body}</body></html>\n")
