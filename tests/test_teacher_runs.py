"""fpgatag.train.runs: the run directory every training command writes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpgatag.core.metrics import REQUIRED_KEYS, classification_metrics
from fpgatag.core.splits import split_indices
from fpgatag.train.runs import metrics_table, read_metrics, split_record, write_run


def test_write_run_files_and_metrics(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 500)
    p1 = np.clip(labels * 0.35 + rng.uniform(0, 0.65, 500), 0, 1)
    probs = np.stack([1 - p1, p1], axis=1)
    uids = np.arange(1000, 3000)
    splits = split_indices(uids)
    metrics = write_run(tmp_path / "run", name="toy", labels=labels, probs=probs, classes=["qcd", "top"],
                        history={"loss": [0.7, np.float32(0.5)]}, settings={"epochs": 2},
                        splits=split_record(splits, labels=uids % 2), command="fpgatag toy", uids=uids[:500])
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["history.json", "metrics.json", "predictions.npz", "roc.png", "run.json"]
    with np.load(tmp_path / "run" / "predictions.npz") as z:
        np.testing.assert_array_equal(z["uid"], uids[:500])
        np.testing.assert_array_equal(z["label"], labels)
        np.testing.assert_allclose(z["probs"], probs, rtol=1e-6)
    expected = classification_metrics(labels, probs)
    on_disk = read_metrics(tmp_path / "run")
    for key in REQUIRED_KEYS:
        assert on_disk[key] == pytest.approx(expected[key]) and metrics[key] == on_disk[key]
    assert on_disk["name"] == "toy" and on_disk["signal_class"] == "top"
    assert (tmp_path / "run" / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == {"loss": [0.7, 0.5]}
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["command"] == "fpgatag toy" and run["settings"] == {"epochs": 2}
    assert "tensorflow" in run["versions"] and run["created_utc"]
    assert sum(run["splits"]["counts"].values()) == uids.size
    assert run["splits"]["counts"]["test"] == splits["test"].size and run["splits"]["salt"] == 0
    assert "| toy " in metrics_table([metrics])


def test_write_run_saves_model(tmp_path):
    import tensorflow as tf

    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.io import load_inputs, load_model

    model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2, activation="softmax", name="out")])
    spec = InputSpec(kind="jet", features=["mass", "pt", "tau32"])
    write_run(tmp_path, name="m", labels=[0, 1, 0, 1], probs=[0.2, 0.9, 0.4, 0.3], model=model, inputs=spec)
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(load_model(tmp_path).predict(x, verbose=0), model.predict(x, verbose=0))
    assert load_inputs(tmp_path).features == ["mass", "pt", "tau32"]
    assert read_metrics(tmp_path)["auc"] == pytest.approx(0.75)
