"""Benchmark: in-sample vs out-of-fold soft targets for the distilled 8-bit Deep Sets student.

The first distillation benchmark (bench/results/distill.md) found the distilled student no better,
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
* the chain (kind ``distilled_chain``): the trigger-view teacher trained on the full-view teacher's
  soft targets (``train_teacher(distill_from=...)``, same alpha and T as the students), then the
  student distilled from it;
* with ``--scan-data`` (the same jets with 32 candidates): bits 4, 6, 8, 16 and N = 8, 16, 32,
  scratch and out-of-fold distilled.

    python bench/bench_distill_oof.py --data jets.h5 --eval-data eval.h5 [--scan-data jets-n32.h5] [--reuse]
    python bench/bench_distill_oof.py --data jets.h5 --eval-data eval.h5 --kinds scratch distilled_trigger \
        --seeds 1 2 3 4 5 --name distill_trigger      # full- and trigger-view teachers, no fold teachers
    python bench/bench_distill_oof.py --data demo.h5 --eval-data eval.h5 --from-demo DEMO_DIR \
        --kinds distilled_chain --seeds 1 2 3 --name distill_chain   # the demo's runs + the chain, trained here

Teachers are trained into --work when missing (or always, without --reuse). Every figure carries its
uncertainty: AUC +- its DeLong error, rejections with 68 % Clopper-Pearson intervals and the number of
background jets passing; each distilled kind's gain over scratch is paired over the same jets (test
split and independent file; paired bootstrap, stratified, fixed seed) with the standard error over
seeds. Writes bench/results/<--name>.{json,md} (default distill_oof).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import _common as C

from fpgatag.core.metrics import classification_metrics, paired_gain  # noqa: E402

log = logging.getLogger("fpgatag.bench.distill_oof")  # shown by fpgatag's log set-up
KINDS = ("scratch", "distilled_insample", "distilled_oof", "distilled_trigger", "distilled_chain")


def calibration(logits: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> dict:
    """Accuracy, mean max-softmax confidence and mean cross-entropy of logits on ``rows``."""
    z = logits[rows] - logits[rows].max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = labels[rows]
    return {"n": int(rows.size), "accuracy": float(np.mean(p.argmax(1) == y)),
            "confidence": float(np.mean(p.max(1))),
            "cross_entropy": float(np.mean(-np.log(np.clip(p[np.arange(y.size), y], 1e-12, None))))}


UNC = ("auc_err", "n_background", "rejection_at_50_interval", "n_background_passing_50", "rejection_at_50_saturated")


def _score(run_dir: Path, source, row: dict, logits: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Add eval_* metrics (with uncertainties) of a run on every jet of ``source`` to ``row`` (students
    output logits, teachers probabilities); return (labels, signal score) for the paired gains."""
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.nn.students import softmax
    from fpgatag.train.data import load_arrays

    x, y = load_arrays(source, load_inputs(run_dir), np.arange(source.n_jets))
    out = load_model(run_dir).predict(x, batch_size=1024, verbose=0)
    probs = softmax(out) if logits else out
    m = classification_metrics(y, probs)
    row.update({f"eval_{k}": m[k] for k in ("auc", "rejection_at_30", "rejection_at_50") + UNC})
    return y, np.asarray(probs, np.float64)[:, 1]


_shown = C.shown   # AUC +- err and R50 [68 % interval] display strings (background jets passing where < 10)


def _gains(kinds, rows, labels_scores, teacher_scores) -> dict:
    """Per distilled kind: the gain over scratch, paired over the same jets, seeds averaged."""
    out = {}
    for kind in kinds[1:]:
        for ref, t_score in teacher_scores.items():
            g = paired_gain(labels_scores[0], [labels_scores[1][r["run"]] for r in rows if r["kind"] == kind],
                            [labels_scores[1][r["run"]] for r in rows if r["kind"] == "scratch"], teacher=t_score)
            out.setdefault(kind, {})[ref] = g
    return out


def ensure_teacher(out: Path, reuse: bool, **kw) -> Path:
    from fpgatag.train.teacher import train_teacher

    if reuse and (out / "metrics.json").is_file():
        log.info("reusing teacher %s", out)
    else:
        train_teacher(out_dir=out, **{k: v for k, v in kw.items() if v is not None})
    return out


