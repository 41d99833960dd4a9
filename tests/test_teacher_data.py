"""fpgatag.train.data: streaming tf.data batches from a jet file through an InputSpec."""

from __future__ import annotations

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.core.splits import split_indices
from fpgatag.nn.inputs import InputSpec
from fpgatag.train.data import as_source, fit_inputs, load_arrays, make_dataset

FEATURES = ["deta", "dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "dr", "charge",
            "is_electron", "is_muon", "is_photon", "is_charged_hadron", "is_neutral_hadron"]


@pytest.fixture(scope="module")
def source(jets_file):
    return as_source(jets_file)


@pytest.fixture(scope="module")
def spec(source):
    s = InputSpec(kind="particles", n_objects=20, features=FEATURES)
    return fit_inputs(source, s, np.arange(0, source.n_jets, 3))


def _collect(ds):
    xs, ys, es = [], [], []
    for item in ds:
        xs.append(item[0].numpy())
        ys.append(item[1].numpy())
        if len(item) > 2:
            es.append(item[2].numpy())
    return np.concatenate(xs), np.concatenate(ys), (np.concatenate(es) if es else None)


def test_stream_matches_arrays_in_file_order(source, spec):
    idx = split_indices(source.uids())["val"]
    x_mem, y_mem = load_arrays(source, spec, idx)
    # small blocks, so the stream really reads the file in several pieces
    x, y, uid = _collect(make_dataset(source, spec, idx, 32, extra=source.uids(), block_batches=2))
    np.testing.assert_array_equal(uid, source.uids()[idx])
    np.testing.assert_array_equal(x, x_mem)
    np.testing.assert_array_equal(y, y_mem)
    np.testing.assert_array_equal(y, source.labels()[idx])
    assert x.shape == (idx.size, 20, len(FEATURES)) and x.dtype == np.float32


def test_shuffled_epochs_visit_every_row_once(source, spec):
    idx = split_indices(source.uids())["train"][:700]
    ds = make_dataset(source, spec, idx, 64, shuffle=True, seed=3, extra=np.arange(source.n_jets), block_batches=2)
    _, y1, rows1 = _collect(ds)
    _, _, rows2 = _collect(ds)
    assert sorted(rows1.tolist()) == sorted(idx.tolist()) == sorted(rows2.tolist())
    assert not np.array_equal(rows1, rows2)            # reshuffled each epoch
    assert not np.array_equal(rows1, np.sort(rows1))   # and really shuffled
    np.testing.assert_array_equal(y1, source.labels()[rows1])  # labels travel with their jets
    _, _, again = _collect(make_dataset(source, spec, idx, 64, shuffle=True, seed=3,
                                        extra=np.arange(source.n_jets), block_batches=2))
    np.testing.assert_array_equal(again, rows1)         # same seed, same order


def test_extra_must_align_with_file(source, spec):
    with pytest.raises(FpgatagError, match="rows"):
        make_dataset(source, spec, [0, 1, 2], 8, extra=np.zeros(5))
    with pytest.raises(FpgatagError, match="no jets"):
        make_dataset(source, spec, [], 8)


def test_fitted_scales_are_sane(spec):
    # rare one-hot features (is_muon) must not get enormous scales from a zero 5-95 % spread
    assert max(spec.scale) < 100 and min(spec.scale) > 0


def test_missing_file_is_user_error(tmp_path):
    with pytest.raises(FpgatagError, match="not found"):
        as_source(tmp_path / "nope.h5")
