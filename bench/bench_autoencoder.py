"""Benchmark: autoencoder compression of jets for the trigger, and its encoder's firmware.

Runs ``train-ae`` for

* ``ae-jet`` (pt, eta, phi, mass -> 3 x 8 bits) trained on QCD only (anomaly detection: top is the
  signal) and on all jets (compression alone),
* ``ae-jet`` with latent size 2,
* ``ae-objects`` (8 leading L1 candidates x (pt, deta, dphi) -> 8 x 8 bits) trained on QCD,

then ``synth`` (estimated latency, II, resources) and ``validate`` (g++ C simulation of the
encoder against QKeras) on each encoder. Per run: the residual mean and RMS per variable (with
errors and N), the reconstruction MSE, the compression in bits, the anomaly AUC with its error.

    python bench/bench_autoencoder.py --data jets.h5 [--epochs 100]

Writes bench/results/autoencoder.json and autoencoder.md.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpgatag.core.io import write_json, write_text  # noqa: E402
from fpgatag.core.logs import setup_logging  # noqa: E402
from fpgatag.core.metrics import format_table  # noqa: E402

log = logging.getLogger("fpgatag.bench.autoencoder")  # shown by fpgatag's log set-up

RUNS = (  # (tag, preset, overrides)
    ("ae-jet/qcd", "ae-jet", {"train_on": "qcd"}),
    ("ae-jet/all", "ae-jet", {"train_on": "all"}),
    ("ae-jet/latent2", "ae-jet", {"train_on": "qcd", "latent": 2}),
    ("ae-objects/qcd", "ae-objects", {"train_on": "qcd"}),
)
SUMMARY = ["run", "n_train", "n_test", "mse", "mse_err", "input_bits", "latent_bits", "ratio", "anomaly_auc", "auc_err",
           "latency_cycles", "ii", "lut", "dsp", "ff", "bit_exact_fraction", "validate_n"]
RESIDUAL = ["run", "variable", "n", "mean", "mean_err", "rms", "rms_err", "median", "central68_half_width"]


def one(tag: str, preset: str, overrides: dict, data: Path, work: Path, epochs: int, seed: int) -> tuple[dict, list]:
    from fpgatag.fpga.synth import synth
    from fpgatag.fpga.validate import validate
    from fpgatag.train.autoencoder import train_autoencoder

    run = work / tag.replace("/", "-")
    m = train_autoencoder(data, preset=preset, out_dir=run, epochs=epochs, seed=seed, **overrides)
    with tempfile.TemporaryDirectory(prefix="bench-ae-") as tmp:
        est = synth(run / "encoder", part="xcvu9p", output_dir=Path(tmp) / "prj")
        val = validate(run / "encoder", data, n=10000, min_argmax=0.0)
    a = m.get("anomaly") or {}
    c, loss = m["compression"], m["reconstruction_loss"]
    row = {"run": tag, "n_train": m["n_train"], "n_test": m["n_test"], "mse": loss["mse"], "mse_err": loss["mse_err"],
           "input_bits": c["input_bits"], "latent_bits": c["latent_bits"], "ratio": c["ratio"],
           "anomaly_auc": a.get("auc"), "auc_err": a.get("auc_err"),
           **{k: est[k] for k in ("latency_cycles", "ii", "lut", "dsp", "ff")},
           "bit_exact_fraction": val["bit_exact_fraction"], "validate_n": val["n"], "epochs_run": m["epochs_run"]}
    residuals = [{"run": tag, "variable": k, **v} for k, v in m["residuals"].items()]
    return row, residuals


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-autoencoder")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    setup_logging(0)
    rows, residuals = [], []
    for tag, preset, overrides in RUNS:
        row, res = one(tag, preset, overrides, args.data, args.work, args.epochs, args.seed)
        rows.append(row)
        residuals += res
        log.warning("%s", row)
    write_json(args.out / "autoencoder.json", {"data": str(args.data), "epochs": args.epochs, "seed": args.seed,
                                                "runs": rows, "residuals": residuals})
    text = ("# Autoencoder compression\n\n"
            f"Data `{args.data.name}`, one seed ({args.seed}), at most {args.epochs} epochs (early stopping on the "
            "validation loss). MSE in the standardised input space; AUC of top vs QCD from the reconstruction "
            "error with the Hanley-McNeil error; residual errors are RMS/sqrt(N) (mean) and RMS/sqrt(2N) (RMS). "
            "Latency and resources: the estimator (Vitis HLS csynth target, io_parallel); bit-exactness: g++ "
            "C simulation of the encoder against QKeras on the test split.\n\n"
            "## Runs\n\n" + format_table(rows, SUMMARY) + "\n\n## Residuals (reco - orig) / orig\n\n"
            + format_table(residuals, RESIDUAL) + "\n")
    write_text(args.out / "autoencoder.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
