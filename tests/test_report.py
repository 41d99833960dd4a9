"""The report stage on hand-written run artifacts (the end-to-end demo test covers real ones)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.core.metrics import classification_metrics
from fpgatag.report.collect import collect
from fpgatag.report.plots import pareto_front
from fpgatag.report.report import build_report


def _run(path, role, seed, extra=None):
    path.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    p = 1 / (1 + np.exp(-(rng.normal(size=400) + 2 * y - 1)))
    probs = np.stack([1 - p, p], 1)
    m = classification_metrics(y, probs)
    m.update({"role": role, **(extra or {})})
    (path / "metrics.json").write_text(json.dumps(m))
    np.savez(path / "predictions.npz", uid=np.arange(400), label=y, probs=probs)
    return m


def _estimate(path, lut, dsp, lat):
    path.mkdir(parents=True)
    est = {"part": "xcvu9p-flga2104-2L-e", "clock_ns": 5.0, "source": "estimate",
           "totals": {"latency_cycles": lat, "latency_ns": 5.0 * lat, "ii": 1, "lut": lut, "dsp": dsp, "ff": 2 * lut, "bram18": 0},
           "fraction": {"lut": lut / 1182240, "dsp": dsp / 6840, "ff": 2 * lut / 2364480, "bram18": 0.0},
           "layers": [{"layer": "phi1", "lut": lut / 2, "dsp": dsp, "ff": lut, "latency_cycles": lat - 1},
                      {"layer": "logits", "lut": lut / 2, "dsp": 0, "ff": lut, "latency_cycles": 1}]}
    (path / "estimate.json").write_text(json.dumps(est))
    return est


def test_report_numbers_equal_json(tmp_path):
    mt = _run(tmp_path / "teacher", "teacher", 1, {"model": "particlenet-lite"})
    md = _run(tmp_path / "distilled", "student", 2, {"student": "deepsets", "bits": 8, "distilled": True})
    ms = _run(tmp_path / "scratch", "student", 3, {"student": "deepsets", "bits": 8, "distilled": False})
    est = _estimate(tmp_path / "distilled" / "hls", 5000, 12, 9)
    (tmp_path / "distilled" / "validate.json").write_text(json.dumps({"n": 100, "bit_exact_fraction": 1.0, "argmax_agreement": 1.0}))
    rep = build_report([tmp_path], tmp_path / "report")
    rows = {r["run"]: r for r in rep["runs"]}
    assert rows["teacher"]["auc"] == mt["auc"]
    assert rows["distilled"]["rej@0.5"] == md["rejection_at_50"]
    assert rows["scratch"]["accuracy"] == ms["accuracy"]
    assert rows["distilled"]["lut"] == est["totals"]["lut"]
    assert rows["distilled"]["dsp%"] == round(100 * est["fraction"]["dsp"], 2)
    assert rows["distilled"]["bit_exact"] == 1.0
    assert rows["distilled"]["kind"] == "student (distilled)" and rows["scratch"]["kind"] == "student (scratch)"
    # published anchors: shown, but marked as not comparable for generated jets
    assert rep["published"] and rep["published"][0]["comparable"].startswith("no")
    out = tmp_path / "report"
    for name in ("report.md", "report.html", "report.json", "roc.png", "tradeoff.png", "layers.png"):
        assert (out / name).is_file(), name
        if name.endswith(".png"):
            assert (out / name).with_suffix(".pdf").is_file(), name
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and not re.search(r'src="(?!data:)', html)
    md_text = (out / "report.md").read_text()
    assert f"{md['auc']:.4g}" in md_text


def test_report_with_missing_pieces(tmp_path):
    # a student without validate, no teacher at all: still renders and says what is missing
    _run(tmp_path / "scratch", "student", 3, {"student": "deepsets", "bits": 6})
    rep = build_report([tmp_path / "scratch"], tmp_path / "r")
    assert "validate.json" in rep["missing"]["scratch"] and "estimate.json" in rep["missing"]["scratch"]
    text = (tmp_path / "r" / "report.md").read_text()
    assert "Missing pieces" in text and "no firmware estimates" in text


def test_report_on_bare_firmware(tmp_path):
    _estimate(tmp_path / "hls", 100, 1, 3)
    rep = build_report([tmp_path / "hls"], tmp_path / "r")
    assert rep["runs"][0]["kind"] == "firmware" and rep["runs"][0]["lut"] == 100


def test_several_estimates_of_one_run(tmp_path):
    _run(tmp_path / "s", "student", 3, {"student": "deepsets", "bits": 8})
    _estimate(tmp_path / "s" / "hls_rf1", 1000, 10, 5)
    _estimate(tmp_path / "s" / "hls_rf2", 600, 5, 7)
    names = sorted(r.name for r in collect([tmp_path]))
    assert names == ["s/hls_rf1", "s/hls_rf2"]


def test_report_missing_dir(tmp_path):
    with pytest.raises(FpgatagError, match="no such run directory"):
        build_report([tmp_path / "nope"], tmp_path / "r")


def test_pareto_front():
    cost = np.array([1, 2, 3, 4, 5.0])
    merit = np.array([1, 0.5, 2, 1.5, 3.0])
    assert pareto_front(cost, merit).tolist() == [0, 2, 4]


def _scored_run(path, extra, y, score, order):
    """A run scored on the same jets (uids 100..) as its siblings, stored in its own jet order."""
    path.mkdir(parents=True)
    p = 1 / (1 + np.exp(-score))
    probs = np.stack([1 - p, p], 1)
    m = {**classification_metrics(y, probs), **extra}
    (path / "metrics.json").write_text(json.dumps(m))
    np.savez(path / "predictions.npz", uid=100 + order, label=y[order], probs=probs[order])
    return m


def test_report_and_compare_show_uncertainties_and_paired_gain(tmp_path):
    from fpgatag.core.metrics import paired_gain
    from fpgatag.report.compare import compare_runs, compare_table

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 600)
    base = rng.normal(size=600) + 2 * y
    student = {"role": "student", "student": "deepsets-l1", "bits": 8, "n_objects": 16}
    teacher = tmp_path / "teacher-trigger"
    _scored_run(teacher, {"role": "teacher", "model": "particlenet-lite-trigger"}, y, base, rng.permutation(600))
    scores = {}
    for kind, noise in (("distilled", 0.4), ("scratch", 1.0)):
        for seed in (1, 2):
            scores[kind, seed] = base + noise * rng.normal(size=600)
            _scored_run(tmp_path / f"{kind}-s{seed}", {**student, "distilled": kind == "distilled", "seed": seed,
                        "teacher_dir": str(teacher.resolve()) if kind == "distilled" else None},
                        y, scores[kind, seed], rng.permutation(600))
    rep = build_report([tmp_path], tmp_path / "report")
    (gain,) = rep["gains"]
    # the pairing undid each run's own jet order: the same figures as on the aligned scores
    ref = paired_gain(y == 1, [scores["distilled", s] for s in (1, 2)], [scores["scratch", s] for s in (1, 2)],
                      teacher=base, n_boot=gain["n_boot"], seed=gain["bootstrap_seed"])
    for key in ("auc_gain", "auc_gain_err", "rejection_gain", "rejection_gain_err", "gap_closed"):
        assert gain[key] == pytest.approx(ref[key]), key
    assert gain["n_seeds_distilled"] == 2 and gain["teacher"] == "teacher-trigger" and gain["n_test"] == 600
    md_text = (tmp_path / "report" / "report.md").read_text()
    assert "Distillation gain" in md_text and "paired bootstrap" in md_text
    row = next(r for r in rep["runs"] if r["run"] == "distilled-s1")
    assert row["auc +- err"].startswith(f"{row['auc']:.4f} +- ") and row["auc +- err"] in md_text
    assert row["rej@0.5_interval"][0] < row["rej@0.5"] < row["rej@0.5_interval"][1]
    rows = compare_runs(sorted(p for p in tmp_path.iterdir() if p.name != "report"))
    text = compare_table(rows)
    assert "+-" in text and "2 + 2" in text and f"{100 * gain['rejection_gain']:+.0f} %" in text


def test_report_reads_like_a_document(tmp_path):
    """One vocabulary, rendered Markdown, the teacher's parameter count from its run.json."""
    _run(tmp_path / "teacher", "teacher", 1, {"model": "particlenet-lite"})
    (tmp_path / "teacher" / "run.json").write_text(json.dumps({"settings": {"n_parameters": 27798}}))
    _run(tmp_path / "distilled", "student", 2, {"student": "deepsets", "bits": 8, "distilled": True, "n_parameters": 706})
    _estimate(tmp_path / "distilled" / "hls", 5000, 12, 9)
    rep = build_report([tmp_path], tmp_path / "report")
    rows = {r["run"]: r for r in rep["runs"]}
    assert rows["teacher"]["params"] == 27798 and rows["distilled"]["params"] == 706
    md_text = (tmp_path / "report" / "report.md").read_text()
    head = next(line for line in md_text.splitlines() if line.startswith("| run"))
    assert "R50 [68% CI]" in head and "AUC +- sd" in head and "N test" in head and "rej@" not in md_text
    assert "27798" in md_text
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<code>source = estimate</code>" in html and "`" not in html
    assert "<table>" in html and "<th>R50 [68% CI]</th>" in html
    assert html.count("data:image/png;base64,") == len(rep["figures"]) == 3


def test_layer_names_and_sample_label():
    from fpgatag.report.plots import layer_name, sample_label

    assert [layer_name(row, i) for i, row in enumerate([{"layer": "phi1"}, {"name": "dense"}, {}])] == ["phi1", "dense", "2"]
    gen = {"ecm": 14000.0, "jet_r": 0.8, "pt_min": 550.0, "pt_max": 650.0, "eta_max": 2.0}
    s = sample_label({"generator": gen})
    assert s.com_tev == 14.0 and "550 < $p_T$ < 650 GeV" in s.selection and "R = 0.8" in s.selection
    assert sample_label({"dataset": "Top Quark Tagging Reference Dataset (Zenodo 2603256)"}).com_tev == 14.0
    assert sample_label({}).com_tev is None


def test_rejection_band_brackets_the_curve():
    from fpgatag.core.metrics import rejection_interval
    from fpgatag.report.plots import rejection_band

    n = 200
    fpr = np.array([0.0, 1 / n, 5 / n, 50 / n, 1.0])
    low, high = rejection_band(fpr, n)
    for f, lo, hi in zip(fpr, low, high):
        k = int(round(f * n))
        ref = rejection_interval(k, n)
        assert lo == pytest.approx(ref[0])
        assert (hi == np.inf) if ref[1] is None else hi == pytest.approx(ref[1])


def test_one_vocabulary():
    from fpgatag.core import labels

    assert labels.label("rejection_at_50") == labels.label("rej@0.5") == "R50"
    assert labels.label("rej@0.5 [68% CI]") == "R50 [68% CI]" and labels.label("rej@0.5 gain") == "R50 gain"
    text = labels.table([{"rejection_at_50": 12.5, "n_test": 100}], ["rejection_at_50", "n_test"])
    assert text.splitlines()[0].split("|")[1:3] == [" R50  ", " N test "]


def test_tradeoff_plot_one_point_in_percent_of_part(tmp_path):
    from fpgatag.report.plots import tradeoff_plot

    point = {"name": "s", "lut%": 3.5, "dsp%": 3.7, "latency_ns": 25.0, "rejection_at_50": 22.1,
             "interval": [15.9, None], "source": "estimate", "n_test": 508}
    out = tradeoff_plot([point], tmp_path / "t.png")
    assert out.is_file() and out.with_suffix(".pdf").is_file()


def test_relative_data_path_found_from_elsewhere(tmp_path, monkeypatch):
    from fpgatag.report.analysis import resolve_data_path, run_data_file

    run = tmp_path / "runs" / "demo"
    run.mkdir(parents=True)
    (run / "jets.h5").write_bytes(b"")
    (run / "demo.json").write_text(json.dumps({"data": "runs/demo/jets.h5"}))
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert run_data_file(Path("../runs/demo")).resolve() == (run / "jets.h5").resolve()
    with pytest.raises(FpgatagError, match="nope.h5: data file of"):
        resolve_data_path("nope.h5", run)
