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
* with ``--scan-data`` (the same jets with 32 candidates): bits 4, 6, 8, 16 and N = 8, 16, 32,
  scratch and out-of-fold distilled.

    python bench/bench_distill_oof.py --data jets.h5 --eval-data eval.h5 [--scan-data jets-n32.h5] [--reuse]
    python bench/bench_distill_oof.py --data jets.h5 --eval-data eval.h5 --kinds scratch distilled_trigger \
        --seeds 1 2 3 4 5 --name distill_trigger      # full- and trigger-view teachers, no fold teachers

Teachers are trained into --work when missing (or always, without --reuse). Every figure carries its
uncertainty: AUC +- its DeLong error, rejections with 68 % Clopper-Pearson intervals and the number of
background jets passing; each distilled kind's gain over scratch is paired over the same jets (test
split and independent file; paired bootstrap, stratified, fixed seed) with the standard error over
seeds. Writes bench/results/<--name>.{json,md} (default distill_oof).
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
from fpgatag.core.metrics import classification_metrics, format_auc, format_rejection, format_table, paired_gain  # noqa: E402

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


def _shown(m: dict, prefix: str = "") -> dict:
    """Display strings: AUC +- err and R50 [68 % interval] (background jets passing where < 10)."""
    sub = {k[len(prefix):]: v for k, v in m.items() if k.startswith(prefix)}
    return {f"{prefix}auc +- err": format_auc(sub), f"{prefix}rej@0.5 [68% CI]": format_rejection(sub, "50")}


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
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS,
                    help="student kinds to train (scratch always); fold teachers only for distilled_oof")
    ap.add_argument("--name", default="distill_oof", help="result file stem in --out")
    ap.add_argument("--student", default="deepsets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=None, help="student epochs max (default: the preset's)")
    ap.add_argument("--alpha", type=float, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-distill-oof")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--reuse", action="store_true", help="reuse finished teachers and students found in --work")
    ap.add_argument("--from-demo", type=Path, default=None, metavar="DIR",
                    help="score the teachers (full and trigger view) and the scratch / distilled students of a finished "
                         "`fpgatag demo --data DATA --student-seeds ...` output directory instead of training them")
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
    demo = _demo_runs(args.from_demo, args.seeds) if args.from_demo is not None else None
    if demo is not None:
        args.kinds, args.view_teacher = ["distilled_trigger"], demo["config"]["distill_teacher"]
        args.teacher_model, args.teacher_epochs = demo["config"]["teacher"], demo["config"]["teacher_epochs"]
        args.n_particles, args.student = demo["config"]["teacher_particles"], demo["config"]["student"]
    teacher = demo["teacher"] if demo else ensure_teacher(work / "teacher", args.reuse, **tkw)
    kinds = [k for k in KINDS if k == "scratch" or k in args.kinds]
    if args.view_teacher == "none":
        kinds = [k for k in kinds if k != "distilled_trigger"]
    folds = ([ensure_teacher(work / f"teacher-fold{i}", args.reuse, fold=(i, args.folds), **tkw) for i in range(args.folds)]
             if "distilled_oof" in kinds or (args.scan_data is not None and "distilled_trigger" not in kinds) else [])
    vteacher = None
    if demo is not None:
        vteacher = demo["teacher-trigger"]
    elif "distilled_trigger" in kinds:
        vteacher = ensure_teacher(work / "teacher-trigger", args.reuse, data=args.data, model=args.view_teacher,
                                  epochs=args.teacher_epochs, seed=0)

    logits_files = {"insample": work / "logits-insample.h5"}
    if not (args.reuse and logits_files["insample"].is_file()):
        teacher_predict(teacher, args.data, output=logits_files["insample"])
    if folds:
        logits_files["oof"] = work / "logits-oof.h5"
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
            out = demo[kind, seed] if demo else work / f"{kind}_s{seed}"
            if demo or (args.reuse and (out / "metrics.json").is_file()):
                m = json.loads((out / "metrics.json").read_text())
            else:
                tdir = {"scratch": None, "distilled_insample": teacher, "distilled_oof": folds[0] if folds else None,
                        "distilled_trigger": vteacher}[kind]
                lf = None if kind == "scratch" else logits_files[kind.split("_")[1]]
                m = D.train_student(args.data, student=args.student, n_objects=16, bits=8, out_dir=out,
                                    teacher_dir=tdir, logits_file=lf, alpha=alpha, temperature=temp,
                                    epochs=args.epochs, seed=seed)
            rows.append({"run": out.name, "dir": str(out), "kind": kind, "seed": seed, "alpha": m["alpha"],
                         **{k: m[k] for k in ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test",
                                              "n_parameters", "best_epoch", "train_seconds") + UNC}})
            log.info("%s: AUC %.4f R50 %.2f", out.name, m["auc"], m["rejection_at_50"])

    # ---- bits and N scans (scratch and distilled: trigger-view teacher if trained, else out-of-fold; first seed) ----
    scan = []
    scan_kind = "distilled_trigger" if vteacher is not None else "distilled_oof"
    scan_teacher = vteacher if vteacher is not None else (folds[0] if folds else None)
    if args.scan_data is not None:
        seed = args.seeds[0]
        points = [(b, 16) for b in (4, 6, 8, 16)] + [(8, n) for n in (8, 32)]
        for bits, n in points:
            for kind in ("scratch", scan_kind):
                out = work / f"scan_{kind}_b{bits}_n{n}_s{seed}"
                if args.reuse and (out / "metrics.json").is_file():
                    m = json.loads((out / "metrics.json").read_text())
                else:
                    m = D.train_student(args.scan_data, student=args.student, n_objects=n, bits=bits, out_dir=out,
                                        teacher_dir=None if kind == "scratch" else scan_teacher,
                                        logits_file=None if kind == "scratch" else logits_files[scan_kind.split("_")[1]],
                                        alpha=alpha, temperature=temp, epochs=args.epochs, seed=seed)
                scan.append({"run": out.name, "dir": str(out), "kind": kind, "bits": bits, "n_objects": n, "seed": seed,
                             **{k: m[k] for k in ("accuracy", "auc", "rejection_at_50", "n_test", "n_parameters", "best_epoch")
                                + UNC}})
                log.info("%s: AUC %.4f R50 %.2f", out.name, m["auc"], m["rejection_at_50"])

    teachers = {"teacher": json.loads((teacher / "metrics.json").read_text())}
    for i, d in enumerate(folds):
        teachers[f"fold{i}"] = json.loads((d / "metrics.json").read_text())
    if vteacher is not None:
        teachers["trigger-view"] = json.loads((vteacher / "metrics.json").read_text())

    # ---- independent file ----
    eval_scores, eval_teacher, eval_labels = {}, {}, None
    if args.eval_data is not None:
        ev = as_source(args.eval_data)
        named = [("teacher", teacher)] + [(f"fold{i}", d) for i, d in enumerate(folds)]
        for name, d in named + ([("trigger-view", vteacher)] if vteacher is not None else []):
            eval_labels, eval_teacher[name] = _score(d, ev, teachers[name], logits=False)
        for r in rows:
            eval_labels, eval_scores[r["run"]] = _score(Path(r["dir"]), ev, r)
    if scan and args.scan_eval_data is not None:
        ev32 = as_source(args.scan_eval_data)
        for r in scan:
            _score(Path(r["dir"]), ev32, r)

    # ---- paired gains over scratch: test split (uid-matched predictions) and independent file ----
    from fpgatag.report.compare import _aligned

    ref_dirs = {"teacher": teacher, **({"trigger-view": vteacher} if vteacher is not None else {})}
    test_dirs = [Path(r["dir"]) for r in rows] + list(ref_dirs.values())
    test_labels, test_scores = _aligned(test_dirs)
    test_by_run = {r["run"]: s for r, s in zip(rows, test_scores)}
    test_teacher = dict(zip(ref_dirs, test_scores[len(rows):]))
    gains = {"test": _gains(kinds, rows, (test_labels, test_by_run), test_teacher)}
    if eval_labels is not None:
        gains["eval"] = _gains(kinds, rows, (eval_labels == 1, eval_scores),
                               {k: v for k, v in eval_teacher.items() if k in ref_dirs})

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
             "temperature": temp, "seeds": args.seeds, "from_demo": None if demo is None else str(args.from_demo), "wall_seconds": round(time.perf_counter() - t_start, 1)}
    setup["kinds"] = kinds
    setup["eval_jets_per_class"] = (None if eval_labels is None else np.bincount(np.asarray(eval_labels).astype(int)).tolist())
    result = {"benchmark": args.name, "setup": setup, "teachers": teachers, "calibration": calib,
              "summary": summary, "verdict": verdict, "gains": gains, "runs": rows, "scan": scan}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / f"{args.name}.json", result)

    def f(x, nd=3):
        return "n/a" if x is None else f"{x:.{nd}f}"

    title = ("# Distillation with in-sample vs out-of-fold soft targets" if "distilled_oof" in kinds
             else "# Distillation from the trigger-view teacher vs training from scratch")
    md = [title, "",
          f"Data: `{args.data.name}`, {source.n_jets} jets ({setup['jets_per_class']} per class), splits "
          f"{setup['splits']}; independent file: `{args.eval_data.name if args.eval_data else 'none'}`"
          f"{' (' + str(setup['eval_jets_per_class']) + ' per class, all scored)' if args.eval_data else ''}. Teacher "
          f"{args.teacher_model}, {args.n_particles} particles, {args.teacher_epochs} epochs"
          + (f"; {len(folds)} fold teachers each trained without one fold of the training jets" if folds else "")
          + (f"; trigger-view teacher {args.view_teacher}, {args.teacher_epochs} epochs" if vteacher is not None else "")
          + (f". Teachers' seed 0" if demo is None else
             f". Teachers (seed {demo['config']['seed']}) and students trained by `fpgatag demo --data {args.data.name} "
             f"--student-seeds {' '.join(map(str, args.seeds))}` (output `{args.from_demo.name}`), scored here")
          + f". Student: {args.student}, 8 bits, 16 candidates, "
          f"alpha = {alpha:g}, T = {temp:g}, seeds {args.seeds}. Wall time {setup['wall_seconds'] / 60:.1f} min.", "",
          "## Teacher logits on its training jets vs the test jets", "",
          "| logits | jets | n | accuracy | mean confidence | cross-entropy |", "|---|---|---|---|---|---|"]
    for name, c in calib.items():
        for s, v in c.items():
            md.append(f"| {name} | {s} | {v['n']} | {f(v['accuracy'])} | {f(v['confidence'])} | {f(v['cross_entropy'])} |")
    md += ["", "## Teachers", "",
           format_table([{"teacher": k, "n_test": v.get("n_test"), **_shown(v), **_shown(v, "eval_")}
                         for k, v in teachers.items()],
                        ["teacher", "n_test", "auc +- err", "rej@0.5 [68% CI]"]
                        + (["eval_auc +- err", "eval_rej@0.5 [68% CI]"] if args.eval_data else [])), "",
           "## Students (mean +- std over seeds)", "", "| student | " + " | ".join(keys) + " |",
           "|---" * (len(keys) + 1) + "|"]
    for kind in kinds:
        md.append(f"| {kind} | " + " | ".join(f"{f(summary[kind][k][0])} +- {f(summary[kind][k][1])}" for k in keys) + " |")
    md += [""]
    for name, v in verdict.items():
        md.append(f"- {name.rstrip('_')}: AUC gain per seed {', '.join(f'{x:+.4f}' for x in v['auc_gain_per_seed'])} "
                  "(gains with their uncertainties: below)")
    shown = [{**r, **_shown(r), **_shown(r, "eval_")} for r in rows]
    md += ["", "## Every run", "", format_table(shown, ["run", "alpha", "accuracy", "auc +- err", "rej@0.5 [68% CI]", "n_test",
                                                          "best_epoch", "train_seconds"]
                                                  + (["eval_auc +- err", "eval_rej@0.5 [68% CI]"] if args.eval_data else [])), ""]
    if scan:
        md += ["## Bits and N", "", f"`{args.scan_data.name}`: the same jets with 32 L1 candidates (rebuilt by "
               "`fpgatag views`; N = 8 and 16 read the first 8 and 16 of them, identical to the 16-candidate file's). "
               f"Seed {args.seeds[0]}; scratch and distilled ({scan_kind}). Bits: weights, biases and "
               "activations; N: trigger-view candidates per jet.", "",
               format_table([{**r, **_shown(r), **_shown(r, "eval_")} for r in scan],
                            ["run", "kind", "bits", "n_objects", "accuracy", "auc +- err", "rej@0.5 [68% CI]", "n_test",
                             "n_parameters"] + (["eval_auc +- err", "eval_rej@0.5 [68% CI]"] if args.scan_eval_data else [])), ""]
    md += _gain_md(gains, setup)
    write_text(args.out / f"{args.name}.md", "\n".join(md))
    print("\n".join(md))
    return 0


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
        md += [format_table(rows, list(rows[0])) if rows else "", ""]
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
