"""Shared fixtures.

* Any test that logs at ERROR fails (a silent error log is a bug).
* ``jets_file``: one small generated dataset (top vs QCD, both views) made once per session with
  the real Pythia 8 + FastJet generator and shared by every stage's tests. It is cached under
  ``tests/.cache`` keyed by the generator's source, so local re-runs skip generation; CI starts clean.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1") if os.environ.get("CI") else None

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "tests" / ".cache"

# Size of the shared dataset: enough for teachers and students to beat chance clearly.
JETS_PER_CLASS = int(os.environ.get("FPGATAG_TEST_JETS", "1000"))


@pytest.fixture(autouse=True)
def _fail_on_error_logs(caplog):
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    if errors:
        pytest.fail("test logged at ERROR: " + "; ".join(r.getMessage() for r in errors))


def _source_key() -> str:
    h = hashlib.sha256()
    for path in sorted((ROOT / "fpgatag" / "data").glob("*.py")) + [ROOT / "fpgatag" / "core" / "schema.py"]:
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


@pytest.fixture(scope="session")
def jets_file() -> Path:
    """A generated top-vs-QCD file with JETS_PER_CLASS jets per class (seed 1234)."""
    from fpgatag.data.generate import generate

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"jets-{JETS_PER_CLASS}-{_source_key()}.h5"
    if not path.exists():
        for old in CACHE.glob("jets-*.h5"):
            old.unlink()
        generate(path, processes=("qcd", "top"), jets_per_class=JETS_PER_CLASS, seed=1234, workers=2)
    return path


@pytest.fixture(scope="session")
def demo_run(jets_file, tmp_path_factory) -> Path:
    """A tiny end-to-end demo run (every stage) on the shared dataset."""
    from fpgatag.report.demo import DemoConfig, run_demo

    out = tmp_path_factory.mktemp("demo")
    cfg = DemoConfig(out=out, data=jets_file, teacher_epochs=3, teacher_particles=32, student_epochs=8, validate_n=300,
                     student_seeds=(1, 2), yosys=False)
    run_demo(cfg)
    return out
