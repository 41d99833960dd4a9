"""The notebooks execute without error on a tiny demo run (they hold no pipeline logic)."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_committed_without_outputs():
    assert len(NOTEBOOKS) >= 2
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name} has outputs"


def _as_make_demo_writes_it(demo_run: Path, root: Path) -> Path:
    """The demo run laid out as ``make demo`` leaves it: ``runs/demo`` under ``root``, its jets in
    ``runs/demo/jets.h5`` and demo.json naming them relative to ``root`` (where make ran)."""
    run = root / "runs" / "demo"
    shutil.copytree(demo_run, run)
    summary = json.loads((run / "demo.json").read_text())
    shutil.copy(summary["data"], run / "jets.h5")
    summary["data"] = "runs/demo/jets.h5"
    (run / "demo.json").write_text(json.dumps(summary))
    return run


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, demo_run, tmp_path, monkeypatch):
    """Each notebook runs from notebooks/ on a demo run whose data path is relative."""
    monkeypatch.delenv("FPGATAG_DATA", raising=False)
    monkeypatch.setenv("FPGATAG_RUN_DIR", str(_as_make_demo_writes_it(demo_run, tmp_path)))
    monkeypatch.setenv("FPGATAG_REPORT_DIR", str(tmp_path / "nb"))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    assert (tmp_path / "nb").is_dir()
