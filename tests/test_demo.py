"""A tiny end-to-end run of the demo pipeline: every artifact exists and is consistent."""

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
    # soft targets exist for the data file
    assert list(jets_file.parent.glob(jets_file.name + ".logits.*")) or list((demo_run / "teacher").glob("*logits*"))
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
    assert summary["report"].endswith("report.html")
    assert (demo_run / "report" / "report.html").is_file()


def test_cli_help_lists_every_stage():
    out = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("generate", "inspect", "merge", "train-teacher", "teacher-predict", "distill", "train-student",
                "compare", "synth", "validate", "report", "demo", "sweep"):
        assert cmd in out, cmd


@pytest.mark.parametrize("cmd", ["generate", "report", "demo", "sweep"])
def test_subcommand_help_shows_defaults(cmd):
    out = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", cmd, "--help"], capture_output=True, text=True, check=True).stdout
    assert "default" in out
