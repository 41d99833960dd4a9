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


def test_atomic_dir_replaces_existing(tmp_path):
    target = tmp_path / "run"
    target.mkdir()
    (target / "old").write_text("x")
    with atomic_dir(target) as tmp:
        (tmp / "new").write_text("y")
    assert sorted(p.name for p in target.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


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
    with pytest.raises(FpgatagError, match="--shard"):
        parse_shard(text)


def test_quantize_fixed_grid_and_saturation():
    x = np.array([0.1, -0.1, 100.0, -100.0, 0.123456])
    q = quantize_fixed(x, 8, 3)  # step 1/32, range [-4, 4 - 1/32]
    assert q[2] == pytest.approx(4 - 1 / 32) and q[3] == -4
    assert np.all(np.abs(q[:2] * 32 - np.round(q[:2] * 32)) == 0)


def test_inputspec_validation():
    with pytest.raises(FpgatagError, match="unknown kind"):
        InputSpec(kind="pixels", features=["pt"])
    with pytest.raises(FpgatagError, match="both bits"):
        InputSpec(kind="trigger", features=["pt"], bits=8)
    with pytest.raises(FpgatagError, match="unknown setting"):
        InputSpec.from_dict({"kind": "trigger", "features": ["pt"], "colour": 1})
