import json

import numpy as np
import pytest

from fpgatag.core.config import parse_shard
from fpgatag.core.errors import FpgatagError
from fpgatag.core.io import atomic_dir, atomic_path, read_json, write_json
from fpgatag.nn.inputs import InputSpec, quantize_fixed


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_a_previous_output_of_its_kind(tmp_path):
    from fpgatag.core.io import OUTPUT_MARKER, dir_kind

    target = tmp_path / "run"
    with atomic_dir(target, kind="run") as tmp:
        (tmp / "old").write_text("x")
    assert dir_kind(target) == "run"
    with atomic_dir(target, kind="run") as tmp:
        (tmp / "new").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == sorted([OUTPUT_MARKER, "new"])
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_atomic_dir_never_replaces_other_data(tmp_path):
    from fpgatag.core.errors import FpgatagError
    from fpgatag.core.io import forcing

    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.tex").write_text("x")
    with pytest.raises(FpgatagError, match="not an fpgatag output"):
        with atomic_dir(target, kind="run") as tmp:
            (tmp / "new").write_text("y")
    assert [p.name for p in target.iterdir()] == ["thesis.tex"]
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]   # the temporary directory is gone
    with forcing(), atomic_dir(target, kind="run") as tmp:
        (tmp / "new").write_text("y")
    assert (target / "new").is_file() and not (target / "thesis.tex").exists()


def test_json_roundtrip_numpy(tmp_path):
    write_json(tmp_path / "m.json", {"a": np.float32(1.5), "b": np.arange(3)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1.5, "b": [0, 1, 2]}


def test_read_json_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(FpgatagError) as err:
        read_json(bad, "metrics file")
    assert "bad.json" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(FpgatagError, match="not found"):
        read_json(tmp_path / "missing.json")


@pytest.mark.parametrize("text,expected", [(None, (0, 1)), ("0/1", (0, 1)), ("2/4", (2, 4))])
def test_parse_shard(text, expected):
    assert parse_shard(text) == expected


@pytest.mark.parametrize("text", ["3/2", "2/2", "a/b", "1", "0/0"])
def test_parse_shard_rejects(text):
    with pytest.raises(FpgatagError, match="^shard "):   # the library names its argument; the CLI passes its flag
        parse_shard(text)
    with pytest.raises(FpgatagError, match="^--shard "):
        parse_shard(text, option="--shard")


def test_quantize_fixed_grid_and_saturation():
    x = np.array([0.1, -0.1, 100.0, -100.0, 0.123456])
    q = quantize_fixed(x, 8, 3)  # step 1/32, range [-4, 4 - 1/32]
    assert q[2] == pytest.approx(4 - 1 / 32) and q[3] == -4
    assert np.all(np.abs(q[:2] * 32 - np.round(q[:2] * 32)) == 0)


def test_inputspec_validation():
    with pytest.raises(FpgatagError, match="unknown kind"):
        InputSpec(kind="pixels", features=["pt"])
    with pytest.raises(FpgatagError, match="both input_bits"):
        InputSpec(kind="trigger", features=["pt"], input_bits=8)
    with pytest.raises(FpgatagError, match="unknown setting"):
        InputSpec.from_dict({"kind": "trigger", "features": ["pt"], "colour": 1})


def test_folds_are_uid_keyed_balanced_and_independent_of_the_split():
    from fpgatag.core.splits import assign_folds, assign_splits

    uids = np.arange(10_000, dtype=np.int64) * 7919 + 13
    folds = assign_folds(uids, 3)
    assert folds.min() == 0 and folds.max() == 2
    np.testing.assert_allclose(np.bincount(folds) / uids.size, 1 / 3, atol=0.02)
    perm = np.random.default_rng(0).permutation(uids.size)
    np.testing.assert_array_equal(assign_folds(uids[perm], 3), folds[perm])  # order does not matter
    assert not np.array_equal(assign_folds(uids, 3, salt=1), folds)
    # every split is spread evenly over the folds
    splits = assign_splits(uids)
    for s in range(3):
        np.testing.assert_allclose(np.bincount(folds[splits == s], minlength=3) / np.sum(splits == s), 1 / 3, atol=0.05)
    with pytest.raises(ValueError):
        assign_folds(uids, 0)


def test_parse_fold_names_the_option():
    with pytest.raises(FpgatagError, match=r"^--fold 2/2: .*folds are numbered"):
        parse_shard("2/2", option="--fold", what="folds")
