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


def run_killing_a_busy_worker(client, fn, wait_s: float = 60, join_s: float = 120, before_kill=None):
    """(fn(), {worker address: pid} before the kill): fn runs in a thread while the first worker seen
    busy is killed (SIGKILL, mid-task); ``before_kill()`` runs just before the kill."""
    pids = client.run(os.getpid)                  # worker address -> pid of its process
    box: dict = {}

    def run():
        try:
            box["out"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    t = threading.Thread(target=run)
    t.start()
    victim = None
    deadline = time.monotonic() + wait_s
    while victim is None and time.monotonic() < deadline and t.is_alive():
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        victim = busy[0] if busy else None
        time.sleep(0.05)
    assert victim is not None, "no task ever ran"
    if before_kill is not None:
        before_kill()
    os.kill(pids[victim], signal.SIGKILL)         # its task is lost with it
    t.join(join_s)
    assert not t.is_alive()
    assert "error" not in box, box.get("error")
    return box["out"], pids


def test_killed_worker_chunk_is_redone(cluster, local_file, tmp_path):
    cl, client = cluster
    out, _ = run_killing_a_busy_worker(client, lambda: generate(tmp_path / "killed.h5",
                                                                executor=client.get_executor(pure=False), **TINY))
    assert_same_datasets(local_file, out)   # every jet once, in order


def test_unreachable_scheduler_one_line_no_output(tmp_path):
    import socket

    with socket.socket() as s:   # a free port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "never.h5"
    t0 = time.monotonic()
    with pytest.raises(FpgatagError, match=rf"^scheduler tcp://127.0.0.1:{port}: no Dask scheduler answered"):
        generate(out, scheduler=f"tcp://127.0.0.1:{port}", **TINY)
    assert time.monotonic() - t0 < 30 and not out.exists()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", "generate", "-o", str(out), "--jets-per-class",
                           "4", "--scheduler", f"tcp://127.0.0.1:{port}"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and f"error: --scheduler tcp://127.0.0.1:{port}: no Dask scheduler answered" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()
    # sweep and validate connect first too: nothing is read, trained or written
    from fpgatag.fpga.validate import validate
    from fpgatag.report.sweep import SweepConfig, run_sweep

    data = tmp_path / "jets.h5"
    data.write_bytes(b"")
    with pytest.raises(FpgatagError, match="no Dask scheduler answered"):
        run_sweep(SweepConfig(data=str(data), out=str(tmp_path / "sweep"), scheduler=f"tcp://127.0.0.1:{port}"))
    assert not (tmp_path / "sweep").exists()
    with pytest.raises(FpgatagError, match="no Dask scheduler answered"):
        validate(tmp_path / "model-not-read", data, scheduler=f"tcp://127.0.0.1:{port}")


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


# ----------------------------------------------------------------------------------------------
# Teacher training across workers (tf.distribute), each worker a `fpgatag train-teacher` process

TEACHER = ["--model", "dense-teacher", "--epochs", "3", "--batch-size", "64", "--n-particles", "30", "--seed", "0",
           "--in-memory"]
# A multi-worker or mirrored run agrees with one worker when its test AUC lies within this many standard
# errors of the one-worker AUC (both errors combined; the same test jets, so the bound is loose).
AUC_TOLERANCE_SIGMA = 3.0


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _tf_config(ports: list[int], index: int) -> str:
    import json

    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def _teacher(data, out, log, epochs=None, **env):
    cmd = [sys.executable, "-m", "fpgatag.cli.main", "-v", "train-teacher", "--data", str(data), "-o", str(out),
           *TEACHER]
    if epochs is not None:
        cmd[cmd.index("--epochs") + 1] = str(epochs)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    with open(log, "w") as err:  # the child keeps its own copy of the file
        return subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)


def _metrics(run: Path) -> tuple[dict, dict]:
    import json

    return json.loads((run / "metrics.json").read_text()), json.loads((run / "run.json").read_text())


