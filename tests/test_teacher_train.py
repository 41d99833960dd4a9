"""End-to-end teacher training on the shared generated dataset, and the CLI's user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpgatag.cli.main import main
from fpgatag.core.splits import split_indices
from fpgatag.train.data import as_source


@pytest.mark.slow
@pytest.mark.parametrize("model,epochs,stream", [("particlenet-lite", 4, False), ("dense-teacher", 6, True)])
def test_teacher_learns(jets_file, tmp_path, model, epochs, stream):
    from fpgatag.train.teacher import train_teacher

    out = tmp_path / model
    metrics = train_teacher(jets_file, model=model, epochs=epochs, batch_size=128, out_dir=out,
                            n_particles=30, seed=0, stream=stream)
    assert metrics["auc"] > 0.85, metrics
    source = as_source(jets_file)
    splits = split_indices(source.uids())
    assert metrics["n_test"] == splits["test"].size
    run = json.loads((out / "run.json").read_text())
    assert run["splits"]["counts"] == {k: int(v.size) for k, v in splits.items()}
    assert run["settings"]["streamed"] is stream and run["data"]["n_jets"] == source.n_jets
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["val_loss"]) == epochs and len(hist["lr"]) == epochs
    assert json.loads((out / "inputs.json").read_text())["n_objects"] == 30
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left behind


def _run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_unknown_model(capsys, jets_file, tmp_path):
    code, out, err = _run_cli(capsys, "train-teacher", "--data", str(jets_file), "--model", "particlenet-xxl",
                              "-o", str(tmp_path / "r"))
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and "particlenet-xxl" in err and "particlenet-lite" in err
    assert not (tmp_path / "r").exists()


def test_cli_missing_data(capsys, tmp_path):
    code, _, err = _run_cli(capsys, "train-teacher", "--data", str(tmp_path / "none.h5"), "-o", str(tmp_path / "r"))
    assert code != 0 and err.count("\n") == 1 and "none.h5" in err and "not found" in err
    code, _, err = _run_cli(capsys, "teacher-predict", "--teacher", str(tmp_path / "nodir"), "--data", str(tmp_path / "x.h5"))
    assert code != 0 and err.count("\n") == 1 and "nodir" in err


def test_cli_train_and_predict(capsys, jets_file, tmp_path):
    run = tmp_path / "pn"
    code, out, _ = _run_cli(capsys, "train-teacher", "--data", str(jets_file), "--model", "particlenet-lite",
                            "--epochs", "1", "--batch-size", "128", "--max-jets", "400", "--n-particles", "16",
                            "-o", str(run))
    assert code == 0 and "| particlenet-lite" in out and str(run / "metrics.json") in out
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test"} <= set(metrics)
    code, out, _ = _run_cli(capsys, "teacher-predict", "--teacher", str(run), "--data", str(jets_file),
                            "-o", str(tmp_path / "l.h5"), "--json")
    assert code == 0 and json.loads(out)["n_jets"] == as_source(jets_file).n_jets
    assert np.isfinite(json.loads(out)["n_jets"])
