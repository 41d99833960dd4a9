"""A teacher trained on another teacher's soft targets (the chain full view -> trigger view -> student)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError

TRIGGER_DENSE = {
    "description": "dense teacher on the flattened trigger view (small and fast, for tests)",
    "role": "teacher", "builder": "dense-teacher", "params": {"units": [32, 16], "dropout": 0.0, "batch_norm": False},
    "inputs": {"kind": "flat_trigger", "view": "candidates", "n_objects": 16,
               "features": ["deta", "dphi", "pt", "pt_rel", "log_pt", "dr", "charge", "pid"]},
    "training": {"optimizer": "adam", "learning_rate": 0.003, "schedule": "constant", "batch_size": 128, "epochs": 6},
}


def test_loss_from_probabilities_matches_logits():
    """The distillation loss on softmax probabilities equals the loss on the logits they came from."""
    from fpgatag.train.losses import DistillationLoss, distillation_loss_numpy, pack_targets

    rng = np.random.default_rng(3)
    s, t = rng.normal(0, 3, (64, 2)), rng.normal(0, 3, (64, 2))
    y = rng.integers(0, 2, 64)
    p = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    loss = DistillationLoss(alpha=0.3, temperature=2.0, n_classes=2, from_probabilities=True, reduction="none")
    got = loss(pack_targets(y, 2, t), p.astype(np.float32)).numpy()
    want = distillation_loss_numpy(np.eye(2)[y], t, s, 0.3, 2.0)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    assert DistillationLoss.from_config(loss.get_config()).from_probabilities


@pytest.fixture(scope="module")
def source_teacher(jets_file, tmp_path_factory):
    """A small full-view dense teacher and its logits for ``jets_file``, stored with their sign flipped:
    soft targets that say the opposite of the labels."""
    from fpgatag.train.soft_targets import teacher_predict
    from fpgatag.train.teacher import train_teacher

    base = tmp_path_factory.mktemp("chain")
    m = train_teacher(jets_file, model="dense-teacher", epochs=4, batch_size=128, out_dir=base / "full", n_particles=30,
                      seed=0, split_salt=5)
    assert m["auc"] > 0.8
    flipped = teacher_predict(base / "full", jets_file, output=base / "flipped.h5")
    with h5py.File(flipped, "r+") as f:
        f["logits"][...] = -f["logits"][...]
    (base / "trigger-dense.json").write_text(json.dumps(TRIGGER_DENSE))
    return base


def test_chain_teacher_learns_the_soft_targets(jets_file, source_teacher):
    """With alpha = 0 only the soft targets teach: the flipped teacher's logits give a tagger that ranks
    backwards (AUC below 0.5), on the source teacher's splits, and the run records where they came from."""
    from fpgatag.train.teacher import train_teacher

    out = source_teacher / "chain"
    m = train_teacher(jets_file, model=str(source_teacher / "trigger-dense.json"), out_dir=out, seed=0,
                      distill_from=source_teacher / "full", logits_file=source_teacher / "flipped.h5",
                      alpha=0.0, temperature=2.0)
    assert m["auc"] < 0.3, m["auc"]
    assert m["distilled_from"] == str((source_teacher / "full").resolve())
    run = json.loads((out / "run.json").read_text())
    full = json.loads((source_teacher / "full" / "run.json").read_text())
    assert run["splits"] == full["splits"] and run["splits"]["salt"] == 5
    rec = run["settings"]["distilled_from"]
    assert rec["alpha"] == 0.0 and rec["temperature"] == 2.0 and rec["logits_file"].endswith("flipped.h5")


def test_chain_teacher_bad_inputs(jets_file, source_teacher, tmp_path):
    """A logits file without its teacher, a bad alpha, or logits of other jets: one error, nothing written."""
    from fpgatag.train.teacher import train_teacher

    model = str(source_teacher / "trigger-dense.json")
    with pytest.raises(FpgatagError, match="logits_file needs distill_from"):
        train_teacher(jets_file, model=model, out_dir=tmp_path / "a", logits_file=source_teacher / "flipped.h5")
    with pytest.raises(FpgatagError, match="alpha"):
        train_teacher(jets_file, model=model, out_dir=tmp_path / "b", distill_from=source_teacher / "full",
                      logits_file=source_teacher / "flipped.h5", alpha=1.5)
    other = tmp_path / "other.h5"
    with h5py.File(source_teacher / "flipped.h5", "r") as f, h5py.File(other, "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        g["uid"], g["logits"] = f["uid"][:10], f["logits"][:10]
    with pytest.raises(FpgatagError, match="jets don't match"):
        train_teacher(jets_file, model=model, out_dir=tmp_path / "c", distill_from=source_teacher / "full",
                      logits_file=other)
    assert not any((tmp_path / d).exists() for d in "abc")
