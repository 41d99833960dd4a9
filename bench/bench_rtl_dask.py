"""Benchmark: ``validate --rtl`` (Verilator) in this process against a Dask LocalCluster, on one machine.

A small Deep Sets student (8 objects x 5 features, as in tests/test_fpga_rtl.py) is written to RTL
(``synth_rtl(..., yosys=False)``) and validated on ``--n`` random jets, ``--repeats`` times,
interleaved (so load drifts hit every configuration alike):

* **local**: ``validate_rtl(..., workers=2)``: one Verilator build, 2 simulation threads;
* **LocalCluster(2), cold**: a fresh ``distributed.LocalCluster`` (2 worker processes of one thread),
  ``validate_rtl(..., executor=...)`` in chunks of ``--chunk-jets``: the RTL sources go to the workers
  as one archive and each worker builds once;
* **LocalCluster(2), warm**: the same call again on that cluster: the workers keep their simulators.

Wall time of the ``validate_rtl`` call (Keras predictions on the client and the builds included; the
cluster's start-up measured apart, not counted). "identical": every validate.json figure equals the
local run's. Mean +- standard deviation over repeats.

    nice -n 5 python bench/bench_rtl_dask.py            # about 5 minutes on 2 cores
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common as C   # the repository on sys.path
from fpgatag.core.metrics import format_table
from fpgatag.core.provenance import provenance

log = logging.getLogger("fpgatag.bench.rtl_dask")

FIGURES = ("n_jets", "bit_exact_fraction", "bit_exact_outputs_fraction", "max_abs_diff", "argmax_agreement",
           "auc_keras", "auc_hls", "metrics_keras", "metrics_hls", "passed")
CONFIGS = ("local", "LocalCluster(2), cold", "LocalCluster(2), warm")


def make_rtl(tmp: Path, n: int) -> tuple[Path, Path, Path]:
    """(student run dir, RTL dir, jets .npy with labels beside it)."""
    import numpy as np

    from fpgatag.fpga.examples import deep_sets, inputs_for
    from fpgatag.fpga.rtl_flow import synth_rtl
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.io import save_model

    spec = InputSpec(kind="trigger", features=["pt", "deta", "dphi", "pt_rel", "dr"], n_objects=8,
                     input_bits=10, input_integer_bits=4)
    save_model(deep_sets(8, 5, (8,), (8,), 2, bits=6, seed=4, sparsity=0.5), tmp / "student", spec)
    synth_rtl(tmp / "student", part="xcvu9p", output_dir=tmp / "rtl", clock_period=5.0, yosys=False)
    x = inputs_for(deep_sets(8, 5, (8,), (8,), 2), n, seed=2, scale=3.0)
    np.save(tmp / "x.npy", x)
    np.save(tmp / "x_labels.npy", (x[:, :, 0].sum(axis=1) > 0).astype(int))
    return tmp / "student", tmp / "rtl", tmp / "x.npy"


def _row(config: str, rep: int, res: dict, wall: float, start: float, load0: float) -> dict:
    builds = res.get("build_s_per_worker")
    return {"config": config, "repeat": rep, "wall_s": wall, "jets_per_s": res["n_jets"] / wall, "start_s": start,
            "build_s": res["compile_s"], "builds": 1 if builds is None else len(builds),
            "build_s_per_worker": builds, "rtlsim_s": res["rtlsim_s"], "chunks": res.get("chunks", 1),
            "load_1min": [load0, os.getloadavg()[0]], "figures": {k: res.get(k) for k in FIGURES}}


def one_repeat(rep: int, student: Path, rtl: Path, jets: Path, n: int, chunk: int) -> list[dict]:
    from distributed import Client, LocalCluster

    from fpgatag.fpga.validate import validate_rtl

    kw = dict(n=n, min_bit_exact=0.0, min_argmax=0.0)
    rows = []
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    res = validate_rtl(student, jets, rtl, workers=2, **kw)
    rows.append(_row(CONFIGS[0], rep, res, time.perf_counter() - t0, 0.0, load0))
    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        start = time.perf_counter() - t0
        for config in CONFIGS[1:]:
            load0, t0 = os.getloadavg()[0], time.perf_counter()
            res = validate_rtl(student, jets, rtl, executor=client.get_executor(pure=False), chunk_jets=chunk, **kw)
            rows.append(_row(config, rep, res, time.perf_counter() - t0, start, load0))
    for r in rows:
        log.info("%s", {k: v for k, v in r.items() if k != "figures"})
    return rows


def _ms(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else float("nan"))


def summarize(runs: list[dict]) -> list[dict]:
    reference = runs[0]["figures"]
    rows = []
    for config in CONFIGS:
        mine = [r for r in runs if r["config"] == config]
        wall, wall_sd = _ms([r["wall_s"] for r in mine])
        rate, rate_sd = _ms([r["jets_per_s"] for r in mine])
        build, build_sd = _ms([r["build_s"] for r in mine])
        rows.append({"engine": config, "runs": len(mine), "jets": mine[0]["figures"]["n_jets"],
                     "chunks": mine[0]["chunks"], "wall s": f"{wall:.1f} +- {wall_sd:.1f}",
                     "jets/s": f"{rate:.0f} +- {rate_sd:.0f}", "builds": mine[0]["builds"],
                     "build s (slowest)": f"{build:.1f} +- {build_sd:.1f}",
                     "sim s": f"{_ms([r['rtlsim_s'] for r in mine])[0]:.2f}",
                     "cluster start s": "-" if config == "local" else f"{_ms([r['start_s'] for r in mine])[0]:.1f}",
                     "identical": all(r["figures"] == reference for r in mine)})
    return rows


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--n", type=int, default=10000, help="jets validated")
    ap.add_argument("--chunk-jets", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    C.start(args)
    with tempfile.TemporaryDirectory() as d:
        student, rtl, jets = make_rtl(Path(d), args.n)
        runs = [r for rep in range(args.repeats) for r in one_repeat(rep, student, rtl, jets, args.n, args.chunk_jets)]
    rows = summarize(runs)
    load = _ms([v for r in runs for v in r["load_1min"]])[0]
    note = (f"Machine: {os.cpu_count()} cores, shared with other long jobs (Yosys runs, trainings) that come and go; "
            f"mean 1-minute load average {load:.1f} during the runs; run under nice -n 5: absolute times are "
            "pessimistic and noisy. The two cluster workers "
            "build the same RTL at the same time on those 2 cores, so a cold cluster run costs about one build "
            "slowed by sharing plus the chunks; the simulation itself is a fraction of a second for this student. "
            "A cluster pays where the simulation, not the build, is the work: many jets, a large circuit, many "
            "machines.")
    result = {"benchmark": "rtl_dask", "n": args.n, "chunk_jets": args.chunk_jets, "repeats": args.repeats,
              "student": "deep_sets(8, 5, (8,), (8,), 2, bits=6, seed=4, sparsity=0.5), input ap_fixed<10,4>",
              "runs": runs, "summary": rows, "mean_load_1min": load, "machine": C.machine(), "note": note,
              "provenance": provenance({"n": args.n, "chunk_jets": args.chunk_jets, "repeats": args.repeats})}
    cols = ["engine", "runs", "jets", "chunks", "wall s", "jets/s", "builds", "build s (slowest)", "sim s",
            "cluster start s", "identical"]
    md = (f"# validate --rtl: one process against a Dask LocalCluster\n\n{note}\n\n"
          f"`validate_rtl` of a small Deep Sets student on {args.n} random jets, {args.repeats} repeats per engine, "
          "interleaved; mean +- standard deviation over repeats. Wall time of the call (Keras on the client and "
          "the Verilator builds included, the cluster's start-up not); jets/s = jets / wall. \"builds\": Verilator "
          "builds in the run (cold cluster: one per worker; warm: the workers kept theirs). \"identical\": every "
          f"validate.json figure equals the local run's.\n\n{format_table(rows, cols)}\n")
    C.write(args.out, "rtl_dask", result, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
