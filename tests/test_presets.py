"""Preset files: schema checks that name the file and key, ``extends``, the preset folder override."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.presets import PACKAGE_PRESET_DIR, list_presets, load_preset, preset_dir


def _write(folder: Path, name: str, data: dict) -> Path:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


def test_every_shipped_preset_loads_and_the_deepsets_variants_extend_deepsets():
    names = list_presets()
    assert len(names) == len(list(PACKAGE_PRESET_DIR.glob("*.json"))) >= 17
    for name in names:
        preset = load_preset(name)
        assert preset["name"] == name and preset["description"] and preset["role"] in ("teacher", "student", "autoencoder")
        assert not {"bits", "integer_bits"} & set(preset["inputs"])      # input precision has its own names
    base = load_preset("deepsets")
    for name, changed in {"deepsets-l1": ("params", "training"), "deepsets-max": ("params",),
                          "deepsets-logpt": ("inputs",), "deepsets-towers": ("inputs",)}.items():
        assert json.loads((PACKAGE_PRESET_DIR / f"{name}.json").read_text())["extends"] == "deepsets"
        preset = load_preset(name)
        for section in ("params", "inputs", "training"):
            assert (preset[section] != base[section]) == (section in changed), (name, section)
    l1 = load_preset("deepsets-l1")
    assert l1["params"] == {**base["params"], "phi": [16, 16], "rho": [16]} and l1["training"]["sparsity"] == 0.75


@pytest.mark.parametrize("data, message", [
    ({"extends": "deepsets", "params": {"phii": [8]}}, r"params\.phii is not a parameter of builder 'deepsets'"),
    ({"extends": "gru", "params": {"unit": 8}}, r"params\.unit is not a parameter of builder 'gru'"),
    ({"extends": "ae-jet", "params": {"latnt": 2}}, r"params\.latnt is not a parameter of builder 'autoencoder'"),
    ({"extends": "deepsets", "training": {"learnin_rate": 0.1}}, r"training\.learnin_rate is not a student training setting"),
    ({"extends": "particlenet-lite", "training": {"sparsity": 0.5}}, r"training\.sparsity is not a teacher training setting"),
    ({"extends": "deepsets", "training": {"epochs": "ten"}}, r"training\.epochs must be int, got 'ten'"),
    ({"extends": "deepsets", "inputs": {"n_object": 8}}, r"inputs: unknown setting\(s\) n_object"),
    ({"extends": "deepsets", "trainig": {}}, r"unknown preset key\(s\) trainig"),
    ({"extends": "no-such-base"}, r"extends 'no-such-base', which is not a preset"),
    ({"extends": "bad.json"}, r"extends 'bad.json' makes a cycle"),
    ({"role": "student", "builder": "deepsets", "params": {},
      "inputs": {"kind": "trigger", "features": ["pt"], "bits": 16, "integer_bits": 6}},
     r"inputs\.bits is an old name: rename inputs\.bits to inputs\.input_bits and inputs\.integer_bits to "
     r"inputs\.input_integer_bits"),
    ({"role": "student", "builder": "nope", "params": {}, "inputs": {}}, r"builder 'nope' is not a model builder; known: autoencoder, deepsets"),
])
def test_a_bad_preset_is_one_line_naming_file_and_key(tmp_path, data, message):
    path = _write(tmp_path, "bad", data)
    with pytest.raises(FpgatagError, match=message) as info:
        load_preset(str(path))
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_extends_a_file_relative_to_the_extending_file(tmp_path):
    _write(tmp_path, "mine", {"extends": "deepsets", "params": {"phi": [8]}, "description": "mine"})
    sub = tmp_path / "sub"
    sub.mkdir()
    child = _write(sub, "child", {"extends": "../mine.json", "params": {"rho": [4]}})
    preset = load_preset(str(child), role="student")
    assert preset["name"] == "child" and preset["description"] == "mine"
    assert preset["params"]["phi"] == [8] and preset["params"]["rho"] == [4] and preset["params"]["bits"] == 8


def test_fpgatag_models_replaces_the_preset_folder(tmp_path, monkeypatch):
    (tmp_path / "presets").mkdir()
    _write(tmp_path / "presets", "tiny", {"extends": str(PACKAGE_PRESET_DIR / "mlp.json"), "params": {"hidden": [4]}})
    monkeypatch.setenv("FPGATAG_MODELS", str(tmp_path))
    assert preset_dir() == tmp_path / "presets" and list_presets() == ["tiny"]
    assert load_preset("tiny", role="student")["params"]["hidden"] == [4]
    with pytest.raises(FpgatagError, match="unknown student preset 'deepsets'; known: tiny"):
        load_preset("deepsets", role="student")


def test_cli_refuses_a_bad_preset_before_training(tmp_path, jets_file):
    path = _write(tmp_path, "typo", {"extends": "deepsets", "training": {"epoch": 3}})
    proc = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", "train-student", "--data", str(jets_file),
                           "--student", str(path), "-o", str(tmp_path / "run")], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "typo.json" in line]
    assert lines and "training.epoch is not a student training setting" in lines[0]
    assert not (tmp_path / "run").exists()