def parse(argv=None):
    ap = C.parser(__doc__, "bench-distill-oof")
    ap.add_argument("--data", required=True, type=Path, help="jet file (>= 50k jets per class for the full benchmark)")
    ap.add_argument("--eval-data", type=Path, default=None, help="an independent jet file (other seed)")
    ap.add_argument("--teacher-model", default="particlenet-lite")
    ap.add_argument("--teacher-epochs", type=int, default=8)
    ap.add_argument("--n-particles", type=int, default=64)
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--view-teacher", default="particlenet-lite-trigger",
                    help="a teacher preset on the student's trigger view: the reference splitting the teacher-student "
                         "gap into view and capacity, and a second teacher to distil from ('none': skip)")
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS,
                    help="student kinds to train (scratch always); fold teachers only for distilled_oof")
    ap.add_argument("--name", default="distill_oof", help="result file stem in --out")
    ap.add_argument("--note", default=None, help="a paragraph shown under the title (how the jets were made, ...)")
    ap.add_argument("--student", default="deepsets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=None, help="student epochs max (default: the preset's)")
    ap.add_argument("--patience", type=int, default=None, help="student early-stopping patience (default: the preset's)")
    ap.add_argument("--teacher-patience", type=int, default=0, help="teachers' early-stopping patience (0: none)")
    ap.add_argument("--teacher-batch-size", type=int, default=None, help="teachers' batch size (default: the preset's)")
    ap.add_argument("--scan-seeds", type=int, default=1, help="seeds (the first of --seeds) of the bits / N scan")
    ap.add_argument("--scan-epochs", type=int, default=None, help="the scan students' epochs max (default: --epochs)")
    ap.add_argument("--scan-kind", default=None, choices=KINDS[1:],
                    help="the scan's distilled kind (default: distilled_trigger when trained, else distilled_oof)")
    ap.add_argument("--alpha", type=float, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--from-demo", type=Path, default=None, metavar="DIR",
                    help="score the teachers (full and trigger view) and the scratch / distilled students of a finished "
                         "`fpgatag demo --data DATA --student-seeds ...` output directory instead of training them "
                         "(distilled_chain in --kinds: its teacher and students are trained in --work, with the demo's settings)")
    ap.add_argument("--scan-eval-data", type=Path, default=None,
                    help="the independent file with >= 32 candidates, to score the scan's students on")
    ap.add_argument("--scan-data", type=Path, default=None,
                    help="the same jets with >= 32 candidates (`fpgatag views DATA -o FILE --n-candidates 32`): "
                         "also scan bits (4, 6, 8, 16) and N (8, 16, 32), scratch and distilled (--scan-kind), --scan-seeds seeds")
    args = ap.parse_args(argv)
    from fpgatag.train import distill as D

    args.alpha = D.DEFAULT_ALPHA if args.alpha is None else args.alpha
    args.temperature = D.DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    return args


def teachers(args) -> SimpleNamespace:
    """The full-view teacher, the fold teachers and the trigger-view teacher (trained when missing, or
    taken from --from-demo), the student kinds they allow, and their soft targets on --data."""
    work = args.work
    demo = _demo_runs(args.from_demo, args.seeds) if args.from_demo is not None else None
    if demo is not None:
        cfg = demo["config"]
        args.kinds = ["distilled_trigger"] + [k for k in args.kinds if k == "distilled_chain"]
        args.view_teacher, args.teacher_model, args.teacher_epochs = cfg["distill_teacher"], cfg["teacher"], cfg["teacher_epochs"]
        args.n_particles, args.student, args.teacher_batch_size = cfg["teacher_particles"], cfg["student"], cfg["batch_size"]
    common = dict(data=args.data, epochs=args.teacher_epochs, seed=demo["config"]["seed"] if demo else 0,
                  patience=args.teacher_patience, batch_size=args.teacher_batch_size)
    tkw = dict(model=args.teacher_model, n_particles=args.n_particles, **common)
    teacher = demo["teacher"] if demo else ensure_teacher(work / "teacher", args.reuse, **tkw)
    kinds = [k for k in KINDS if k == "scratch" or k in args.kinds]
    if args.view_teacher == "none":
        kinds = [k for k in kinds if k != "distilled_trigger"]
    need_folds = "distilled_oof" in kinds or (args.scan_data is not None and _scan_kind(args, kinds) == "distilled_oof")
    folds = [ensure_teacher(work / f"teacher-fold{i}", args.reuse, fold=(i, args.folds), **tkw)
             for i in range(args.folds)] if need_folds else []
    vteacher = chain = None
    if demo is not None:
        vteacher = demo["teacher-trigger"]
    elif "distilled_trigger" in kinds:
        vteacher = ensure_teacher(work / "teacher-trigger", args.reuse, model=args.view_teacher, **common)
    logits = {}
    if "distilled_chain" in kinds:   # the trigger-view teacher on the full-view teacher's soft targets
        logits["insample"] = _predict(args, teacher, work / "logits-insample.h5")
        chain = ensure_teacher(work / "teacher-chain", args.reuse, model=args.view_teacher, distill_from=teacher,
                               logits_file=logits["insample"], alpha=args.alpha, temperature=args.temperature, **common)
    for name, who in (("insample", teacher), ("oof", folds or None), ("trigger", vteacher), ("chain", chain)):
        if who is not None:
            logits[name] = _predict(args, who, work / f"logits-{name}.h5")
    return SimpleNamespace(demo=demo, teacher=teacher, folds=folds, vteacher=vteacher, chain=chain, kinds=kinds,
                           logits=logits)


def _predict(args, teacher, out: Path) -> Path:
    """The teacher's logits on --data in ``out`` (kept with --reuse)."""
    from fpgatag.train.soft_targets import teacher_predict

    if not (args.reuse and out.is_file()):
        teacher_predict(teacher, args.data, output=out)
    return out


def calibrations(args, t: SimpleNamespace, source, labels: np.ndarray) -> tuple[dict, dict]:
    """The splits, and each set of soft targets' calibration on the training vs the test jets."""
    from fpgatag.core.splits import split_indices
    from fpgatag.train.soft_targets import load_soft_targets

    run = json.loads((t.teacher / "run.json").read_text())
    splits = split_indices(np.asarray(source.uids()), tuple(run["splits"]["fractions"]), int(run["splits"]["salt"]))
    calib = {name: {s: calibration(load_soft_targets(lf, source), labels, splits[s]) for s in ("train", "test")}
             for name, lf in t.logits.items()}
    return splits, calib


def _student(args, data: Path, out: Path, kind: str, t: SimpleNamespace, seed: int, bits: int = 8, n: int = 16,
             keys=("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test", "n_parameters", "best_epoch",
                   "train_seconds"), finished: bool = False, epochs: int | None = None) -> dict:
    """One student as a result row: trained now, or its stored metrics (``finished``: a --from-demo
    run; with --reuse: one found in --work)."""
    from fpgatag.train import distill as D

    if finished or (args.reuse and (out / "metrics.json").is_file()):
        m = json.loads((out / "metrics.json").read_text())
    else:
        tdir = {"scratch": None, "distilled_insample": t.teacher, "distilled_oof": t.folds[0] if t.folds else None,
                "distilled_trigger": t.vteacher, "distilled_chain": t.chain}[kind]
        lf = None if kind == "scratch" else t.logits[kind.split("_")[1]]
        extra = {k: v for k, v in (("epochs", epochs or args.epochs), ("patience", args.patience)) if v is not None}
        m = D.train_student(data, student=args.student, n_objects=n, bits=bits, out_dir=out, teacher_dir=tdir,
                            logits_file=lf, alpha=args.alpha, temperature=args.temperature, seed=seed, **extra)
    log.info("%s: AUC %.4f R50 %.2f", out.name, m["auc"], m["rejection_at_50"])
    return {"run": out.name, "dir": str(out), "kind": kind, "seed": seed, "alpha": m["alpha"], **{k: m[k] for k in keys + UNC}}


def _scan_kind(args, kinds) -> str:
    """The distilled kind of the bits / N scan: --scan-kind, else trigger-view if trained, else out-of-fold."""
    return args.scan_kind or ("distilled_trigger" if "distilled_trigger" in kinds else "distilled_oof")


def students(args, t: SimpleNamespace) -> tuple[list[dict], list[dict], str]:
    """The main students (every kind, every seed) and the bits / N scan (scratch and distilled: the
    kind of --scan-kind; the first --scan-seeds seeds)."""
    rows = []
    for seed in args.seeds:
        for kind in t.kinds:
            from_demo = t.demo is not None and (kind, seed) in t.demo
            out = t.demo[kind, seed] if from_demo else args.work / f"{kind}_s{seed}"
            rows.append(_student(args, args.data, out, kind, t, seed, finished=from_demo))
    scan, scan_kind = [], _scan_kind(args, t.kinds)
    for seed in args.seeds[:args.scan_seeds] if args.scan_data is not None else ():
        for bits, n in [(b, 16) for b in (4, 6, 8, 16)] + [(8, n) for n in (8, 32)]:
            for kind in ("scratch", scan_kind):
                row = _student(args, args.scan_data, args.work / f"scan_{kind}_b{bits}_n{n}_s{seed}", kind, t, seed, bits, n,
                               keys=("accuracy", "auc", "rejection_at_50", "n_test", "n_parameters", "best_epoch"),
                               epochs=args.scan_epochs)
                scan.append({"bits": bits, "n_objects": n, **row})
    return rows, scan, scan_kind


def _refs(t: SimpleNamespace, folds: bool = False) -> dict:
    """The teachers by name: full view, (the fold teachers,) trigger view, trigger view from the chain."""
    named = [("teacher", t.teacher)] + [(f"fold{i}", d) for i, d in enumerate(t.folds if folds else ())]
    named += [("trigger-view", t.vteacher), ("trigger-view-chain", t.chain)]
    return {name: d for name, d in named if d is not None}


def independent(args, t: SimpleNamespace, teachers_m: dict, rows: list[dict], scan: list[dict]):
    """eval_* metrics of every teacher and student on all jets of --eval-data (and the scan's on
    --scan-eval-data); returns (labels, student scores, teacher scores) for the paired gains."""
    from fpgatag.train.data import as_source

    eval_scores, eval_teacher, eval_labels = {}, {}, None
    if args.eval_data is not None:
        ev = as_source(args.eval_data)
        for name, d in _refs(t, folds=True).items():
            eval_labels, eval_teacher[name] = _score(d, ev, teachers_m[name], logits=False)
        for r in rows:
            eval_labels, eval_scores[r["run"]] = _score(Path(r["dir"]), ev, r)
    if scan and args.scan_eval_data is not None:
        ev32 = as_source(args.scan_eval_data)
        for r in scan:
            _score(Path(r["dir"]), ev32, r)
    return eval_labels, eval_scores, eval_teacher


def paired(args, t: SimpleNamespace, rows: list[dict], evaluated) -> dict:
    """Each distilled kind's gain over scratch, paired over the same jets: test split and independent file."""
    from fpgatag.report.compare import _aligned

    eval_labels, eval_scores, eval_teacher = evaluated
    ref_dirs = _refs(t)
    test_labels, test_scores = _aligned([Path(r["dir"]) for r in rows] + list(ref_dirs.values()))
    test_by_run = {r["run"]: s for r, s in zip(rows, test_scores)}
    gains = {"test": _gains(t.kinds, rows, (test_labels, test_by_run), dict(zip(ref_dirs, test_scores[len(rows):])))}
    if eval_labels is not None:
        gains["eval"] = _gains(t.kinds, rows, (eval_labels == 1, eval_scores),
                               {k: v for k, v in eval_teacher.items() if k in ref_dirs})
    return gains


def summarize(args, kinds: list[str], rows: list[dict], teachers_m: dict) -> tuple[dict, dict]:
    """Mean +- std over seeds per kind, and each distilled kind's R50 gain, gap closed and AUC gain per seed."""
    keys = ["auc", "rejection_at_50"] + (["eval_auc", "eval_rejection_at_50"] if args.eval_data else [])
    summary = {kind: {k: C.mean_std(r[k] for r in rows if r["kind"] == kind) for k in keys} for kind in kinds}
    verdict = {}
    for kind in kinds[1:]:
        for prefix in ("", "eval_") if args.eval_data else ("",):
            s, d = summary["scratch"][f"{prefix}rejection_at_50"][0], summary[kind][f"{prefix}rejection_at_50"][0]
            t = teachers_m["teacher"][f"{prefix}rejection_at_50"]
            by = {(r["kind"], r["seed"]): r[f"{prefix}auc"] for r in rows}
            verdict[f"{kind}_{prefix or 'test_'}"] = {
                "r50_gain": d / s - 1.0, "gap_closed": (d - s) / (t - s) if t > s else None,
                "auc_gain_per_seed": [by[kind, sd] - by["scratch", sd] for sd in args.seeds]}
    return summary, verdict


def main(argv=None) -> int:
    args = parse(argv)
    C.start(args)
    from fpgatag.train.data import as_source

    t_start = time.perf_counter()
    t = teachers(args)
    source = as_source(args.data)
    labels = np.asarray(source.labels()).astype(int)
    splits, calib = calibrations(args, t, source, labels)
    rows, scan, scan_kind = students(args, t)
    teachers_m = {name: json.loads((d / "metrics.json").read_text()) for name, d in _refs(t, folds=True).items()}
    evaluated = independent(args, t, teachers_m, rows, scan)
    gains = paired(args, t, rows, evaluated)
    summary, verdict = summarize(args, t.kinds, rows, teachers_m)
    eval_labels = evaluated[0]
    setup = {"data": str(args.data.resolve()), "n_jets": int(source.n_jets),
             "jets_per_class": np.bincount(labels).tolist(), "splits": {k: int(v.size) for k, v in splits.items()},
             "eval_data": None if args.eval_data is None else str(args.eval_data.resolve()),
             "teacher_model": args.teacher_model, "teacher_epochs": args.teacher_epochs, "n_particles": args.n_particles,
             "folds": args.folds, "student": args.student, "bits": 8, "n_objects": 16, "alpha": args.alpha,
             "temperature": args.temperature, "seeds": args.seeds, "scan_seeds": args.seeds[:args.scan_seeds], "note": args.note,
             "scan_epochs": args.scan_epochs or args.epochs,
             "student_epochs": args.epochs, "student_patience": args.patience, "teacher_patience": args.teacher_patience,
             "from_demo": None if t.demo is None else str(args.from_demo),
             "wall_seconds": round(time.perf_counter() - t_start, 1), "kinds": t.kinds,
             "eval_jets_per_class": None if eval_labels is None else np.bincount(np.asarray(eval_labels).astype(int)).tolist(),
             "machine": C.machine()}
    result = {"benchmark": args.name, "setup": setup, "teachers": teachers_m, "calibration": calib,
              "summary": summary, "verdict": verdict, "gains": gains, "runs": rows, "scan": scan}
    md = markdown(args, t, setup, source, calib, teachers_m, summary, verdict, rows, scan, scan_kind) + _gain_md(gains, setup)
    C.write(args.out, args.name, result, md)
    return 0


def markdown(args, t, setup, source, calib, teachers_m, summary, verdict, rows, scan, scan_kind) -> list[str]:
    f, folds, demo = C.fmt, t.folds, t.demo
    keys = list(next(iter(summary.values())))
    ev_cols = ["eval_auc +- err", "eval_rej@0.5 [68% CI]"]
    title = ("# Distillation with in-sample vs out-of-fold soft targets" if "distilled_oof" in t.kinds
             else "# Distillation from the trigger-view teacher vs training from scratch")
    md = [title, ""] + ([f"**{args.note}**", ""] if args.note else []) + [
          f"Data: `{args.data.name}`, {source.n_jets} jets ({setup['jets_per_class']} per class), splits "
          f"{setup['splits']}; independent file: `{args.eval_data.name if args.eval_data else 'none'}`"
          f"{' (' + str(setup['eval_jets_per_class']) + ' per class, all scored)' if args.eval_data else ''}. Teacher "
          f"{args.teacher_model}, {args.n_particles} particles, {args.teacher_epochs} epochs"
          + (f"; {len(folds)} fold teachers each trained without one fold of the training jets" if folds else "")
          + (f"; trigger-view teacher {args.view_teacher}, {args.teacher_epochs} epochs" if t.vteacher is not None else "")
          + (f"; chain: {args.view_teacher} trained on the full-view teacher's soft targets (alpha = {args.alpha:g}, "
             f"T = {args.temperature:g}, {args.teacher_epochs} epochs; `teacher-chain`), students distilled from it "
             "(`distilled_chain`, trained here)" if t.chain is not None else "")
          + (". Teachers' seed 0" if demo is None else
             f". Teachers (seed {demo['config']['seed']}) and students trained by `fpgatag demo --data {args.data.name} "
             f"--student-seeds {' '.join(map(str, args.seeds))}` (output `{args.from_demo.name}`), scored here")
          + (f". Student epochs max {args.epochs or 'the preset default'}, patience {args.patience or 'the preset default'}; "
             f"teacher patience {args.teacher_patience or 'none'}")
          + f". Student: {args.student}, 8 bits, 16 candidates, "
          f"alpha = {args.alpha:g}, T = {args.temperature:g}, seeds {args.seeds}. Wall time {setup['wall_seconds'] / 60:.1f} min.", "",
          "## Teacher logits on its training jets vs the test jets", "",
          "| logits | jets | n | accuracy | mean confidence | cross-entropy |", "|---|---|---|---|---|---|"]
    for name, c in calib.items():
        for s, v in c.items():
            md.append(f"| {name} | {s} | {v['n']} | {f(v['accuracy'])} | {f(v['confidence'])} | {f(v['cross_entropy'])} |")
    md += ["", "## Teachers", "",
           C.table([{"teacher": k, "n_test": v.get("n_test"), **_shown(v), **_shown(v, "eval_")} for k, v in teachers_m.items()],
                   ["teacher", "n_test", "auc +- err", "rej@0.5 [68% CI]"] + (ev_cols if args.eval_data else [])), "",
           "## Students (mean +- std over seeds)", "",
           "| student | " + " | ".join(C.heading(k) for k in keys) + " |",
           "|---" * (len(keys) + 1) + "|"]
    for kind in t.kinds:
        md.append(f"| {kind} | " + " | ".join(f"{f(summary[kind][k][0])} +- {f(summary[kind][k][1])}" for k in keys) + " |")
    md += [""]
    for name, v in verdict.items():
        md.append(f"- {name.rstrip('_')}: AUC gain per seed {', '.join(f'{x:+.4f}' for x in v['auc_gain_per_seed'])} "
                  "(gains with their uncertainties: below)")
    shown = [{**r, **_shown(r), **_shown(r, "eval_")} for r in rows]
    md += ["", "## Every run", "", C.table(shown, ["run", "alpha", "accuracy", "auc +- err", "rej@0.5 [68% CI]", "n_test",
                                                     "best_epoch", "train_seconds"] + (ev_cols if args.eval_data else [])), ""]
    if scan:
        md += ["## Bits and N", "", f"`{args.scan_data.name}`: the same jets with 32 L1 candidates (rebuilt by "
               "`fpgatag views`; N = 8 and 16 read the first 8 and 16 of them, identical to the 16-candidate file's). "
               f"Seeds {args.seeds[:args.scan_seeds]}, epochs max {args.scan_epochs or args.epochs or 'the preset default'}; scratch and distilled ({scan_kind}). Bits: weights, biases and "
               "activations; N: trigger-view candidates per jet.", "",
               C.table([{**r, **_shown(r), **_shown(r, "eval_")} for r in scan],
                       ["run", "kind", "bits", "n_objects", "accuracy", "auc +- err", "rej@0.5 [68% CI]", "n_test",
                        "n_parameters"] + (ev_cols if args.scan_eval_data else [])), ""]
    return md


def _demo_runs(demo_dir: Path, seeds) -> dict:
    """The run directories of a finished ``fpgatag demo`` output: teachers and (kind, seed) students."""
    summary = json.loads((demo_dir / "demo.json").read_text())
    cfg = summary["config"]
    first = cfg["student_seeds"][0]
    runs = {"config": cfg, "teacher": demo_dir / "teacher", "teacher-trigger": demo_dir / "teacher-trigger"}
    for seed in seeds:
        for kind, stem in (("scratch", "scratch"), ("distilled_trigger", "distilled")):
            runs[kind, seed] = demo_dir / (stem if seed == first else f"{stem}-s{seed}")
    missing = [str(p) for p in runs.values() if isinstance(p, Path) and not (p / "metrics.json").is_file()]
    if missing:
        raise SystemExit(f"--from-demo {demo_dir}: no finished run in {', '.join(missing)}")
    return runs


def _gain_md(gains: dict, setup: dict) -> list[str]:
    """The distilled-vs-scratch gain tables (test split, independent file) and the goal check, in Markdown."""
    md = ["## Distilled vs scratch, paired over the same jets", "",
          "Seed means over the seeds above. +- is one sd: a paired bootstrap over the jets (the same resampled jets "
          "for every model, stratified by class, 200 resamples, seed 12345) and the standard error over seeds, in "
          "quadrature (each also shown alone). R50 gain = distilled / scratch - 1; gap closed = (distilled - scratch) "
          "/ (teacher - scratch) in R50, for the full-view and the trigger-view teacher; significant = gain above "
          "its 1-sd uncertainty.", ""]
    for split, by_kind in gains.items():
        rows = []
        for kind, by_ref in by_kind.items():
            g = next(iter(by_ref.values()))
            passing = g["n_background"] / g["rejection_at_50_scratch"]
            rows.append({
                "jets": "test split" if split == "test" else "independent file", "kind": kind,
                "seeds": f"{g['n_seeds_distilled']} + {g['n_seeds_scratch']}", "n": g["n_test"], "n_bkg": g["n_background"],
                "AUC gain": f"{g['auc_gain']:+.4f} +- {g['auc_gain_err']:.4f} (jets {g['auc_gain_err_jets']:.4f}, "
                            f"seeds {g.get('auc_gain_err_seeds', float('nan')):.4f})",
                "R50 distilled / scratch": f"{g['rejection_at_50_distilled']:.3g} / {g['rejection_at_50_scratch']:.3g}"
                                           + (f" (~{passing:.0f} bkg jet(s) passing: <10)" if passing < 10 else ""),
                "R50 gain": f"{100 * g['rejection_gain']:+.0f} % +- {100 * g['rejection_gain_err']:.0f} % (jets "
                            f"{100 * g['rejection_gain_err_jets']:.0f} %, seeds {100 * g.get('rejection_gain_err_seeds', float('nan')):.0f} %)",
                **{f"gap closed ({ref})": f"{v['gap_closed']:.2f} +- {v['gap_closed_err']:.2f}" if "gap_closed" in v
                   else "undefined (teacher not better)" for ref, v in by_ref.items()},
                "significant": "yes" if g["rejection_gain_significant"] else "no",
            })
        md += [C.table(rows, list(rows[0])) if rows else "", ""]
    goal = []
    for split, by_kind in gains.items():
        for kind, by_ref in by_kind.items():
            g = by_ref.get("teacher") or next(iter(by_ref.values()))
            gap = g.get("gap_closed", float("nan"))
            ok = g["rejection_gain"] - g["rejection_gain_err"] >= 0.10 and gap >= 1 / 3
            goal.append(f"- {kind}, {'test split' if split == 'test' else 'independent file'}: R50 gain "
                        f"{100 * g['rejection_gain']:+.0f} % +- {100 * g['rejection_gain_err']:.0f} %, gap to the full-view "
                        f"teacher closed {gap:.2f} +- {g.get('gap_closed_err', float('nan')):.2f}: goal (>= +10 % outside the "
                        f"uncertainty and >= 1/3 of the gap) {'MET' if ok else 'NOT met'}")
    return md + ["Goal check:", ""] + goal + [""]


if __name__ == "__main__":
    sys.exit(main())
