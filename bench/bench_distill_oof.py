"""Benchmark: in-sample vs out-of-fold soft targets for the distilled 8-bit Deep Sets student.

Session 1's distillation benchmark (bench/results/distill.md) found the distilled student no better,
and on an independent file worse, than the same student trained from scratch. The suspected cause:
the teacher's logits on its own training jets are memorised (sharper and more often right than on new
jets), so on exactly the jets the student learns from, the soft targets say little more than the labels.

This benchmark measures that, in one run, on one data file and an independent file:

* teacher calibration: accuracy, mean confidence and cross-entropy of the stored logits on the
  training jets vs the test jets, for the in-sample teacher and for K-fold out-of-fold logits;
* the student from scratch, distilled from the in-sample logits, and distilled from out-of-fold
  logits (``train-teacher --fold i/K`` + ``teacher-predict`` with the K run directories), over seeds,
  on the shared uid-keyed test split and on every jet of the independent file;
* a teacher of the same architecture on the student's trigger view (``--view-teacher``): how much
  of the teacher-student gap is the view (information the student never sees) and how much the
  student's size and bits, and a second teacher to distil from;
* with ``--scan-data`` (the same jets with 32 candidates): bits 4, 6, 8, 16 and N = 8, 16, 32,
  scratch and out-of-fold distilled.

    python bench/bench_distill_oof.py --data jets.h5 --eval-data eval.h5 [--scan-data jets-n32.h5] [--reuse]

Teachers are trained into --work when missing (or always, without --reuse). Writes
bench/results/distill_oof.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpgatag.core.io import write_json, write_text  # noqa: E402
from fpgatag.core.logs import setup_logging  # noqa: E402
from fpgatag.core.metrics import classification_metrics, format_table  # noqa: E402

log = logging.getLogger("bench_distill_oof")
KINDS = ("scratch", "distilled_insample", "distilled_oof", "distilled_trigger")


def calibration(logits: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> dict:
    """Accuracy, mean max-softmax confidence and mean cross-entropy of logits on ``rows``."""
    z = logits[rows] - logits[rows].max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = labels[rows]
    return {"n": int(rows.size), "accuracy": float(np.mean(p.argmax(1) == y)),
            "confidence": float(np.mean(p.max(1))),
            "cross_entropy": float(np.mean(-np.log(np.clip(p[np.arange(y.size), y], 1e-12, None))))}


def _score(run_dir: Path, source, row: dict, logits: bool = True) -> None:
    """Add eval_* metrics of a run on every jet of ``source`` to ``row`` (students output logits,
    teachers probabilities)."""
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.nn.students import softmax
    from fpgatag.train.data import load_arrays

    x, y = load_arrays(source, load_inputs(run_dir), np.arange(source.n_jets))
    out = load_model(run_dir).predict(x, batch_size=1024, verbose=0)
    m = classification_metrics(y, softmax(out) if logits else out)
    row.update({f"eval_{k}": m[k] for k in ("auc", "rejection_at_30", "rejection_at_50")})


def ensure_teacher(out: Path, reuse: bool, **kw) -> Path:
    from fpgatag.train.teacher import train_teacher

    if reuse and (out / "metrics.json").is_file():
        log.info("reusing teacher %s", out)
    else:
        train_teacher(out_dir=out, **kw)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="jet file (the issue asks for >= 50k jets per class)")
    ap.add_argument("--eval-data", type=Path, default=None, help="an independent jet file (other seed)")
    ap.add_argument("--teacher-model", default="particlenet-lite")
    ap.add_argument("--teacher-epochs", type=int, default=8)
    ap.add_argument("--n-particles", type=int, default=64)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--view-teacher", default="particlenet-lite-trigger",
                    help="a teacher preset on the student's trigger view: the reference splitting the teacher-student "
                         "gap into view and capacity, and a second teacher to distil from ('none': skip)")
    ap.add_argument("--student", default="deepsets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=None, help="student epochs max (default: the preset's)")
    ap.add_argument("--alpha", type=float, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-distill-oof")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--reuse", action="store_true", help="reuse finished teachers and students found in --work")
    ap.add_argument("--scan-eval-data", type=Path, default=None,
                    help="the independent file with >= 32 candidates, to score the scan's students on")
    ap.add_argument("--scan-data", type=Path, default=None,
                    help="the same jets with >= 32 candidates (`fpgatag views DATA -o FILE --n-candidates 32`): "
                         "also scan bits (4, 6, 8, 16) and N (8, 16, 32), scratch and distilled (out-of-fold), first seed")
    args = ap.parse_args(argv)
    setup_logging(0)

    from fpgatag.train import distill as D
    from fpgatag.train.data import as_source
    from fpgatag.train.soft_targets import load_soft_targets, teacher_predict

    t_start = time.perf_counter()
    alpha = D.DEFAULT_ALPHA if args.alpha is None else args.alpha
    temp = D.DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    tkw = dict(data=args.data, model=args.teacher_model, epochs=args.teacher_epochs, n_particles=args.n_particles, seed=0)
    teacher = ensure_teacher(work / "teacher", args.reuse, **tkw)
    folds = [ensure_teacher(work / f"teacher-fold{i}", args.reuse, fold=(i, args.folds), **tkw) for i in range(args.folds)]
    kinds = KINDS if args.view_teacher != "none" else KINDS[:3]
    vteacher = None
    if args.view_teacher != "none":
        vteacher = ensure_teacher(work / "teacher-trigger", args.reuse, data=args.data, model=args.view_teacher,
                                  epochs=args.teacher_epochs, seed=0)

    logits_files = {"insample": work / "logits-insample.h5", "oof": work / "logits-oof.h5"}
    if not (args.reuse and logits_files["insample"].is_file()):
        teacher_predict(teacher, args.data, output=logits_files["insample"])
    if not (args.reuse and logits_files["oof"].is_file()):
        teacher_predict(folds, args.data, output=logits_files["oof"])
    if vteacher is not None:
        logits_files["trigger"] = work / "logits-trigger.h5"
        if not (args.reuse and logits_files["trigger"].is_file()):
            teacher_predict(vteacher, args.data, output=logits_files["trigger"])

    # ---- teacher calibration on training vs test jets ----
    source = as_source(args.data)
    labels = np.asarray(source.labels()).astype(int)
    run = json.loads((teacher / "run.json").read_text())
    from fpgatag.core.splits import split_indices

    splits = split_indices(np.asarray(source.uids()), tuple(run["splits"]["fractions"]), int(run["splits"]["salt"]))
    calib = {}
    for name, lf in logits_files.items():
        z = load_soft_targets(lf, source)
        calib[name] = {s: calibration(z, labels, splits[s]) for s in ("train", "test")}

    # ---- students ----
    rows = []
    for seed in args.seeds:
        for kind in kinds:
            out = work / f"{kind}_s{seed}"
            if args.reuse and (out / "metrics.json").is_file():
                m = json.loads((out / "metrics.json").read_text())
            else:
                tdir = {"scratch": None, "distilled_insample": teacher, "distilled_oof": folds[0],
                        "distilled_trigger": vteacher}[kind]
                lf = None if kind == "scratch" else logits_files[kind.split("_")[1]]
                m = D.train_student(args.data, student=args.student, n_objects=16, bits=8, out_dir=out,
                                    teacher_dir=tdir, logits_file=lf, alpha=alpha, temperature=temp,
                                    epochs=args.epochs, seed=seed)
            rows.append({"run": out.name, "kind": kind, "seed": seed, "alpha": m["alpha"],
                         **{k: m[k] for k in ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test",
                                              "n_parameters", "best_epoch", "train_seconds")}})
            log.info("%s: AUC %.4f R50 %.2f", out.name, m["auc"], m["rejection_at_50"])

    # ---- bits and N scans (scratch and out-of-fold distilled, first seed) ----
    scan = []
    if args.scan_data is not None:
        seed = args.seeds[0]
        points = [(b, 16) for b in (4, 6, 8, 16)] + [(8, n) for n in (8, 32)]
        for bits, n in points:
            for kind in ("scratch", "distilled_oof"):
                out = work / f"scan_{kind}_b{bits}_n{n}_s{seed}"
                if args.reuse and (out / "metrics.json").is_file():
                    m = json.loads((out / "metrics.json").read_text())
                else:
                    m = D.train_student(args.scan_data, student=args.student, n_objects=n, bits=bits, out_dir=out,
                                        teacher_dir=None if kind == "scratch" else folds[0],
                                        logits_file=None if kind == "scratch" else logits_files["oof"],
                                        alpha=alpha, temperature=temp, epochs=args.epochs, seed=seed)
                scan.append({"run": out.name, "kind": kind, "bits": bits, "n_objects": n, "seed": seed,
                             **{k: m[k] for k in ("accuracy", "auc", "rejection_at_50", "n_parameters", "best_epoch")}})
                log.info("%s: AUC %.4f R50 %.2f", out.name, m["auc"], m["rejection_at_50"])

    teachers = {"teacher": json.loads((teacher / "metrics.json").read_text())}
    for i, d in enumerate(folds):
        teachers[f"fold{i}"] = json.loads((d / "metrics.json").read_text())
    if vteacher is not None:
        teachers["trigger-view"] = json.loads((vteacher / "metrics.json").read_text())

    # ---- independent file ----
    if args.eval_data is not None:
        ev = as_source(args.eval_data)
        named = [("teacher", teacher)] + [(f"fold{i}", d) for i, d in enumerate(folds)]
        for name, d in named + ([("trigger-view", vteacher)] if vteacher is not None else []):
            _score(d, ev, teachers[name], logits=False)
        for r in rows:
            _score(work / r["run"], ev, r)
    if scan and args.scan_eval_data is not None:
        ev32 = as_source(args.scan_eval_data)
        for r in scan:
            _score(work / r["run"], ev32, r)

    # ---- summary ----
    def stats(kind, key):
        v = [r[key] for r in rows if r["kind"] == kind]
        return [float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0]

    keys = ["auc", "rejection_at_50"] + (["eval_auc", "eval_rejection_at_50"] if args.eval_data else [])
    summary = {kind: {k: stats(kind, k) for k in keys} for kind in kinds}
    verdict = {}
    for kind in kinds[1:]:
        for prefix in ("", "eval_") if args.eval_data else ("",):
            s, d = summary["scratch"][f"{prefix}rejection_at_50"][0], summary[kind][f"{prefix}rejection_at_50"][0]
            t = teachers["teacher"][f"{prefix}rejection_at_50"]
            per_seed = [next(r for r in rows if r["kind"] == kind and r["seed"] == sd)[f"{prefix}auc"]
                        - next(r for r in rows if r["kind"] == "scratch" and r["seed"] == sd)[f"{prefix}auc"]
                        for sd in args.seeds]
            verdict[f"{kind}_{prefix or 'test_'}"] = {
                "r50_gain": d / s - 1.0, "gap_closed": (d - s) / (t - s) if t > s else None,
                "auc_gain_per_seed": per_seed}
    setup = {"data": str(args.data.resolve()), "n_jets": int(source.n_jets),
             "jets_per_class": np.bincount(labels).tolist(), "splits": {k: int(v.size) for k, v in splits.items()},
             "eval_data": None if args.eval_data is None else str(args.eval_data.resolve()),
             "teacher_model": args.teacher_model, "teacher_epochs": args.teacher_epochs, "n_particles": args.n_particles,
             "folds": args.folds, "student": args.student, "bits": 8, "n_objects": 16, "alpha": alpha,
             "temperature": temp, "seeds": args.seeds, "wall_seconds": round(time.perf_counter() - t_start, 1)}
    result = {"benchmark": "distill_oof", "setup": setup, "teachers": teachers, "calibration": calib,
              "summary": summary, "verdict": verdict, "runs": rows, "scan": scan}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "distill_oof.json", result)

    def f(x, nd=3):
        return "n/a" if x is None else f"{x:.{nd}f}"

    md = ["# Distillation with in-sample vs out-of-fold soft targets", "",
          f"Data: `{args.data.name}`, {source.n_jets} jets ({setup['jets_per_class']} per class), splits "
          f"{setup['splits']}; independent file: `{args.eval_data.name if args.eval_data else 'none'}`. Teacher "
          f"{args.teacher_model}, {args.n_particles} particles, {args.teacher_epochs} epochs; {args.folds} fold teachers "
          f"each trained without one fold of the training jets. Student: {args.student}, 8 bits, 16 candidates, "
          f"alpha = {alpha:g}, T = {temp:g}, seeds {args.seeds}. Wall time {setup['wall_seconds'] / 60:.1f} min.", "",
          "## Teacher logits on its training jets vs the test jets", "",
          "| logits | jets | n | accuracy | mean confidence | cross-entropy |", "|---|---|---|---|---|---|"]
    for name, c in calib.items():
        for s, v in c.items():
            md.append(f"| {name} | {s} | {v['n']} | {f(v['accuracy'])} | {f(v['confidence'])} | {f(v['cross_entropy'])} |")
    md += ["", "## Teachers", "",
           format_table([{"teacher": k, **{c: v.get(c) for c in ["auc", "rejection_at_50"] + keys[2:]}}
                         for k, v in teachers.items()], ["teacher", "auc", "rejection_at_50"] + keys[2:]), "",
           "## Students (mean +- std over seeds)", "", "| student | " + " | ".join(keys) + " |",
           "|---" * (len(keys) + 1) + "|"]
    for kind in kinds:
        md.append(f"| {kind} | " + " | ".join(f"{f(summary[kind][k][0])} +- {f(summary[kind][k][1])}" for k in keys) + " |")
    md += [""]
    for name, v in verdict.items():
        md.append(f"- {name.rstrip('_')}: R50 distilled / scratch - 1 = **{v['r50_gain'] * 100:+.1f} %**, gap closed "
                  f"{f(v['gap_closed'], 2)}; AUC gain per seed {', '.join(f'{x:+.4f}' for x in v['auc_gain_per_seed'])}")
    md += ["", "## Every run", "", format_table(rows, ["run", "alpha", "accuracy", "auc", "rejection_at_50", "best_epoch",
                                                         "train_seconds"] + keys[2:]), ""]
    if scan:
        md += ["## Bits and N", "", f"`{args.scan_data.name}`: the same jets with 32 L1 candidates (rebuilt by "
               "`fpgatag views`; N = 8 and 16 read the first 8 and 16 of them, identical to the 16-candidate file's). "
               f"Seed {args.seeds[0]}; scratch and distilled from the out-of-fold logits. Bits: weights, biases and "
               "activations; N: trigger-view candidates per jet.", "",
               format_table(scan, ["run", "kind", "bits", "n_objects", "accuracy", "auc", "rejection_at_50",
                                   "n_parameters"] + (keys[2:] if args.scan_eval_data else [])), ""]
    write_text(args.out / "distill_oof.md", "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
