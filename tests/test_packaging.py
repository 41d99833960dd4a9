"""fpgatag installed from its wheel, not from a source checkout: presets, reference models, training.

The wheel is built from a copy of the project's packaging files (pyproject.toml, README.md,
fpgatag/), installed with ``pip install --no-deps --target`` and run with this interpreter from
another working directory, with only the install folder on ``PYTHONPATH``: the dependencies come
from the environment, fpgatag and its presets from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, env, timeout=900):
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(install folder, environment) of fpgatag installed from a freshly built wheel."""
    tmp = tmp_path_factory.mktemp("packaging")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "fpgatag", src / "fpgatag", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FPGATAG_MODELS")}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(tmp / "dist"), str(src)], cwd=tmp, env=env)
    (wheel,) = (tmp / "dist").glob("fpgatag-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "fpgatag/presets/deepsets-l1.json" in names and "fpgatag/presets/particlenet-lite.json" in names
    site = tmp / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
         cwd=tmp, env=env)
    env["PYTHONPATH"] = str(site)
    return site, env


@pytest.mark.slow
def test_installed_wheel_lists_presets_and_trains_one(installed, jets_file, tmp_path):
    site, env = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = ("import json, fpgatag, fpgatag.nn.presets as p; "
             "print(json.dumps([fpgatag.__file__, p.list_presets('student'), p.load_preset('deepsets-l1')['params']]))")
    where, students, params = json.loads(_run([sys.executable, "-c", probe], elsewhere, env).stdout)
    assert Path(where).resolve().is_relative_to(site.resolve())   # the wheel's fpgatag, not the checkout's
    assert {"deepsets", "deepsets-l1", "mlp", "gru"} <= set(students)
    assert params["phi"] == [16, 16] and params["pool"] == "mean"  # extends deepsets, from package data

    script = [sys.executable, str(site / "bin" / "fpgatag")]        # the installed console script
    # a reference model from the source tree converts with the installed package, before any training
    ref = ROOT / "models" / "deepsets-l1-distilled"
    synth = json.loads(_run(script + ["synth", str(ref), "-o", str(tmp_path / "hls"), "--json"], elsewhere, env).stdout)
    assert synth["ii"] == 1 and (tmp_path / "hls" / "firmware" / "myproject.cpp").is_file()

    run = tmp_path / "run"
    _run(script + ["train-student", "--data", str(jets_file), "--student", "deepsets-l1", "--epochs", "2",
                   "-o", str(run)], elsewhere, env)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["student"] == "deepsets-l1" and metrics["n_test"] > 0 and 0.0 <= metrics["auc"] <= 1.0
    assert json.loads((run / "inputs.json").read_text())["input_bits"] == 16
