"""An interrupted sweep resumes without repeating finished points."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest


def _sweep_cmd(data, out, bits):
    return [sys.executable, "-m", "fpgatag.cli.main", "sweep", "--data", str(data), "-o", str(out),
            "--bits", *map(str, bits), "--n-objects", "8", "--epochs", "2", "--workers", "1"]


@pytest.mark.slow
def test_interrupted_sweep_resumes(jets_file, tmp_path):
    out = tmp_path / "sweep"
    first = out / "deepsets_b4_n8"
    proc = subprocess.Popen(_sweep_cmd(jets_file, out, [4, 8, 6]), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while not (first / "hls_rf1" / "estimate.json").is_file():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "first sweep point did not finish in time"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGTERM)  # interrupt while later points run
    proc.communicate(timeout=60)  # waits, and closes the pipes
    finished_mtime = (first / "metrics.json").stat().st_mtime
    # no half-written point: the interrupted point left no directory (finished or temporary), the
    # queued one never started, and the finished one is complete
    entries = sorted(p.name for p in out.iterdir())
    assert not [e for e in entries if e.endswith(".tmp")], f"temporary outputs left behind: {entries}"
    points = sorted(p.name for p in out.glob("deepsets_b*_n8"))
    assert points == [first.name], f"only the finished point may exist after the interrupt: {entries}"
    assert (first / "hls_rf1" / "estimate.json").is_file()

    done = subprocess.run(_sweep_cmd(jets_file, out, [4, 8]), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "sweep.json").read_text())
    assert str(first) in summary["skipped"]
    assert (first / "metrics.json").stat().st_mtime == finished_mtime
    assert (out / "deepsets_b8_n8" / "hls_rf1" / "estimate.json").is_file()


def test_sweep_shards_partition_the_grid():
    from fpgatag.report.sweep import SweepConfig, grid

    full = grid(SweepConfig(data="x"))
    parts = [grid(SweepConfig(data="x", shard=f"{i}/3")) for i in range(3)]
    assert sorted(p for part in parts for p in part) == sorted(full) and len(full) == 12
    assert not set(parts[0]) & set(parts[1])
