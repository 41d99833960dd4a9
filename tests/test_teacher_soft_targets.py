"""Soft targets: teacher-predict writes logits keyed to the data file; mismatched jets are refused."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.train.data import as_source
from fpgatag.train.soft_targets import load_soft_targets, read_soft_targets, teacher_predict, uid_fingerprint


@pytest.fixture(scope="module")
def teacher_dir(jets_file, tmp_path_factory):
    from fpgatag.train.teacher import train_teacher

    out = tmp_path_factory.mktemp("teacher") / "dense-small"
    train_teacher(jets_file, model="dense-teacher", epochs=1, batch_size=128, out_dir=out, max_jets=600,
                  n_particles=16, seed=1)
    return out


def _copy_rows(source, rows, path):
    """Write rows of ``source`` (in the given order) as a new native file."""
    from fpgatag.data.io import write_jets

    unique, inverse = np.unique(np.asarray(rows), return_inverse=True)
    batch = {k: v[inverse] for k, v in source.read(indices=unique).items()}
    attrs = {k: v for k, v in source.attrs.items() if k not in ("format", "schema_version", "n_jets")}
    write_jets(path, batch, attrs)
    return path


def test_round_trip(teacher_dir, jets_file, tmp_path):
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.train.data import load_arrays

    source = as_source(jets_file)
    out = teacher_predict(teacher_dir, jets_file, output=tmp_path / "logits.h5")
    rec = read_soft_targets(out)
    assert rec["n_jets"] == source.n_jets and rec["uid_fingerprint"] == uid_fingerprint(source.uids())
    assert rec["teacher_name"] == "dense-small" and str(jets_file.name) in rec["data_path"]
    logits = load_soft_targets(out, source)
    assert logits.shape == (source.n_jets, 2) and logits.dtype == np.float32
    # softmax of the stored logits is what the model predicts
    rows = np.arange(0, source.n_jets, 37)
    x, _ = load_arrays(source, load_inputs(teacher_dir), rows)
    probs = load_model(teacher_dir).predict(x, verbose=0)
    z = logits[rows] - logits[rows].max(axis=1, keepdims=True)
    np.testing.assert_allclose(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), probs, atol=1e-5)


def test_default_name_beside_data(teacher_dir, jets_file, tmp_path):
    data = _copy_rows(as_source(jets_file), np.arange(50), tmp_path / "few.h5")
    out = teacher_predict(teacher_dir, data)
    assert out.parent == tmp_path and out.is_file()
    assert re.fullmatch(r"few\.h5\.logits\.dense-small-[0-9a-f]{8}\.h5", out.name), out.name


def test_mismatched_jets_are_refused(teacher_dir, jets_file, tmp_path):
    source = as_source(jets_file)
    out = teacher_predict(teacher_dir, jets_file, output=tmp_path / "all.h5")
    fewer = _copy_rows(source, np.arange(source.n_jets - 1), tmp_path / "fewer.h5")
    with pytest.raises(FpgatagError, match="jets don't match"):
        load_soft_targets(out, fewer)
    # same count, one jet replaced by a duplicate of another: uids differ
    rows = np.arange(source.n_jets)
    rows[5] = 6
    other = _copy_rows(source, rows, tmp_path / "other.h5")
    with pytest.raises(FpgatagError, match="more than once"):   # a file whose uids repeat is refused
        load_soft_targets(out, other)
    with pytest.raises(FpgatagError, match="not found"):
        load_soft_targets(tmp_path / "missing.h5", source)


def test_reordered_jets_are_realigned(teacher_dir, jets_file, tmp_path):
    source = as_source(jets_file)
    out = teacher_predict(teacher_dir, jets_file, output=tmp_path / "all.h5")
    rows = np.random.default_rng(0).permutation(source.n_jets)
    shuffled = _copy_rows(source, rows, tmp_path / "shuffled.h5")
    np.testing.assert_array_equal(load_soft_targets(out, shuffled), load_soft_targets(out, source)[rows])


@pytest.fixture(scope="module")
def fold_dirs(jets_file, tmp_path_factory):
    from fpgatag.train.teacher import train_teacher

    root = tmp_path_factory.mktemp("folds")
    dirs = []
    for i in range(2):
        out = root / f"dense-fold{i}"
        train_teacher(jets_file, model="dense-teacher", epochs=1, batch_size=128, out_dir=out, max_jets=600,
                      n_particles=16, seed=1, fold=(i, 2))
        dirs.append(out)
    return dirs


def test_fold_teacher_leaves_its_fold_out(fold_dirs, teacher_dir, jets_file):
    from fpgatag.core.io import read_json
    from fpgatag.core.splits import assign_folds, split_indices, select_jets

    source = as_source(jets_file)
    uids = np.asarray(source.uids())
    chosen = select_jets(source.n_jets, 600, 1)
    train = chosen[split_indices(uids[chosen])["train"]]
    full = read_json(teacher_dir / "run.json")["splits"]["counts"]
    assert full["train"] == train.size
    for i, d in enumerate(fold_dirs):
        run = read_json(d / "run.json")
        fold = run["settings"]["fold"]
        assert (fold["index"], fold["count"]) == (i, 2)
        kept = int(np.sum(assign_folds(uids[train], 2) != i))
        assert run["splits"]["counts"]["train"] == kept and 0.3 * train.size < kept < 0.7 * train.size
        assert run["splits"]["counts"]["test"] == full["test"]  # the same test jets as the full teacher
        assert read_json(d / "metrics.json")["fold"] == f"{i}/2"


def test_out_of_fold_logits_come_from_the_teacher_that_never_saw_the_jet(fold_dirs, jets_file, tmp_path):
    from fpgatag.core.splits import assign_folds

    source = as_source(jets_file)
    out = teacher_predict(fold_dirs[::-1], jets_file)  # any order
    assert re.fullmatch(re.escape(f"{jets_file.name}.logits.dense-fold-oof2-") + "[0-9a-f]{8}.h5", out.name)
    rec = read_soft_targets(out)
    assert rec["out_of_fold"] == 2 and rec["teacher_name"] == "dense-fold-oof2"
    oof = load_soft_targets(out, source)
    folds = assign_folds(np.asarray(source.uids()), 2)
    for i, d in enumerate(fold_dirs):
        single = load_soft_targets(teacher_predict(d, jets_file, output=tmp_path / f"f{i}.h5"), source)
        # equal up to float rounding (other batch composition)
        np.testing.assert_allclose(oof[folds == i], single[folds == i], atol=1e-5)
        assert not np.allclose(oof[folds != i], single[folds != i], atol=1e-3)
    out.unlink()


def test_out_of_fold_refuses_mismatched_teachers(fold_dirs, teacher_dir, jets_file, tmp_path):
    import shutil

    with pytest.raises(FpgatagError, match="not a fold teacher"):
        teacher_predict([fold_dirs[0], teacher_dir], jets_file, output=tmp_path / "x.h5")
    with pytest.raises(FpgatagError, match="given twice"):
        teacher_predict([fold_dirs[0], fold_dirs[0]], jets_file, output=tmp_path / "x.h5")
    copy = tmp_path / "dense-fold0-copy"
    shutil.copytree(fold_dirs[0], copy)
    with pytest.raises(FpgatagError, match=r"each of the 2 folds once, got folds \[0, 0\]"):
        teacher_predict([fold_dirs[0], copy], jets_file, output=tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()
