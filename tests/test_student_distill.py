"""Distilled and from-scratch students on the shared generated dataset; transfer; user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fpgatag.cli.main import main

EPOCHS = 8
TEACHER_NAME = "student-tests-teacher"


@pytest.fixture(scope="module")
def teacher(jets_file, tmp_path_factory):
    """A small dense teacher trained on the full view, with its logits stored for ``jets_file``."""
    from fpgatag.train.soft_targets import teacher_predict
    from fpgatag.train.teacher import train_teacher

    out = tmp_path_factory.mktemp("teachers") / TEACHER_NAME
    train_teacher(jets_file, model="dense-teacher", epochs=4, batch_size=128, out_dir=out, n_particles=30, seed=0)
    logits = teacher_predict(out, jets_file)
    yield out
    logits.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def students(jets_file, teacher, tmp_path_factory):
    """One distilled and one from-scratch 8-bit Deep Sets student (16 objects)."""
    from fpgatag.train.distill import train_student

    base = tmp_path_factory.mktemp("students")
    common = dict(student="deepsets", n_objects=16, bits=8, epochs=EPOCHS, batch_size=128, seed=1)
    distilled = train_student(jets_file, out_dir=base / "distilled", teacher_dir=teacher, alpha=0.2,
                              temperature=2.0, **common)
    scratch = train_student(jets_file, out_dir=base / "scratch", teacher_dir=None, **common)
    return {"distilled": (base / "distilled", distilled), "scratch": (base / "scratch", scratch)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["distilled", "scratch"])
def test_student_runs_beat_chance(students, jets_file, teacher, kind):
    from fpgatag.core.splits import split_indices
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.train.data import as_source

    run_dir, metrics = students[kind]
    assert metrics["auc"] > 0.75, metrics
    assert metrics["accuracy"] > 0.65, metrics
    for name in ("model.json", "model.h5", "inputs.json", "metrics.json", "roc.png", "history.json", "run.json",
                 "predictions.npz"):
        assert (run_dir / name).is_file(), name
    saved = json.loads((run_dir / "metrics.json").read_text())
    for key in ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test", "n_parameters", "bits",
                "n_objects", "student", "alpha", "temperature", "teacher_dir"):
        assert key in saved, key
    assert saved["bits"] == 8 and saved["n_objects"] == 16 and saved["student"] == "deepsets"
    assert saved["distilled"] is (kind == "distilled")
    assert saved["alpha"] == (0.2 if kind == "distilled" else 1.0)
    assert saved["out_of_fold"] == 0  # logits of one teacher (out-of-fold ones: tests/test_teacher_soft_targets.py)
    # the teacher's uid-keyed test split
    source = as_source(jets_file)
    test = split_indices(source.uids())["test"]
    teacher_metrics = json.loads((teacher / "metrics.json").read_text())
    assert saved["n_test"] == test.size == teacher_metrics["n_test"]
    with np.load(run_dir / "predictions.npz") as f:
        np.testing.assert_array_equal(np.sort(f["uid"]), np.sort(source.uids()[test]))
    # inputs: power-of-two scales on a fixed grid, and the saved model reloads with the same outputs
    spec = load_inputs(run_dir)
    assert spec.bits == 16 and spec.integer_bits == 6
    assert all(np.log2(s) == round(np.log2(s)) for s in spec.scale)
    model = load_model(run_dir)
    assert model.layers[-1].name == "logits"
    from fpgatag.train.data import load_arrays

    x, _ = load_arrays(source, spec, test[:200])
    with np.load(run_dir / "predictions.npz") as f:
        order = np.argsort(f["uid"])
        logits = f["logits"][order][np.searchsorted(f["uid"][order], source.uids()[test[:200]])]
    np.testing.assert_allclose(model.predict(x, verbose=0), logits, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_frozen_transfer_keeps_phi(students, jets_file, tmp_path):
    from fpgatag.nn.io import load_model
    from fpgatag.train.distill import train_student

    src_dir, _ = students["scratch"]
    before = load_model(src_dir)
    metrics = train_student(jets_file, out_dir=tmp_path / "frozen", init_from=src_dir, freeze=True, epochs=2,
                            batch_size=128, seed=2, learning_rate=5e-3)
    after = load_model(tmp_path / "frozen")
    for layer in before.layers:
        w0, w1 = layer.get_weights(), after.get_layer(layer.name).get_weights()
        if layer.name.startswith("phi"):
            for a, b in zip(w0, w1):
                np.testing.assert_array_equal(a, b)
    changed = [layer.name for layer in before.layers if layer.get_weights()
               and not all(np.array_equal(a, b) for a, b in zip(layer.get_weights(), after.get_layer(layer.name).get_weights()))]
    assert "rho1" in changed and "logits" in changed
    assert metrics["freeze"] is True and metrics["student"] == "deepsets"
    run = json.loads((tmp_path / "frozen" / "run.json").read_text())
    assert run["settings"]["frozen_layers"] == ["phi1", "phi1_relu", "phi2", "phi2_relu"]


def _cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:   # an option refused by argparse
        code = exc.code
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _assert_one_line_error(code, out, err, *fragments):
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for frag in fragments:
        assert frag in err, (frag, err)


def test_cli_teacher_without_logits(capsys, jets_file, tmp_path):
    """A teacher directory that holds no logits for this data file is refused, before training."""
    fake = tmp_path / "teacher-never-predicted"
    fake.mkdir()
    code, out, err = _cli(capsys, "distill", "--teacher", fake, "--data", jets_file, "-o", tmp_path / "s")
    _assert_one_line_error(code, out, err, str(fake), "teacher run directory")
    assert not (tmp_path / "s").exists()


def test_cli_logits_of_other_jets(capsys, jets_file, tmp_path):
    import h5py

    fake = tmp_path / "teacher-other-jets"
    fake.mkdir()
    bogus = tmp_path / "bogus.h5"
    with h5py.File(bogus, "w") as f:
        f.create_dataset("uid", data=np.arange(10, dtype=np.int64))
        f.create_dataset("logits", data=np.zeros((10, 2), np.float32))
        f.attrs["format"] = "fpgatag-logits"
    code, out, err = _cli(capsys, "distill", "--teacher", fake, "--data", jets_file, "--logits", bogus,
                          "-o", tmp_path / "s")
    _assert_one_line_error(code, out, err, "jets don't match")


def test_cli_unknown_student(capsys, jets_file, tmp_path):
    code, out, err = _cli(capsys, "train-student", "--student", "transformer-xl", "--data", jets_file,
                          "-o", tmp_path / "s")
    _assert_one_line_error(code, out, err, "transformer-xl", "deepsets")


@pytest.mark.parametrize("bits", [1, 3, 17, 64])
def test_cli_bits_out_of_range(capsys, jets_file, tmp_path, bits):
    code, out, err = _cli(capsys, "distill", "--no-teacher", "--bits", bits, "--data", jets_file,
                          "-o", tmp_path / "s")
    _assert_one_line_error(code, out, err, f"bits={bits}", "4 to 16")


def test_cli_freeze_needs_init(capsys, jets_file, tmp_path):
    code, out, err = _cli(capsys, "train-student", "--freeze", "--data", jets_file, "-o", tmp_path / "s")
    _assert_one_line_error(code, out, err, "--init-from")


def test_cli_bad_alpha(capsys, jets_file, tmp_path):
    fake = tmp_path / "t"
    fake.mkdir()
    code, out, err = _cli(capsys, "distill", "--teacher", fake, "--alpha", "1.5", "--data", jets_file,
                          "-o", tmp_path / "s")
    _assert_one_line_error(code, out, err, "--alpha", "1.5")


@pytest.mark.slow
def test_cli_compare(capsys, students, teacher, jets_file, tmp_path):
    plot = tmp_path / "roc.png"
    dirs = [teacher, students["scratch"][0], students["distilled"][0]]
    code, out, err = _cli(capsys, "compare", *dirs, "-o", plot, "--data", jets_file)
    assert code == 0, err
    runs, gain = out.strip().split("\n\n")[:2]
    lines = runs.splitlines()
    assert len(lines) == 5 and "R50 [68% CI]" in lines[0] and "params" in lines[0]
    assert TEACHER_NAME in lines[2] and "float" in lines[2] and " +- " in lines[2]
    assert "| 8 " in lines[3] and "| 8 " in lines[4]
    # the distilled and the scratch student are paired on their test jets: the gain with its uncertainty
    assert "R50 gain" in gain.splitlines()[0] and "1 + 1" in gain and " % +- " in gain
    assert plot.is_file() and plot.stat().st_size > 10_000 and plot.with_suffix(".pdf").is_file()
    code, out, _ = _cli(capsys, "compare", *dirs, "--json")
    rows = json.loads(out)
    assert [r["auc"] for r in rows] == [json.loads((Path(d) / "metrics.json").read_text())["auc"] for d in dirs]
