"""The data commands through the real CLI: bad inputs give one line, a non-zero exit, no traceback
and no output; an interrupted generate leaves nothing behind; inspect and merge work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def fpgatag(*args, cwd=None, check=False):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fpgatag.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, check=check)


def assert_clean_failure(res, out_dir: Path, *needles: str):
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and "error" in ln]
    assert len(lines) == 1, res.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert not [p for p in out_dir.iterdir() if p.name.startswith((".out", "out"))], list(out_dir.iterdir())


@pytest.fixture
def bad_files(tmp_path, jets_file):
    d = tmp_path / "in"
    d.mkdir()
    (d / "text.h5").write_text("not hdf5 at all\n")
    data = jets_file.read_bytes()
    (d / "truncated.h5").write_bytes(data[: len(data) // 3])
    with h5py.File(d / "columns.h5", "w") as f:
        f["table"] = np.zeros((3, 4))  # 'table' but not a DataFrame with the right columns
    # a JetClass-like ROOT file, cut in half
    import awkward as ak
    import uproot

    n = np.full(2000, 30)
    names = ("px", "py", "pz", "energy", "charge", "isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron",
             "isMuon")
    part = ak.unflatten(ak.zip({k: np.random.default_rng(1).random(n.sum()).astype(np.float32) + 1 for k in names}), n)
    with uproot.recreate(d / "full.root") as f:
        t = f.mktree("tree", {"part": part.type.content, "label_QCD": np.float32})
        t.extend({"part": part, "label_QCD": np.ones(2000, dtype=np.float32)})
    data = (d / "full.root").read_bytes()
    (d / "truncated.root").write_bytes(data[: len(data) // 2])
    return d


@pytest.mark.parametrize("name, needle", [
    ("missing.h5", "file not found"),
    ("text.h5", "not an HDF5 or ROOT file"),
    ("truncated.h5", "truncated"),
    ("columns.h5", "table"),
    ("truncated.root", "truncated"),
])
def test_inspect_bad_files(bad_files, tmp_path, name, needle):
    res = fpgatag("inspect", bad_files / name)
    assert_clean_failure(res, tmp_path, name, needle)


@pytest.mark.parametrize("args, needle", [
    (["--process", "qcd", "--process", "sgluon"], "unknown process"),
    (["--pt-min", "650", "--pt-max", "550"], "empty pT window"),
    (["--shard", "3/2"], "--shard 3/2"),
    (["--shard", "x"], "--shard"),
    (["--jets-per-class", "0"], "--jets-per-class"),
])
def test_generate_bad_arguments(tmp_path, args, needle):
    res = fpgatag("generate", "-o", tmp_path / "out.h5", "--jets-per-class", "5", *args)
    assert_clean_failure(res, tmp_path, needle)


def test_merge_bad_inputs(tmp_path, bad_files):
    res = fpgatag("merge", "-o", tmp_path / "out.h5", bad_files / "text.h5")
    assert_clean_failure(res, tmp_path, "text.h5")


@pytest.mark.parametrize("sig, workers", [(signal.SIGINT, 1), (signal.SIGTERM, 2)])
def test_interrupted_generate_leaves_nothing(tmp_path, sig, workers):
    out = tmp_path / "out.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "fpgatag.cli.main", "generate", "-o", str(out),
                             "--jets-per-class", "5000", "--workers", str(workers)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while not list(tmp_path.glob(".out.h5.*")) and time.time() < deadline:  # temporary output exists
            time.sleep(0.2)
        assert list(tmp_path.glob(".out.h5.*")), "generate never started writing"
        time.sleep(1.0)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert "interrupted" in err
    assert list(tmp_path.iterdir()) == []


def test_inspect_json_and_table(jets_file):
    res = fpgatag("inspect", jets_file, "--json", check=True)
    s = json.loads(res.stdout)
    assert set(s) == {"format", "n_jets", "classes"}
    assert s["format"] == "native" and set(s["classes"]) == {"qcd", "top"}
    for c in s["classes"].values():
        assert set(c) == {"n", "median_mass", "mean_n_particles", "mean_n_trigger"}
    assert s["classes"]["top"]["median_mass"] > s["classes"]["qcd"]["median_mass"]
    assert sum(c["n"] for c in s["classes"].values()) == s["n_jets"]
    table = fpgatag("inspect", jets_file, check=True).stdout
    assert "native" in table and "| top" in table
    from fpgatag.data.inspect import summarize

    assert summarize(jets_file) == s


def test_generate_stdout_is_only_the_result(tmp_path):
    out = tmp_path / "g.h5"
    res = fpgatag("generate", "-o", out, "--jets-per-class", "2", "--chunk-jets", "2", "--process", "qcd", check=True)
    assert res.stdout == f"{out}\n"  # FastJet's banner and all logs go to stderr
    assert "FastJet" in res.stderr
    assert fpgatag("inspect", out, "--json", check=True).stdout.startswith("{")


def test_help_lists_commands_and_defaults():
    out = fpgatag("--help", check=True).stdout
    for cmd in ("generate", "merge", "inspect"):
        assert cmd in out
    gen = fpgatag("generate", "--help", check=True).stdout
    assert "(default: 16)" in gen and "--pthat-min" in gen and "--shard" in gen


def test_generator_and_view_flags_come_from_the_settings_dataclasses():
    import dataclasses

    from fpgatag.cli import data_cmds
    from fpgatag.cli.main import build_parser
    from fpgatag.data.generate import GeneratorSettings
    from fpgatag.data.views import ViewSettings

    args = build_parser().parse_args(["generate", "-o", "x.h5"])
    for cls in (GeneratorSettings, ViewSettings):
        for f in dataclasses.fields(cls):
            if f.name not in data_cmds._NOT_FLAGS:
                assert getattr(args, f"set_{f.name}") == f.default, f.name   # the dataclass's own default

    @dataclasses.dataclass
    class Grown(ViewSettings):
        new_knob: float = 1.0

    with pytest.raises(RuntimeError, match="new_knob"):   # a new setting without a flag fails registration
        data_cmds.setting_flags(Grown, data_cmds._VIEW_FLAGS)


def test_views_rebuilds_the_trigger_view_from_the_particles(jets_file, tmp_path):
    from fpgatag.data.io import open_jets

    out = tmp_path / "n32.h5"
    res = fpgatag("views", jets_file, "-o", out, "--n-candidates", "32", check=True)
    assert res.stdout.strip() == str(out)
    with open_jets(jets_file) as a, open_jets(out) as b:
        assert b.n_jets == a.n_jets and b.classes == a.classes
        assert b.view_settings.n_candidates == 32 and b.view_settings.n_towers == a.view_settings.n_towers
        x, y = a.read(0, 300), b.read(0, 300)
        for key in ("uid", "label", "particles", "n_particles", "towers", "n_towers", "jet"):
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)
        # the view is a pure function of the particles: the 16 hardest candidates are the stored ones
        np.testing.assert_array_equal(y["candidates"][:, :16], x["candidates"])
        assert y["candidates"].shape[1] == 32 and np.all(y["n_candidates"] >= x["n_candidates"])
        assert np.any(y["n_candidates"] > 16)
        assert b.attrs["views_from"]["views"]["n_candidates"] == 16


@pytest.mark.parametrize("args,needle", [
    (["--n-candidates", "0"], "--n-candidates"),
    ([], "at least one view setting"),
])
def test_views_bad_arguments(jets_file, tmp_path, args, needle):
    res = fpgatag("views", jets_file, "-o", tmp_path / "out.h5", *args)
    assert_clean_failure(res, tmp_path, needle)
    res = fpgatag("views", tmp_path / "missing.h5", "-o", tmp_path / "out.h5", "--n-candidates", "32")
    assert_clean_failure(res, tmp_path, "missing.h5")
