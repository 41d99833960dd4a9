"""Benchmark: GRU and LSTM students against Deep Sets and the MLP, at the same N and bits.

Every student preset (gru, lstm, deepsets, mlp; 16 trigger-view objects for the per-object ones,
8 bits) is trained from scratch and distilled from the same teacher's stored logits, on the same
uid-keyed splits. For each: test-split accuracy, AUC (with the Hanley-McNeil error) and
rejection at eps_S = 0.5; then the firmware: ``synth`` (static recurrent implementation) for the
estimator's latency, II and resources, and ``validate`` (g++ C simulation) for bit-exactness and
the largest output difference in LSBs. The estimator has no cost model for recurrent layers, so
the GRU/LSTM rows give only the figures of their non-recurrent layers and say so.

    python bench/bench_recurrent.py --data jets.h5 --teacher runs/teacher [--epochs 40]

Writes bench/results/recurrent.json and recurrent.md.
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

log = logging.getLogger("fpgatag.bench.recurrent")  # shown by fpgatag's log set-up

STUDENTS = ("gru", "lstm", "deepsets", "mlp")
COLUMNS = ["student", "mode", "n_test", "accuracy", "auc", "auc_err", "rejection_at_50", "n_parameters",
           "latency_cycles", "ii", "lut", "dsp", "ff", "estimated", "bit_exact_fraction", "max_abs_diff", "max_diff_lsb",
           "argmax_agreement", "train_s"]


def auc_row(run: Path) -> dict:
    """AUC and its Hanley-McNeil error from the run's stored test predictions."""
    import numpy as np

    from fpgatag.train.ae_metrics import auc_with_error

    p = np.load(run / "predictions.npz")
    return auc_with_error(p["label"] == 1, p["probs"][:, 1])


def one(student: str, teacher: Path | None, data: Path, work: Path, epochs: int, patience: int, seed: int,
        n_validate: int) -> dict:
    from fpgatag.fpga.synth import synth
    from fpgatag.fpga.validate import validate
    from fpgatag.train.distill import train_student

    mode = "distilled" if teacher else "scratch"
    run = work / f"{student}-{mode}-s{seed}"
    m = train_student(data, student=student, n_objects=16, bits=8, out_dir=run, teacher_dir=teacher, epochs=epochs,
                      patience=patience, seed=seed)
    row = {"student": student, "mode": mode, **{k: m.get(k) for k in ("n_test", "accuracy", "auc", "rejection_at_50",
                                                                        "n_parameters", "train_seconds")}}
    row["train_s"] = row.pop("train_seconds")
    row["auc_err"] = auc_row(run)["auc_err"]
    with tempfile.TemporaryDirectory(prefix="bench-rnn-") as tmp:
        est = synth(run, part="xcvu9p", output_dir=Path(tmp) / "prj")
        val = validate(run, data, n=n_validate, min_bit_exact=0.0, min_argmax=0.0)
    row.update({k: est[k] for k in ("latency_cycles", "ii", "lut", "dsp", "ff")})
    row["estimated"] = "other layers only" if est.get("not_estimated") else "all layers"
    row.update({k: val.get(k) for k in ("bit_exact_fraction", "max_abs_diff", "max_diff_lsb", "output_type",
                                         "argmax_agreement")})
    row["validate_n"] = val["n"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--teacher", required=True, type=Path, help="teacher run directory with stored logits for --data")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-recurrent")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-validate", type=int, default=1000)
    ap.add_argument("--students", nargs="+", default=list(STUDENTS))
    args = ap.parse_args(argv)
    setup_logging(0)
    rows = []
    for student in args.students:
        for teacher in (None, args.teacher):
            rows.append(one(student, teacher, args.data, args.work, args.epochs, args.patience, args.seed, args.n_validate))
            log.warning("%s", rows[-1])
    table = format_table(rows, COLUMNS)
    result = {"data": str(args.data), "teacher": str(args.teacher), "epochs": args.epochs, "patience": args.patience,
              "seed": args.seed, "n_objects": 16, "bits": 8, "rows": rows}
    write_json(args.out / "recurrent.json", result)
    write_text(args.out / "recurrent.md", "# Recurrent students vs Deep Sets and the MLP\n\n"
               f"Data `{args.data.name}`, teacher `{args.teacher.name}`, one seed ({args.seed}), at most "
               f"{args.epochs} epochs (patience {args.patience}). AUC errors: Hanley-McNeil on the test split.\n\n"
               + table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
