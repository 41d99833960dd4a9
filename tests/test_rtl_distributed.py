"""``validate --rtl`` on a Dask cluster: the same figures as in one process, one build per worker,
the RTL sources shipped as one archive, a killed worker's chunk redone, a scheduler that does not answer.

Real QKeras student, real da4ml RTL, real Verilator builds, a real ``distributed.LocalCluster``
(2 worker processes, one thread each) started here.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import distributed   # a declared dependency: missing, the tests fail
import numpy as np
import pytest

from test_distributed import run_killing_a_busy_worker
import test_fpga_rtl
from test_fpga_rtl import IN_PREC, _run

from fpgatag.core.errors import FpgatagError
from fpgatag.fpga.examples import deep_sets, inputs_for
from fpgatag.nn.inputs import quantize_fixed

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ds_dir = test_fpga_rtl.ds_dir   # the small saved Deep Sets student (a fixture)
N_JETS = 2400
CHUNK = 200    # 12 chunks over 2 workers
FIGURES = ("n", "n_jets", "bit_exact_fraction", "bit_exact_outputs_fraction", "max_abs_diff", "argmax_agreement",
           "auc_keras", "auc_hls", "accuracy_keras", "accuracy_hls", "metrics_keras", "metrics_hls",
           "input_precision", "latency_cycles", "passed", "failures")


@pytest.fixture(scope="module")
def rtl_dir(ds_dir, tmp_path_factory):
    from fpgatag.fpga.rtl_flow import synth_rtl

    out = tmp_path_factory.mktemp("rtl") / "rtl"
    synth_rtl(ds_dir, part="xcvu9p", output_dir=out, clock_period=5.0, yosys=False)
    return out


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    """Jets off the input grid (validate quantizes them) and labels that depend on them (so the
    classification figures depend on the jets' order)."""
    d = tmp_path_factory.mktemp("jets")
    x = inputs_for(deep_sets(8, 5, (8,), (8,), 2), N_JETS, seed=2, scale=3.0)
    np.save(d / "x.npy", x)
    np.save(d / "x_labels.npy", (x[:, :, 0].sum(axis=1) > 0).astype(int))
    return d / "x.npy"


@pytest.fixture(scope="module")
def local(ds_dir, rtl_dir, jets):
    from fpgatag.fpga.validate import validate_rtl

    return validate_rtl(ds_dir, jets, rtl_dir, n=N_JETS, min_bit_exact=0.0, min_argmax=0.0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    for name in ("distributed", "distributed.nanny", "distributed.worker", "distributed.scheduler"):
        logging.getLogger(name).setLevel(logging.CRITICAL)   # a killed worker is logged at ERROR by design
    tmp = tmp_path_factory.mktemp("workers")   # the workers' builds (a killed one leaves its own behind)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.CRITICAL, env={"TMPDIR": str(tmp)}) as cl, \
            distributed.Client(cl) as client:
        yield cl, client


def assert_same_figures(remote: dict, local: dict) -> None:
    for key in FIGURES:
        assert remote.get(key) == local.get(key), key


def test_cluster_equals_one_process_and_builds_once_per_worker(cluster, local, ds_dir, rtl_dir, jets, tmp_path):
    from fpgatag.fpga.validate import validate_rtl

    cl, client = cluster
    assert local["metrics_hls"] is not None and local["bit_exact_fraction"] == 1.0
    kw = dict(n=N_JETS, min_bit_exact=0.0, min_argmax=0.0, chunk_jets=CHUNK)
    remote = validate_rtl(ds_dir, jets, rtl_dir, executor=client.get_executor(pure=False), output=tmp_path, **kw)
    assert_same_figures(remote, local)
    assert json.loads((tmp_path / "validate.json").read_text())["bit_exact_fraction"] == local["bit_exact_fraction"]
    assert remote["chunks"] == N_JETS // CHUNK and remote["workers"] == 2 and "Dask cluster" in remote["engine"]
    ran = remote["chunks_per_worker"]
    assert sum(ran.values()) == remote["chunks"]
    # every worker that simulated built the RTL once, not once per chunk
    assert remote["builds"] == len(ran) == len(remote["build_s_per_worker"]) and set(remote["build_s_per_worker"]) == set(ran)
    assert all(s > 0 for s in remote["build_s_per_worker"].values())
    assert remote["compile_s"] == max(remote["build_s_per_worker"].values())
    # again, through the scheduler's address: the workers keep their simulators (same archive hash)
    again = validate_rtl(ds_dir, jets, rtl_dir, scheduler=cl.scheduler_address, **kw)
    assert_same_figures(again, local)
    assert again["builds"] == 0 and again["rtl_archive_sha256"] == remote["rtl_archive_sha256"]
    # the command line passes --scheduler through
    assert _run(["validate", str(ds_dir), "--data", str(jets), "--rtl", str(rtl_dir), "--n", str(N_JETS),
                 "--scheduler", cl.scheduler_address, "--min-bit-exact", "0", "--min-argmax", "0",
                 "-o", str(tmp_path / "cli.json")]) == 0
    assert_same_figures(json.loads((tmp_path / "cli.json").read_text()), json.loads(json.dumps(local)))


def test_pack_unpack_round_trip(rtl_dir, tmp_path):
    from fpgatag.fpga.rtlsim import pack_rtl, unpack_rtl

    archive, digest = pack_rtl(rtl_dir)
    assert pack_rtl(rtl_dir) == (archive, digest)   # the same sources, the same bytes
    out = unpack_rtl(archive, tmp_path / "a", digest)
    got = {p.relative_to(out).as_posix() for p in out.rglob("*")}
    want = {p.relative_to(rtl_dir).as_posix() for part in ("src", "sim") for p in (rtl_dir / part).rglob("*")}
    assert got == want | {"src", "sim", "model", "model/pipeline.json"}
    assert (out / "src" / "memfiles").is_dir()   # empty, but the simulator runs in it
    for rel in got:
        if (out / rel).is_file():
            assert (out / rel).read_bytes() == (rtl_dir / rel).read_bytes(), rel
    assert not (out / "manifest.json").exists() and not (out / "estimate.json").exists()
    # build products are left out; a changed source changes the hash
    copy = tmp_path / "copy"
    shutil.copytree(rtl_dir, copy)
    (copy / "sim" / "obj_dir").mkdir()
    (copy / "sim" / "obj_dir" / "Vmodel.o").write_bytes(b"\0" * 64)
    (copy / "sim" / "libmodel_wrapper_x.so").write_bytes(b"\0" * 64)
    assert pack_rtl(copy) == (archive, digest)
    (copy / "src" / "model.v").write_text((copy / "src" / "model.v").read_text() + "\n// changed\n")
    assert pack_rtl(copy)[1] != digest
    with pytest.raises(FpgatagError, match="SHA-256"):
        unpack_rtl(archive[:-1] + bytes([archive[-1] ^ 1]), tmp_path / "b", digest)
    with pytest.raises(FpgatagError, match="not empty"):
        unpack_rtl(archive, tmp_path / "a")
    shutil.rmtree(copy / "sim")
    with pytest.raises(FpgatagError, match="sim missing"):
        pack_rtl(copy)


def test_killed_worker_chunk_is_redone_from_the_archive_alone(cluster, local, ds_dir, rtl_dir, jets, tmp_path):
    """A worker killed while it builds: its chunk is redone and the figures are unchanged. The RTL
    directory is deleted before the kill, so the worker that replaces it builds from the archive only."""
    from fpgatag.fpga import rtlsim
    from fpgatag.fpga.validate import rtl_chunk, validate_rtl

    cl, client = cluster
    copy = tmp_path / "rtl"
    shutil.copytree(rtl_dir, copy)   # a new hash, so the workers build again (and are busy long enough)
    (copy / "src" / "model.v").write_text((copy / "src" / "model.v").read_text() + "\n// a copy\n")
    archive, digest = rtlsim.pack_rtl(copy)
    out, pids = run_killing_a_busy_worker(
        client, lambda: validate_rtl(ds_dir, jets, copy, n=N_JETS, min_bit_exact=0.0, min_argmax=0.0, chunk_jets=CHUNK,
                                     executor=client.get_executor(pure=False)),
        wait_s=120, join_s=300, before_kill=lambda: shutil.rmtree(copy))   # mid-build: its chunk is lost with it
    assert_same_figures(out, local)
    assert sum(out["chunks_per_worker"].values()) == N_JETS // CHUNK
    # the worker started in the victim's place simulates from the archive alone (the directory is gone)
    client.wait_for_workers(2, timeout=120)
    new = [w for w in client.nthreads() if w not in pids]
    assert new, "the killed worker was not replaced"
    xq = quantize_fixed(np.load(jets)[:CHUNK], *IN_PREC)
    got = client.submit(rtl_chunk, {"archive": archive, "sha256": digest}, xq, workers=new[:1], pure=False).result(300)
    from fpgatag.fpga.convert import load_model_like

    assert local["bit_exact_fraction"] == 1.0   # so the RTL's outputs are Keras's, bit for bit
    want = load_model_like(ds_dir).model.predict(xq, verbose=0)
    np.testing.assert_array_equal(got["y"], want)
    assert got["worker"].endswith(f":{client.run(os.getpid, workers=new[:1])[new[0]]}")


def test_unreachable_scheduler_one_line_no_output(ds_dir, rtl_dir, jets, tmp_path):
    from fpgatag.fpga.validate import validate_rtl

    with socket.socket() as s:   # a free port: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    t0 = time.monotonic()
    with pytest.raises(FpgatagError, match=rf"^scheduler {address}: no Dask scheduler answered"):
        validate_rtl(tmp_path / "model-not-read", tmp_path / "data-not-read", tmp_path / "rtl-not-read", scheduler=address)
    assert time.monotonic() - t0 < 30
    assert not (rtl_dir / "validate.json").exists()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "fpgatag.cli.main", "validate", str(ds_dir), "--data", str(jets),
                           "--rtl", str(rtl_dir), "--scheduler", address], capture_output=True, text=True, env=env,
                          timeout=180)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and f"error: --scheduler {address}: no Dask scheduler answered" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (rtl_dir / "validate.json").exists()