@pytest.fixture(scope="module")
def teachers(jets_file, tmp_path_factory):
    """The same teacher by one worker, two workers on localhost and two logical CPU devices, at once."""
    d = tmp_path_factory.mktemp("teachers")
    ports = _free_ports(2)
    procs = {
        "one": _teacher(jets_file, d / "one", d / "one.log"),
        "multi0": _teacher(jets_file, d / "multi", d / "multi0.log", TF_CONFIG=_tf_config(ports, 0)),
        "multi1": _teacher(jets_file, d / "multi", d / "multi1.log", TF_CONFIG=_tf_config(ports, 1)),
        "mirrored": _teacher(jets_file, d / "mirrored", d / "mirrored.log", FPGATAG_CPU_REPLICAS="2"),
    }
    try:
        for name, proc in procs.items():
            assert proc.wait(timeout=400) == 0, (d / f"{name}.log").read_text()[-3000:]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    return {name: _metrics(d / name) for name in ("one", "multi", "mirrored")}, d


@pytest.mark.parametrize("name, strategy", [("multi", "multi-worker-mirrored (2 workers"),
                                            ("mirrored", "mirrored (2 logical CPU devices)")])
def test_distributed_teacher_agrees_with_one_worker(teachers, name, strategy):
    runs, d = teachers
    (one, one_run), (other, other_run) = runs["one"], runs[name]
    assert one_run["settings"]["strategy"] == "default (CPU)"
    assert other_run["settings"]["strategy"].startswith(strategy)
    assert other["n_test"] == one["n_test"]                  # the same test jets
    tol = AUC_TOLERANCE_SIGMA * float(np.hypot(one["auc_err"], other["auc_err"]))
    assert abs(other["auc"] - one["auc"]) <= tol, (other["auc"], one["auc"], tol)
    assert other["auc"] > 0.6 and one["auc"] > 0.6            # both learned something
    assert not list(d.glob(".multi.worker-*"))                 # worker 1 wrote nothing that stays


def test_dead_worker_ends_the_run_with_one_line(jets_file, tmp_path):
    ports = _free_ports(2)
    env = dict(FPGATAG_HEARTBEAT_TIMEOUT_S="5", FPGATAG_CLUSTER_TIMEOUT_S="120")
    w0 = _teacher(jets_file, tmp_path / "run", tmp_path / "w0.log", epochs=1000, TF_CONFIG=_tf_config(ports, 0), **env)
    w1 = _teacher(jets_file, tmp_path / "run", tmp_path / "w1.log", epochs=1000, TF_CONFIG=_tf_config(ports, 1), **env)
    try:
        deadline = time.monotonic() + 300
        while "epoch 1:" not in (tmp_path / "w0.log").read_text():   # both are training
            assert w0.poll() is None and w1.poll() is None, (tmp_path / "w0.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the two workers never started training"
            time.sleep(0.5)
        os.killpg(w1.pid, signal.SIGKILL)
        t0 = time.monotonic()
        rc = w0.wait(timeout=120)                                  # bounded: no hang
        assert time.monotonic() - t0 < 60
    finally:
        for proc in (w0, w1):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    log = (tmp_path / "w0.log").read_text()
    assert rc == 2 and "Traceback" not in log
    assert log.strip().splitlines()[-1].startswith("fpgatag train-teacher: error: multi-worker training: a worker "
                                                   "was lost or did not answer")
    assert not (tmp_path / "run").exists()


def test_worker_that_never_joins_is_one_line_and_bounded(jets_file, tmp_path):
    ports = _free_ports(2)
    w0 = _teacher(jets_file, tmp_path / "run", tmp_path / "w0.log", TF_CONFIG=_tf_config(ports, 0),
                  FPGATAG_CLUSTER_TIMEOUT_S="5")
    try:
        rc = w0.wait(timeout=120)
    finally:
        if w0.poll() is None:
            os.killpg(w0.pid, signal.SIGKILL)
    log = (tmp_path / "w0.log").read_text()
    assert rc != 0 and "Traceback" not in log
    assert log.strip().splitlines()[-1] == ("fpgatag: error: multi-worker training: not all 2 workers of TF_CONFIG "
                                            "joined within 5 s (FPGATAG_CLUSTER_TIMEOUT_S); start every worker and "
                                            "check the addresses")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value, field", [("{not json", "not JSON"), ('{"cluster": {"worker": []}, "task": {}}', "cluster"),
                                          ('{"cluster": {"ps": ["h:1"]}, "task": {"type": "ps", "index": 0}}', "unknown job"),
                                          ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 1}}',
                                           "task must name")])
def test_bad_tf_config_is_one_line(monkeypatch, value, field):
    from fpgatag.train.distribute import read_tf_config

    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(FpgatagError, match=field) as err:
        read_tf_config()
    assert str(err.value).startswith("TF_CONFIG: ") and "\n" not in str(err.value)
