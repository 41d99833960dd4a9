"""Shared fixtures.

* Any test that logs at ERROR fails (a silent error log is a bug).
* ``jets_file``: one small generated dataset (top vs QCD, both views) made once per session with
  the real Pythia 8 + FastJet generator and shared by every stage's tests. It is cached under
  ``tests/.cache`` keyed by the generator's source, so local re-runs skip generation; CI starts clean.
* ``demo_run``: one tiny end-to-end demo run, made once per session.

The suite runs in two pytest-xdist worker processes (``-n 2 --dist loadfile`` in pyproject.toml: a
file's tests, and so its module fixtures, stay on one worker; ``-n 0`` runs it in one process). The
session fixtures are made once for all workers: the first worker to need one makes it under a file
lock, the others wait for it and read it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import pytest

from fpgatag.core.io import exclusive_lock

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


def _locked(path: Path):
    """An exclusive lock on ``path``, held by one process (one xdist worker) at a time."""
    return exclusive_lock(path)


def _shared_dir(tmp_path_factory) -> Path:
    """This session's temporary folder that every xdist worker sees (one process: its own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def jets_file() -> Path:
    """A generated top-vs-QCD file with JETS_PER_CLASS jets per class (seed 1234)."""
    from fpgatag.data.generate import generate

    path = CACHE / f"jets-{JETS_PER_CLASS}-{_source_key()}.h5"
    with _locked(CACHE / "jets.lock"):
        if not path.exists():
            for old in CACHE.glob("jets-*.h5"):
                old.unlink()
            generate(path, processes=("qcd", "top"), jets_per_class=JETS_PER_CLASS, seed=1234, workers=2)
    return path


@pytest.fixture(scope="session")
def demo_run(jets_file, tmp_path_factory) -> Path:
    """A tiny end-to-end demo run (every stage) on the shared dataset."""
    from fpgatag.report.demo import DemoConfig, run_demo

    shared = _shared_dir(tmp_path_factory)
    out = shared / "demo-run"
    with _locked(shared / "demo-run.lock"):
        if not (out / "demo.json").exists():   # demo.json is the run's last file: a finished run
            shutil.rmtree(out, ignore_errors=True)   # what a failed run left
            cfg = DemoConfig(out=out, data=jets_file, teacher_epochs=3, teacher_particles=32, student_epochs=8,
                             validate_n=300, student_seeds=(1, 2), yosys=False)
            run_demo(cfg)
    return out
