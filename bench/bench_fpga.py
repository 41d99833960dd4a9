#!/usr/bin/env python
"""Firmware benchmark: convert+compile time, and C-simulation throughput of `fpgatag validate`'s
batched path against plain hls4ml ``predict()`` on the same model and inputs, in the same run.

Also records the estimator's figures for the Level-1 reference student (16 objects x 8 features,
phi 32-32, rho 32-16, 2 logits, 8 bits) and a few smaller/pruned variants, against a VU9P.

    python bench/bench_fpga.py --quick     # small run (minutes on 2 shared cores)
    python bench/bench_fpga.py             # more jets
    python bench/bench_fpga.py --render bench/results/fpga.json   # only rewrite fpga.md from it

Writes bench/results/fpga.{json,md}.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import _common as C  # noqa: E402  (the repository on sys.path)
from fpgatag.core.io import read_json  # noqa: E402
from fpgatag.core.metrics import format_table  # noqa: E402
from fpgatag.core.provenance import provenance  # noqa: E402

log = logging.getLogger("fpgatag.bench.fpga")
IN_PREC = (10, 4)

SCENARIOS = [  # (label, kwargs of fpgatag.fpga.examples.deep_sets)
    ("32-wide deepsets: phi 32-32, rho 32-16, 8 bit, drawn (glorot)", dict(phi=(32, 32), rho=(32, 16), bits=8)),
    ("same, L1-like weights", dict(phi=(32, 32), rho=(32, 16), bits=8, l1_like=True)),
    ("same, L1-like, 50% pruned", dict(phi=(32, 32), rho=(32, 16), bits=8, l1_like=True, sparsity=0.5)),
    ("same, L1-like, 75% pruned", dict(phi=(32, 32), rho=(32, 16), bits=8, l1_like=True, sparsity=0.75)),
    ("phi 16-16, rho 16, 8 bit, L1-like, 50% pruned", dict(phi=(16, 16), rho=(16,), bits=8, l1_like=True, sparsity=0.5)),
    ("phi 16-16, rho 16, 6 bit, L1-like, 75% pruned", dict(phi=(16, 16), rho=(16,), bits=6, l1_like=True, sparsity=0.75)),
]


def timed(fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t


def throughput(model, n_predict: int, n_batch: int, workers: int) -> dict:
    from fpgatag.fpga import csim
    from fpgatag.fpga.convert import convert
    from fpgatag.fpga.examples import inputs_for
    from fpgatag.nn.inputs import quantize_fixed

    x = quantize_fixed(inputs_for(model, max(n_predict, n_batch), seed=1, scale=6.0), *IN_PREC)
    tmp = tempfile.mkdtemp(prefix="fpgatag-bench-fpga-")
    (hm, _, _), t_convert = timed(convert, model, Path(tmp) / "prj", input_precision=IN_PREC)
    with contextlib.redirect_stdout(io.StringIO()):
        _, t_compile = timed(hm.compile)
    shim, t_shim = timed(csim.build_shim, hm)
    with contextlib.redirect_stdout(io.StringIO()):
        y_pred, t_pred = timed(hm.predict, np.ascontiguousarray(x[:n_predict]))
    y_pred = np.asarray(y_pred).reshape(n_predict, -1)
    n_out = y_pred.shape[1]
    rows = {"hls4ml predict()": (n_predict, t_pred)}
    outs = {}
    for w in sorted({1, workers}):
        outs[w], t = timed(csim.run_batch, shim, x[:n_batch], n_out, workers=w)
        rows[f"validate batch, {w} worker(s)"] = (n_batch, t)
    identical = all(np.array_equal(o[:n_predict], y_pred) for o in outs.values())
    y_keras = model.predict(x[:n_batch], batch_size=2048, verbose=0)
    bit_exact = float(np.mean(np.all(outs[workers] == y_keras, axis=1)))
    base = n_predict / t_pred
    table = [{"path": k, "jets": n, "seconds": t, "jets_per_s": n / t, "speedup": (n / t) / base} for k, (n, t) in rows.items()]
    return {"convert_s": t_convert, "compile_s": t_compile, "shim_s": t_shim, "throughput": table,
            "identical_to_predict": identical, "bit_exact_vs_keras": bit_exact, "cpu_count": os.cpu_count(),
            "load_avg_1min": os.getloadavg()[0]}


def estimates() -> list[dict]:
    from fpgatag.fpga.estimate import estimate_model
    from fpgatag.fpga.examples import deep_sets

    rows = []
    for label, kw in SCENARIOS:
        e = estimate_model(deep_sets(16, 8, n_out=2, seed=0, **kw), part="xcvu9p", input_precision=(8, 4))
        rows.append({"model": label, "latency_ns": e["latency_ns"], "ii": e["ii"], "dsp": e["dsp"], "lut": e["lut"],
                     "ff": e["ff"], "bram18": e["bram18"], "lut_pct": 100 * e["fraction"]["lut"],
                     "max_pct": 100 * e["max_fraction"],
                     "meets_50ns_ii1": e["latency_ns"] <= 50 and e["ii"] == 1, "within_5pct": e["max_fraction"] <= 0.05})
    return rows


def trained_student(path: Path, epochs: int) -> dict:
    """Train the Level-1 reference student (8 bit) on a jets file for a few epochs; estimate and validate it."""
    import tensorflow as tf

    from fpgatag.core.splits import split_indices
    from fpgatag.data.io import open_jets
    from fpgatag.fpga.estimate import estimate_model
    from fpgatag.fpga.examples import deep_sets
    from fpgatag.fpga.validate import validate
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.io import save_model

    with open_jets(path) as src:
        split = split_indices(src.uids())
        batch = src.read()
    spec = InputSpec(kind="trigger", features=["pt", "deta", "dphi", "pt_rel", "log_pt", "dr", "charge", "pid"],
                     n_objects=16, input_bits=IN_PREC[0], input_integer_bits=IN_PREC[1])
    spec.fit({k: v[split["train"]] for k, v in batch.items()})
    x, y = spec.transform(batch), np.asarray(batch["label"], dtype=int)
    model = deep_sets(16, 8, (32, 32), (32, 16), 2, bits=8, seed=0)
    model.compile(optimizer=tf.keras.optimizers.Adam(3e-3),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x[split["train"]], y[split["train"]], epochs=epochs, batch_size=128, verbose=0)
    run = Path(tempfile.mkdtemp(prefix="fpgatag-bench-student-"))
    save_model(model, run, spec)
    est = estimate_model(model, part="xcvu9p", input_precision=IN_PREC)
    val = validate(run, path, n=10000)
    return {"data": str(path), "epochs": epochs, "n_train": int(split["train"].size),
            "estimate": {k: est[k] for k in ("latency_ns", "ii", "dsp", "lut", "ff", "bram18", "max_fraction")},
            "validate": {k: val[k] for k in ("n", "bit_exact_fraction", "argmax_agreement", "auc_keras", "auc_hls",
                                             "jets_per_s")}}


def models(quick: bool) -> dict:
    """The throughput models: {label: (model, (jets through predict(), jets through the batched path))}."""
    from fpgatag.fpga.examples import deep_sets, mlp

    return {
        "deep_sets 16x8, phi 32-32, rho 32-16, 2 logits, 8 bit": (deep_sets(16, 8, (32, 32), (32, 16), 2, bits=8, seed=0),
                                                                 (1000, 4000) if quick else (5000, 20000)),
        "deep_sets 16x8, phi 16-16, rho 16, 8 bit, 75% pruned (deepsets-l1 shape)": (
            deep_sets(16, 8, (16, 16), (16,), 2, bits=8, seed=0, l1_like=True, sparsity=0.75),
            (2000, 10000) if quick else (10000, 50000)),
        "mlp 16-32-16-2, 8 bit": (mlp(16, (32, 16), 2, bits=8, seed=0), (2000, 20000) if quick else (10000, 100000)),
    }


def markdown(result: dict) -> list[str]:
    """The Markdown report of a result (also re-rendered from a stored fpga.json)."""
    tps, est, trained = result["models"], result["estimates"], result["trained"]
    any_tp = next(iter(tps.values()))
    md = ["# Firmware benchmark", "",
          f"Machine: {any_tp['cpu_count']} cores shared with other jobs (1-min load average "
          f"{max(t['load_avg_1min'] for t in tps.values()):.1f} during the run). Inputs ap_fixed<10,4>.", ""]
    for name, tp in tps.items():
        md += [f"## {name}", "",
               f"- convert: {tp['convert_s']:.2f} s, hls4ml compile (g++): {tp['compile_s']:.1f} s, batch shim: {tp['shim_s']:.2f} s",
               f"- batched outputs identical to hls4ml predict(): {tp['identical_to_predict']}; bit-exact vs Keras: "
               f"{tp['bit_exact_vs_keras']:.4f}", "",
               format_table(tp["throughput"], ["path", "jets", "seconds", "jets_per_s", "speedup"]), ""]
    md += ["## Estimates for the Level-1 reference target (xcvu9p, 5 ns clock, Vitis csynth target)", "",
           format_table(est, ["model", "latency_ns", "ii", "dsp", "lut", "lut_pct", "max_pct", "meets_50ns_ii1", "within_5pct"]), ""]
    if trained is not None:
        v = trained["validate"]
        md += [f"Trained student, `fpgatag validate` on the test split of {Path(trained['data']).name} ({v['n']} jets): "
               f"bit-exact {v['bit_exact_fraction']:.4f}, argmax agreement {v['argmax_agreement']:.4f}, "
               f"AUC Keras {v['auc_keras']:.4f} / firmware {v['auc_hls']:.4f}.", ""]
    return md + [""]


def main(argv=None) -> int:
    ap = C.parser(__doc__, None)
    ap.add_argument("--quick", action="store_true", help="small run")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", type=Path, default=None,
                    help="jets file: also train the Level-1 reference student on it for a few epochs, estimate and validate it")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--render", type=Path, default=None, metavar="JSON", help="only rewrite fpga.md from this fpga.json")
    args = ap.parse_args(argv)
    C.start(args)
    if args.render is not None:
        C.write(args.out, "fpga", None, markdown(read_json(args.render, "benchmark result")))
        return 0
    tps = {}
    for name, (model, (n_predict, n_batch)) in models(args.quick).items():
        log.info("%s: %d jets with predict(), %d with the batched path", name, n_predict, n_batch)
        tps[name] = throughput(model, n_predict, n_batch, args.workers)
    log.info("estimates for the Level-1 reference student")
    est = estimates()
    trained = None
    if args.data is not None:
        log.info("training the Level-1 reference student on %s", args.data)
        trained = trained_student(args.data, args.epochs)
        e = trained["estimate"]
        est.append({"model": f"32-wide deepsets student trained {args.epochs} epochs on {args.data.name}", **{k: e[k] for k in (
            "latency_ns", "ii", "dsp", "lut", "ff", "bram18")}, "lut_pct": None, "max_pct": 100 * e["max_fraction"],
            "meets_50ns_ii1": e["latency_ns"] <= 50 and e["ii"] == 1, "within_5pct": e["max_fraction"] <= 0.05})
    result = {"quick": args.quick, "input_precision": list(IN_PREC), "models": tps, "estimates": est, "trained": trained,
              "provenance": provenance({"quick": args.quick, "workers": args.workers})}
    C.write(args.out, "fpga", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
