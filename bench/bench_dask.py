"""Benchmark: generation on a Dask cluster against the local process pool, on the same machine.

In the same run, interleaved (so load drifts hit every configuration alike), ``--repeats`` times:

* **local pool, 2 processes**: ``generate(..., workers=2)`` (today's default path);
* **LocalCluster, 1 and 2 workers**: a fresh ``distributed.LocalCluster`` (worker processes of one
  thread) per measurement, ``generate(..., executor=client.get_executor())``.

Every run generates the same job (seed, jets, chunks), so each file is also checked to hold the same
datasets as the local one. Wall times; the cluster's start-up is measured apart and not counted in
the run. Overhead = LocalCluster(2) wall / local pool(2) wall - 1 per repeat; the spread is the
standard deviation over repeats.

    nice python bench/bench_dask.py --quick     # minutes
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

import _common as C   # the repository on sys.path
from fpgatag.core.metrics import format_table
from fpgatag.core.provenance import provenance
from fpgatag.data.generate import generate

log = logging.getLogger("fpgatag.bench.dask")


def _datasets(path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def _same(a, b) -> bool:
    da, db = _datasets(a), _datasets(b)
    return sorted(da) == sorted(db) and all(np.array_equal(da[k], db[k]) for k in da)


def run_local(path: Path, job: dict, workers: int) -> dict:
    t0 = time.perf_counter()
    generate(path, workers=workers, **job)
    return {"wall_s": time.perf_counter() - t0, "start_s": 0.0}


def run_cluster(path: Path, job: dict, workers: int) -> dict:
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        started = time.perf_counter() - t0
        t1 = time.perf_counter()
        generate(path, executor=client.get_executor(pure=False), **job)
        return {"wall_s": time.perf_counter() - t1, "start_s": started}


CONFIGS = [("local pool", 2, run_local), ("LocalCluster", 1, run_cluster), ("LocalCluster", 2, run_cluster)]


def _stats(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--quick", action="store_true", help="small run (about 40 jets per class, 2 repeats)")
    ap.add_argument("--jets-per-class", type=int, default=None)
    ap.add_argument("--chunk-jets", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    C.start(args)
    n = args.jets_per_class or (40 if args.quick else 200)
    repeats = args.repeats or (2 if args.quick else 3)
    job = dict(jets_per_class=n, seed=21, settings={"chunk_jets": args.chunk_jets})
    runs: list[dict] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        reference = None
        for rep in range(repeats):
            for name, workers, fn in CONFIGS:
                path = tmp / f"{name.replace(' ', '_')}-{workers}-{rep}.h5"
                log.info("repeat %d: %s, %d worker(s)", rep, name, workers)
                load0 = os.getloadavg()[0]
                r = fn(path, job, workers)
                r["load_1min"] = [load0, os.getloadavg()[0]]   # the machine's load before and after the run
                reference = reference or path
                r.update(config=name, workers=workers, repeat=rep, identical_to_local=_same(reference, path),
                         jets=2 * n, jets_per_s=2 * n / r["wall_s"])
                if path != reference:
                    path.unlink()
                runs.append(r)
                log.info("%s", r)
    rows = []
    for name, workers, _ in CONFIGS:
        mine = [r for r in runs if r["config"] == name and r["workers"] == workers]
        rate, rate_sd = _stats([r["jets_per_s"] for r in mine])
        wall, wall_sd = _stats([r["wall_s"] for r in mine])
        start, _ = _stats([r["start_s"] for r in mine])
        rows.append({"engine": name, "workers": workers, "runs": len(mine), "jets per run": 2 * n,
                     "wall s": f"{wall:.1f} +- {wall_sd:.1f}", "jets/s": f"{rate:.2f} +- {rate_sd:.2f}",
                     "cluster start s": f"{start:.1f}" if name != "local pool" else "-",
                     "identical": all(r["identical_to_local"] for r in mine)})
    by = {(r["config"], r["workers"], r["repeat"]): r for r in runs}
    overhead = [100 * (by[("LocalCluster", 2, k)]["wall_s"] / by[("local pool", 2, k)]["wall_s"] - 1)
                for k in range(repeats)]
    ov, ov_sd = _stats(overhead)
    load = _stats([v for r in runs for v in r["load_1min"]])[0]
    scaling = [by[("LocalCluster", 1, k)]["wall_s"] / by[("LocalCluster", 2, k)]["wall_s"] for k in range(repeats)]
    sc, sc_sd = _stats(scaling)
    result = {
        "benchmark": "dask", "quick": bool(args.quick), "jets_per_class": n, "chunk_jets": args.chunk_jets,
        "tasks_per_run": 2 * -(-n // args.chunk_jets), "repeats": repeats, "runs": runs,
        "overhead_pct_localcluster2_vs_pool2": {"mean": ov, "sd": ov_sd, "per_repeat": overhead},
        "speedup_2_vs_1_dask_workers": {"mean": sc, "sd": sc_sd, "per_repeat": scaling},
        "mean_load_1min": load, "cpu_count": os.cpu_count(),
        "note": "Wall times on a 2-core machine shared with other jobs: absolute rates are pessimistic and noisy; the "
                "configurations run interleaved so drifts hit all alike. The cluster start-up (scheduler and worker "
                "processes) is not in the run's wall time. Each run starts fresh worker processes (the pool is made "
                "per generate call, the cluster per measurement), so both pay the imports of Pythia and FastJet.",
        "provenance": provenance({"jets_per_class": n, "repeats": repeats}),
    }
    cols = ["engine", "workers", "runs", "jets per run", "wall s", "jets/s", "cluster start s", "identical"]
    md = (f"# Dask benchmark{' (--quick)' if args.quick else ''}\n\n"
          f"`generate` of {n} jets per class (qcd + top, {result['tasks_per_run']} chunks of {args.chunk_jets} jets), "
          f"{repeats} repeats per engine, interleaved; mean +- standard deviation over repeats.\n\n"
          f"{format_table(rows, cols)}\n\n"
          f"Overhead of a LocalCluster with 2 workers against the local pool with 2 processes: {ov:+.1f} +- {ov_sd:.1f} % "
          f"of wall time ({repeats} paired repeats). Speed-up of 2 Dask workers over 1: {sc:.2f} +- {sc_sd:.2f} "
          f"({os.cpu_count()} cores, mean 1-minute load average {load:.1f} during the runs: with the cores already "
          f"busy, a second worker cannot add much). \"identical\": every file holds the same datasets as the local "
          f"pool's.\n\n{result['note']}\n")
    C.write(args.out, "dask", result, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
