"""End-to-end teacher training on the shared generated dataset, and the CLI's user errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpgatag.cli.main import main
from fpgatag.core.splits import split_indices
from fpgatag.train.data import as_source


@pytest.mark.slow
@pytest.mark.parametrize("model,epochs,stream", [("particlenet-lite", 4, False), ("dense-teacher", 6, True),
                                                ("particlenet-lite-trigger", 4, False)])
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


def test_best_epoch_weights_are_saved(jets_file, tmp_path):
    """The saved model is the epoch with the lowest validation loss; early stopping stops after it."""
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.train.data import load_arrays
    from fpgatag.train.teacher import train_teacher

    out = tmp_path / "dense"
    metrics = train_teacher(jets_file, model="dense-teacher", epochs=8, batch_size=64, out_dir=out, max_jets=800,
                            n_particles=16, seed=2, lr=3e-3, early_stopping=2)
    hist = json.loads((out / "history.json").read_text())
    best = int(np.argmin(hist["val_loss"]))
    assert metrics["best_epoch"] == best + 1
    assert len(hist["val_loss"]) == 8 or len(hist["val_loss"]) == best + 3  # stopped 2 epochs after the best
    # recompute the validation loss of the saved model on the recorded validation split
    source = as_source(jets_file)
    run = json.loads((out / "run.json").read_text())
    chosen = np.sort(np.random.default_rng(2).choice(source.n_jets, size=800, replace=False))
    val = chosen[split_indices(source.uids()[chosen])["val"]]
    assert val.size == run["splits"]["counts"]["val"]
    x, y = load_arrays(source, load_inputs(out), val)
    p = load_model(out).predict(x, verbose=0)
    loss = float(np.mean(-np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1))))
    assert loss == pytest.approx(hist["val_loss"][best], rel=1e-3)


def test_one_cycle_schedule():
    from fpgatag.train.teacher import FINAL_LR, one_cycle

    s = one_cycle(3e-4, 1000)
    assert float(s(0)) == pytest.approx(3e-4)
    assert float(s(400)) == pytest.approx(3e-3)
    assert float(s(200)) == pytest.approx(1.65e-3)
    assert float(s(800)) == pytest.approx(3e-4)
    assert float(s(1000)) == pytest.approx(FINAL_LR, rel=1e-3)
    assert float(s(5000)) == pytest.approx(FINAL_LR, rel=1e-3)


def test_strategy_on_this_machine():
    import tensorflow as tf

    from fpgatag.train.teacher import select_strategy

    strategy, name = select_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    assert name.startswith("mirrored" if len(gpus) > 1 else "default")
    assert strategy.num_replicas_in_sync == (len(gpus) if len(gpus) > 1 else 1)


def test_cli_bad_fold(capsys, jets_file, tmp_path):
    for fold in ("2/2", "0/1", "x"):
        code, out, err = _run_cli(capsys, "train-teacher", "--data", str(jets_file), "--model", "dense-teacher",
                                  "--fold", fold, "-o", str(tmp_path / "r"))
        assert code != 0 and out == "" and err.count("\n") == 1 and "--fold" in err
    assert not (tmp_path / "r").exists()
