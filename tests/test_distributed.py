"""Runs on a Dask cluster: the same output as the local run, a killed worker, a scheduler that does not answer.

The cluster is a real ``distributed.LocalCluster`` (2 worker processes, one thread each) started here.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import distributed   # a declared dependency: missing, the tests fail
import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.data.generate import generate
from fpgatag.data.io import open_jets

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(jets_per_class=8, seed=11, settings={"chunk_jets": 4})   # 2 chunks x 2 processes = 4 tasks


def _datasets(path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def assert_same_datasets(a, b) -> None:
    da, db = _datasets(a), _datasets(b)
    assert sorted(da) == sorted(db)
    for name in da:
        np.testing.assert_array_equal(da[name], db[name], err_msg=name)


@pytest.fixture(scope="module")
def cluster():
    for name in ("distributed", "distributed.nanny", "distributed.worker", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.CRITICAL)   # a killed worker is logged at ERROR by design
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cl, distributed.Client(cl) as client:
        yield cl, client


@pytest.fixture(scope="module")
def local_file(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("local") / "local.h5", workers=1, **TINY)


def test_cluster_output_identical_to_local(cluster, local_file, tmp_path):
    cl, client = cluster
    out = generate(tmp_path / "dask.h5", executor=client.get_executor(pure=False), **TINY)
    assert_same_datasets(local_file, out)
    with open_jets(out) as src:
        assert src.n_jets == 16 and len(np.unique(src.uids())) == 16


def test_killed_worker_chunk_is_redone(cluster, local_file, tmp_path):
    cl, client = cluster
    pids = client.run(os.getpid)                  # worker address -> pid of its process
    box: dict = {}

    def run():
        try:
            box["out"] = generate(tmp_path / "killed.h5", executor=client.get_executor(pure=False), **TINY)
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline and t.is_alive():
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        if busy:
            victim = busy[0]
        time.sleep(0.05)
    assert victim is not None, "no task ever ran"
    os.kill(pids[victim], signal.SIGKILL)         # mid-chunk: its task is lost with it
    t.join(120)
    assert not t.is_alive()
    assert "error" not in box, box.get("error")
    assert_same_datasets(local_file, box["out"])   # every jet once, in order


def test_unreachable_scheduler_one_line_no_output(tmp_path):
    import socket

    with socket.socket() as s:   # a free port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "never.h5"
    t0 = time.monotonic()
    with pytest.raises(FpgatagError, match=rf"--scheduler tcp://127.0.0.1:{port}: no Dask scheduler answered"):
        generate(out, scheduler=f"tcp://127.0.0.1:{port}", **TINY)
    assert time.monotonic() - t0 < 30 and not out.exists()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", "generate", "-o", str(out), "--jets-per-class",
                           "4", "--scheduler", f"tcp://127.0.0.1:{port}"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no Dask scheduler answered" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_validate_in_chunks_on_the_cluster_equals_one_process(cluster, tmp_path):
    from fpgatag.fpga.examples import inputs_for, mlp
    from fpgatag.fpga.validate import validate
    from fpgatag.nn.io import save_model
    from fpgatag.nn.inputs import quantize_fixed

    cl, client = cluster
    model = mlp(16, (16,), 2, bits=6, seed=5)
    save_model(model, tmp_path / "mlp")
    x = quantize_fixed(inputs_for(model, 5000, seed=2, scale=8.0), 12, 5)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "x_labels.npy", (x[:, 0] > 0).astype(int))
    kw = dict(n=5000, input_precision=(12, 5), min_bit_exact=0.0, min_argmax=0.0)
    local = validate(tmp_path / "mlp", tmp_path / "x.npy", **kw)
    one = sorted(client.nthreads())[:1]   # one worker builds the firmware: three chunks, in order, combined
    remote = validate(tmp_path / "mlp", tmp_path / "x.npy", executor=client.get_executor(workers=one, pure=False), **kw)
    assert remote["chunks"] == 3 and remote["n"] == local["n"] == 5000
    for key in ("bit_exact_fraction", "bit_exact_outputs_fraction", "max_abs_diff", "max_diff_lsb",
                "argmax_agreement", "auc_keras", "auc_hls", "metrics_hls", "output_type", "widened", "passed"):
        assert remote[key] == local[key], key
