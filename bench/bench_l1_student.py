"""Benchmark: a Deep Sets student sized for the Level-1 trigger (width, bits and pruning scan).

Target: a distilled 16-object Deep Sets student estimated at <= 50 ns at II = 1 and <= 5 % of every
resource of the part (fpgatag's csynth-calibrated estimator, which counts zero weights as free),
bit-exact in C simulation. Each candidate (phi width, rho width, bits, sparsity, seed) is

* distilled from the teacher (``fpgatag distill --student PRESET --bits B --sparsity S``),
* estimated (``fpgatag synth RUN --part xcvu9p``, clock 5 ns),
* C-simulated against QKeras on the test split (``fpgatag validate RUN --data DATA --n 500``),

all in one run, on one uid-keyed test split shared with the teacher. Without --data and --teacher
the benchmark makes its own: 2000 jets per class (``fpgatag generate``, seed 1) and a
ParticleNet-Lite teacher. Writes bench/results/l1_student.{json,md}.

    python bench/bench_l1_student.py                                  # everything, about 2 h on 2 cores
    python bench/bench_l1_student.py --data dev.h5 --teacher runs/teacher-pnl
    python bench/bench_l1_student.py --quick                          # three candidates, 5 epochs
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np

import _common as C

log = logging.getLogger("fpgatag.bench.l1_student")  # shown by fpgatag's log set-up

# (phi widths, rho widths, bits, sparsity, seed): the width, bits and pruning scan
CANDIDATES = [
    ((32, 32), (32,), 8, 0.0, 1), ((32, 32), (32,), 8, 0.5, 1), ((32, 32), (32,), 8, 0.75, 1),
    ((32, 32), (32,), 6, 0.75, 1),
    ((16, 16), (16,), 8, 0.0, 1), ((16, 16), (16,), 8, 0.5, 1), ((16, 16), (16,), 6, 0.5, 1),
    ((16, 16), (16,), 6, 0.5, 2), ((16, 16), (16,), 6, 0.6, 1), ((16, 16), (16,), 8, 0.75, 1),
    ((16, 16), (16,), 6, 0.75, 1), ((16, 16), (16,), 6, 0.75, 2),
    ((8, 8), (16,), 8, 0.0, 1), ((8, 8), (16,), 8, 0.5, 1),
]
QUICK = [CANDIDATES[0], CANDIDATES[9], CANDIDATES[13]]
BUDGET = {"latency_ns": 50.0, "ii": 1, "percent": 5.0}
COLUMNS = ["run", "phi", "rho", "bits", "sparsity", "seed", "n_parameters", "auc +- err", "rej@0.5 [68% CI]", "n_test",
           "latency_ns", "ii", "lut%", "dsp%", "ff%", "bram18%", "fits", "bit_exact", "n_validated"]


def parse(argv=None):
    ap = C.parser(__doc__, "bench-l1-student")
    ap.add_argument("--data", type=Path, default=None, help="jet file (default: generate 2000 jets per class into --work)")
    ap.add_argument("--teacher", type=Path, default=None, help="teacher run directory (default: train ParticleNet-Lite)")
    ap.add_argument("--jets-per-class", type=int, default=2000, help="jets generated per class without --data")
    ap.add_argument("--teacher-epochs", type=int, default=20, help="teacher epochs without --teacher")
    ap.add_argument("--epochs", type=int, default=100, help="student epochs max (early stopping: --patience)")
    ap.add_argument("--patience", type=int, default=15)
    ap.add_argument("--alpha", type=float, default=0.1)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--part", default="xcvu9p")
    ap.add_argument("--validate-n", type=int, default=500, help="jets of the test split to C-simulate")
    ap.add_argument("--quick", action="store_true", help="three candidates, 5 epochs, 600 jets per class")
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.jets_per_class, args.teacher_epochs = min(args.epochs, 5), min(args.jets_per_class, 600), 2
    return args


def inputs(args) -> tuple[Path, Path]:
    """--data and --teacher (with its logits on --data), made in --work when not given."""
    if args.teacher is not None and not (args.teacher / "metrics.json").is_file():
        raise SystemExit(f"--teacher {args.teacher}: not a finished teacher run (no metrics.json)")
    data = args.data or C.ensure_jets(args.work / f"jets-{args.jets_per_class}.h5", args.jets_per_class, seed=1)
    teacher = C.ensure_teacher(args.teacher or args.work / "teacher-pnl", data, reuse=args.teacher is not None or args.reuse,
                               epochs=args.teacher_epochs, seed=0)
    return data, teacher


def preset_file(work: Path, phi: tuple[int, ...], rho: tuple[int, ...]) -> Path:
    """The ``deepsets`` preset with other phi / rho widths, as a file in ``work``."""
    from fpgatag.nn.presets import load_preset

    preset = load_preset("deepsets", role="student")
    preset["params"] = {**preset["params"], "phi": list(phi), "rho": list(rho)}
    preset["description"] = f"Deep Sets, phi {phi}, rho {rho} (the width scan of bench_l1_student)"
    path = work / "presets" / f"ds{'-'.join(map(str, phi))}_rho{'-'.join(map(str, rho))}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(preset, indent=2))
    return path


def candidate(args, data: Path, teacher: Path, cand: tuple) -> dict:
    """Distil, estimate and C-simulate one candidate; its result row."""
    from fpgatag.core.io import read_json
    from fpgatag.fpga.synth import synth
    from fpgatag.fpga.validate import validate
    from fpgatag.train.distill import train_student

    phi, rho, bits, sparsity, seed = cand
    name = f"ds{phi[0]}_s{round(100 * sparsity)}_b{bits}" + ("" if seed == 1 else f"_seed{seed}")
    run = args.work / name
    m = C.reuse_or_run(run, args.reuse, lambda: train_student(
        data, student=str(preset_file(args.work, phi, rho)), n_objects=16, bits=bits, out_dir=run, teacher_dir=teacher,
        epochs=args.epochs, patience=args.patience, alpha=args.alpha, temperature=args.temperature, seed=seed,
        sparsity=sparsity))
    est = C.reuse_or_run(run / "hls", args.reuse, lambda: synth(run, part=args.part, output_dir=run / "hls"),
                         name="estimate.json")
    val = (read_json(run / "validate.json", "validate.json") if args.reuse and (run / "validate.json").is_file()
           else validate(run, data, n=args.validate_n, output=run / "validate.json"))
    frac = {k: round(100 * float(v), 2) for k, v in (est.get("fraction") or {}).items()}
    row = {"run": name, "phi": "-".join(map(str, phi)), "rho": "-".join(map(str, rho)), "bits": bits,
           "sparsity": sparsity, "seed": seed, **{k: m.get(k) for k in C.METRIC_KEYS + C.UNCERTAINTY_KEYS},
           "n_parameters": m.get("n_parameters"), "quantized_sparsity": m.get("quantized_sparsity"),
           "best_epoch": m.get("best_epoch"), "latency_ns": est.get("latency_ns"), "ii": est.get("ii"),
           **{f"{k}%": frac.get(k) for k in ("lut", "dsp", "ff", "bram18")},
           "bit_exact": val.get("bit_exact_fraction"), "n_validated": val.get("n"),
           "max_abs_diff": val.get("max_abs_diff"), "source": est.get("source")}
    row["fits"] = bool(row["ii"] == BUDGET["ii"] and (row["latency_ns"] or 1e9) <= BUDGET["latency_ns"]
                       and all((row[f"{k}%"] or 0.0) <= BUDGET["percent"] for k in ("lut", "dsp", "ff", "bram18")))
    log.info("%s: AUC %.4f, %s ns, LUT %s %%, fits %s, bit-exact %s", name, row["auc"], row["latency_ns"], row["lut%"],
             row["fits"], row["bit_exact"])
    return row


def markdown(args, setup: dict, rows: list[dict]) -> list[str]:
    fits = [r for r in rows if r["fits"]]
    best = max(fits, key=lambda r: r["auc"]) if fits else None
    md = ["# L1-sized Deep Sets student: width, bits and pruning scan" + (" (quick)" if args.quick else ""), "",
          f"Target: a distilled 16-object Deep Sets student estimated at <= {BUDGET['latency_ns']:g} ns at II = 1 and "
          f"<= {BUDGET['percent']:g} % of every {setup['part']} resource (`fpgatag synth RUN --part {setup['part']}`, clock "
          "5 ns; fpgatag's csynth-calibrated estimator, which counts zero weights as free), bit-exact in C simulation.", "",
          f"Data: `{setup['data_name']}` ({setup['jets_per_class']} jets per class; {setup['n_test']} test jets, "
          f"{setup['n_background']} of them background; uid-keyed split shared with the teacher). Teacher: "
          f"{setup['teacher']} (AUC {setup['teacher_auc']}). Students distilled with alpha {args.alpha:g}, "
          f"T {args.temperature:g}; {args.epochs} epochs max, patience {args.patience}; 7 trigger-view features x 16 "
          "candidates, inputs ap_fixed<16,6>, mean pool; pruning by magnitude to the given sparsity. "
          f"`bit_exact`: fraction of the {args.validate_n} validated test jets (at most the test split) whose logits "
          "are identical in C simulation and QKeras. `fits`: II = 1, the latency and every resource within the budget. "
          f"Wall time {setup['wall_seconds'] / 60:.1f} min on {setup['machine']['cpus']} cores.", "",
          "Commands per candidate: `fpgatag distill --data DATA --student PRESET.json --bits B --sparsity S "
          f"--teacher TEACHER --epochs {args.epochs} --seed SEED -o RUN`, `fpgatag synth RUN --part {setup['part']} -o RUN/hls`, "
          f"`fpgatag validate RUN --data DATA --n {args.validate_n}`.", "",
          C.table(rows, COLUMNS), "", C.labels.DEFINITIONS, ""]
    if best is not None:
        md += [f"Best AUC within the budget: `{best['run']}` (phi {best['phi']}, rho {best['rho']}, {best['bits']} bits, "
               f"sparsity {best['sparsity']:g}): AUC {best['auc +- err']}, {best['latency_ns']:g} ns at II = {best['ii']}, "
               f"LUT {best['lut%']} %, DSP {best['dsp%']} %, FF {best['ff%']} %, bit-exact {best['bit_exact']}.", ""]
    else:
        md += ["No candidate fits the budget.", ""]
    return md


def main(argv=None) -> int:
    args = parse(argv)
    C.start(args)
    timer = C.Timer()
    data, teacher = inputs(args)
    rows = [candidate(args, data, teacher, cand) for cand in (QUICK if args.quick else CANDIDATES)]
    for r in rows:
        r.update(C.shown(r))
    from fpgatag.train.data import as_source

    per_class = np.bincount(np.asarray(as_source(data).labels()).astype(int)).tolist()
    tm = json.loads((teacher / "metrics.json").read_text())
    setup = {"data": str(Path(data).resolve()), "data_name": Path(data).name, "jets_per_class": per_class,
             "n_test": rows[0]["n_test"], "n_background": rows[0]["n_background"], "teacher": str(teacher),
             "teacher_model": tm.get("model"), "teacher_auc": C.format_auc(tm), "part": args.part,
             "epochs": args.epochs, "patience": args.patience, "alpha": args.alpha, "temperature": args.temperature,
             "quick": args.quick, "budget": BUDGET, "wall_seconds": timer.s, "machine": C.machine()}
    C.write(args.out, "l1_student", {"benchmark": "l1_student", "setup": setup, "rows": rows}, markdown(args, setup, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
