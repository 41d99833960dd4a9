"""A tiny end-to-end run of the demo pipeline: every artifact exists and is consistent."""

import argparse
import json
import subprocess
import sys

import pytest

from fpgatag.core.metrics import REQUIRED_KEYS


def _json(path):
    return json.loads(path.read_text())


@pytest.mark.slow
def test_demo_artifacts_consistent(demo_run, jets_file):
    for run in ("teacher", "distilled", "scratch"):
        m = _json(demo_run / run / "metrics.json")
        assert all(k in m for k in REQUIRED_KEYS), run
        assert m["auc"] > 0.7, (run, m["auc"])
    # teacher and students were scored on the same test split
    n_test = {_json(demo_run / r / "metrics.json")["n_test"] for r in ("teacher", "distilled", "scratch")}
    assert len(n_test) == 1
    # the students are distilled from the trigger-view teacher's soft targets, written by this run
    from fpgatag.train.distill import logits_path

    trig = demo_run / "teacher-trigger"
    assert _json(trig / "metrics.json")["name"] == "particlenet-lite-trigger"
    assert _json(demo_run / "teacher" / "metrics.json")["name"] == "particlenet-lite"  # the full-view reference
    logits = logits_path(trig, jets_file)
    from fpgatag.train.soft_targets import read_logits_attrs, teacher_fingerprint

    attrs = read_logits_attrs(logits)   # computed by this run's trigger-view teacher (its model files' hash)
    assert attrs["teacher_dir"] == str(trig.resolve()) and json.loads(attrs["teacher_fingerprints"]) == [teacher_fingerprint(trig)]
    assert teacher_fingerprint(trig) != teacher_fingerprint(demo_run / "teacher")
    for run in ("distilled", "distilled-s2"):
        m, rec = _json(demo_run / run / "metrics.json"), _json(demo_run / run / "run.json")
        assert m["distilled"] and m["teacher_dir"] == str(trig.resolve()), run
        assert rec.get("settings", rec)["logits_file"] == str(logits.resolve()), run
    assert not _json(demo_run / "scratch-s2" / "metrics.json")["distilled"]
    # the firmware is the distilled student's
    est = _json(demo_run / "distilled" / "hls" / "estimate.json")
    assert est["source"] == "estimate" and est["part"].startswith("xcvu9p")
    val = _json(demo_run / "distilled" / "validate.json")
    assert val["bit_exact_fraction"] == 1.0 and val["n"] > 0
    # the report's numbers equal the JSON files
    rep = _json(demo_run / "report" / "report.json")
    rows = {r["run"]: r for r in rep["runs"]}
    dist = _json(demo_run / "distilled" / "metrics.json")
    assert rows["distilled"]["auc"] == dist["auc"] and rows["distilled"]["rej@0.5"] == dist["rejection_at_50"]
    assert rows["distilled"]["bit_exact"] == val["bit_exact_fraction"]
    for key in ("lut", "dsp", "ff", "bram18"):
        assert rows["distilled"][key] == est[key]
        assert rows["distilled"][f"{key}%"] == round(100 * est["fraction"][key], 2)
    assert rows["distilled"]["kind"] == "student (distilled)" and rows["scratch"]["kind"] == "student (scratch)"
    summary = _json(demo_run / "demo.json")
    html = (demo_run / "report" / "report.html").read_text()
    assert "Firmware by source (RTL flow)" in html and "da4ml estimate" in html and f"{dist['auc']:.4f}" in html
    # the printed tables carry the uncertainties; the gain is paired over 2 + 2 seeds, from the trigger-view teacher
    from fpgatag.report.demo import format_summary

    text = format_summary(summary)
    assert f"{dist['auc']:.4f} +- {dist['auc_err']:.4f}" in text
    low, high = dist["rejection_at_50_interval"]
    assert low < dist["rejection_at_50"] and (high is None or dist["rejection_at_50"] < high)
    gain = summary["gain"]
    assert gain["teacher"] == "teacher-trigger" and gain["n_seeds_distilled"] == gain["n_seeds_scratch"] == 2
    assert gain["rejection_gain_err_seeds"] > 0 and gain["rejection_gain_err_jets"] > 0
    assert f"{100 * gain['rejection_gain']:+.0f} % +- {100 * gain['rejection_gain_err']:.0f} %" in text
    assert ("is larger than its uncertainty" in text) == gain["rejection_gain_significant"]
    assert ("NOT larger than its uncertainty" in text) != gain["rejection_gain_significant"]
    assert f"C simulation (checked on {val['n']} jets): yes" in text
    # the RTL flow on the same student: da4ml RTL, Verilator on every test jet, the sources side by side
    rtl = demo_run / "distilled" / "rtl"
    man, rtl_val = _json(rtl / "manifest.json"), _json(rtl / "validate.json")
    rtl_est = est   # the hls4ml column is the run's HLS project (rtl/ has no estimate.json of its own)
    assert not (rtl / "estimate.json").exists() and len([r for r in rep["runs"] if r["run"].startswith("distilled")]) == 2
    assert rtl_val["simulator"] == "verilator" and rtl_val["bit_exact_fraction"] == 1.0
    assert rtl_val["n_jets"] == dist["n_test"] == summary["rtl"]["verilator_n_jets"]
    assert not (rtl / "synth.json").exists() and summary["rtl"]["yosys"] is None   # the fixture runs yosys=False
    table = {cells[0]: cells[1:] for cells in ([c.strip() for c in ln.strip("|").split("|")]
                                               for ln in text.splitlines() if ln.startswith("| "))}
    assert table["figure"] == ["hls4ml estimate", "da4ml estimate", "netlist model"]
    assert table["lut"] == [f"{rtl_est['lut']:.0f}", f"{man['da4ml_estimate']['lut']:.0f}",
                            f"{man['da4ml_estimate']['netlist_predicted']['lut']:.0f}"]
    assert table["latency_cycles"][1] == str(man["latency_cycles"]) and table["dsp"][1] == "0"
    level1 = next(ln for ln in text.splitlines() if ln.startswith("Level-1 target"))
    assert "judged on fpgatag's hls4ml estimate, as its RTL has no Yosys netlist" in level1
    assert f"RTL simulation (Verilator) (checked on {rtl_val['n_jets']} jets): yes" in level1


def test_cli_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("generate", "inspect", "merge", "train-teacher", "teacher-predict", "distill", "train-student",
                "compare", "synth", "validate", "report", "demo", "sweep"):
        assert cmd in out, cmd


@pytest.mark.parametrize("cmd", ["generate", "report", "demo", "sweep"])
def test_subcommand_help_shows_defaults(cmd):
    from fpgatag.cli.main import build_parser

    out = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", cmd, "--help"], capture_output=True, text=True, check=True).stdout
    text = " ".join(out.split())
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[cmd]
    options = [a for a in sub._actions if a.option_strings and not a.required and a.default is not argparse.SUPPRESS
               and a.dest != "help" and a.default is not None and a.default is not False   # left out: no default shown
               and "default" not in (a.help or "").lower()]                                 # the help says it itself
    assert options or cmd == "report", cmd   # report's options are all required or left out by default
    for action in options:  # every other option's help shows its actual default value
        assert f"(default: {action.default})" in text, (cmd, action.dest)
    assert "(default: None)" not in text and "(default: False)" not in text
