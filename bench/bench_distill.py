"""Benchmark: does distillation help the 8-bit Deep Sets student on the trigger view?

Measured in one run, on the same uid-keyed test split:

* the teacher (its stored logits on the test jets),
* the 8-bit Deep Sets student with 16 objects trained from scratch (alpha = 1),
* the identical student distilled from the teacher (default alpha, T), over several seeds,
* an alpha / temperature scan of the distilled student,
* input views: log_pt as an extra input, and towers instead of candidates (scratch and distilled),
* the bits scan (4, 6, 8, 16) and the N scan (8, 16, 32), scratch and distilled.

Goal: distilled beats scratch by >= 10 % in rejection at eps_S = 0.5 and closes >= 1/3 of
the scratch-to-teacher gap. Writes bench/results/distill.json and distill.md.

    python bench/bench_distill.py --data jets.h5 --teacher runs/teacher [--quick]

The teacher's logits for --data are computed once with ``teacher_predict`` if they are not stored yet.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpgatag.core.io import write_json, write_text  # noqa: E402
from fpgatag.core.logs import setup_logging  # noqa: E402
from fpgatag.core.metrics import classification_metrics, format_table  # noqa: E402

log = logging.getLogger("bench_distill")

COLUMNS = ["run", "alpha", "T", "bits", "n_objects", "seed", "accuracy", "auc", "rejection_at_30",
           "rejection_at_50", "n_parameters", "train_s"]


def teacher_row(teacher_dir: Path, data: Path, logits_file: Path, test_uids: np.ndarray) -> dict:
    """The teacher's metrics on exactly the students' test jets, from its stored logits."""
    from fpgatag.nn.students import softmax
    from fpgatag.train.data import as_source
    from fpgatag.train.soft_targets import load_soft_targets

    source = as_source(data)
    logits = load_soft_targets(logits_file, source)
    uids, labels = np.asarray(source.uids()), np.asarray(source.labels()).astype(int)
    rows = np.flatnonzero(np.isin(uids, test_uids))
    m = classification_metrics(labels[rows], softmax(logits[rows]))
    run = json.loads((teacher_dir / "run.json").read_text()) if (teacher_dir / "run.json").is_file() else {}
    settings = run.get("settings", {})
    return {"run": f"teacher ({settings.get('model', teacher_dir.name)})", "bits": "float",
            "n_parameters": settings.get("n_parameters"), **{k: m[k] for k in
            ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test")}}


def independent_eval(teacher_dir: Path, eval_data: Path, run_dirs: dict[str, Path]) -> dict[str, dict]:
    """Metrics of the teacher and of student runs on every jet of an independent file (no training jet)."""
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.nn.students import softmax
    from fpgatag.train.data import as_source, load_arrays
    from fpgatag.train.distill import logits_path
    from fpgatag.train.soft_targets import load_soft_targets, teacher_predict

    source = as_source(eval_data)
    labels = np.asarray(source.labels()).astype(int)
    lf = logits_path(teacher_dir, eval_data)
    if not lf.is_file():
        teacher_predict(teacher_dir, eval_data)
    out = {"teacher": classification_metrics(labels, softmax(load_soft_targets(lf, source)))}
    rows = np.arange(source.n_jets)
    for tag, d in run_dirs.items():
        spec = load_inputs(d)
        x, y = load_arrays(source, spec, rows)
        out[tag] = classification_metrics(y, softmax(load_model(d).predict(x, batch_size=1024, verbose=0)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, type=Path, help="jet file (the issue asks for >= 50k jets per class)")
    ap.add_argument("--teacher", required=True, type=Path, help="teacher run directory")
    ap.add_argument("--quick", action="store_true", help="fewer seeds and scan points")
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-distill", help="where the student runs go")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results directory")
    ap.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the preset's)")
    ap.add_argument("--patience", type=int, default=None, help="early-stopping patience (default: the preset's)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--alpha", type=float, default=None, help="alpha of the main distilled runs (default: the toolkit's)")
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--max-jets", type=int, default=None)
    ap.add_argument("--reuse", action="store_true", help="reuse finished runs found in --work")
    ap.add_argument("--eval-data", type=Path, default=None,
                    help="an independent jet file (other seed): also score teacher and main students on all its jets")
    args = ap.parse_args(argv)
    setup_logging(0)

    import tensorflow as tf

    from fpgatag.train import distill as D
    from fpgatag.train.soft_targets import teacher_predict

    threads = int(os.environ.get("BENCH_THREADS", "0"))
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    quick = args.quick
    epochs = args.epochs  # None: the preset's (150, early stopping after 15 epochs without a lower val_loss)
    seeds = args.seeds or ([1, 2, 3, 4] if quick else [1, 2, 3, 4, 5, 6])
    alpha = D.DEFAULT_ALPHA if args.alpha is None else args.alpha
    temp = D.DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    scan_at = [(0.5, 2.0), (0.1, 4.0), (0.0, 2.0), (0.5, 8.0)] if not quick else [(0.5, 2.0), (0.1, 4.0), (0.0, 2.0)]
    bits_scan = [4, 6, 8, 16]
    n_scan = [8, 16, 32]

    logits_file = D.logits_path(args.teacher, args.data)
    if not logits_file.is_file():
        log.info("no stored teacher logits for %s: running teacher-predict once", args.data)
        teacher_predict(args.teacher, args.data)

    rows: list[dict] = []
    reused: list[str] = []

    def run(tag: str, *, teacher: bool, seed: int, a: float = alpha, t: float = temp, bits: int = 8,
            n: int = 16, student: str = "deepsets") -> dict:
        out = args.work / tag
        if args.reuse and (out / "metrics.json").is_file():
            m = json.loads((out / "metrics.json").read_text())
            reused.append(tag)
        else:
            t0 = time.perf_counter()
            m = D.train_student(args.data, student=student, n_objects=n, bits=bits, out_dir=out,
                                teacher_dir=args.teacher if teacher else None, epochs=epochs, patience=args.patience, alpha=a, temperature=t,
                                seed=seed, max_jets=args.max_jets)
            m["wall_s"] = round(time.perf_counter() - t0, 1)
        row = {"run": tag, "kind": "distilled" if teacher else "scratch", "student": student,
               "alpha": m["alpha"], "T": m["temperature"] if teacher else None, "bits": bits, "n_objects": n,
               "seed": seed, "train_s": m.get("train_seconds"), "best_epoch": m.get("best_epoch"),
               "n_train": m.get("n_train"),
               **{k: m[k] for k in ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test", "n_parameters")}}
        rows.append(row)
        log.info("%s: AUC %.4f R50 %.2f", tag, row["auc"], row["rejection_at_50"])
        return row

    t_start = time.perf_counter()
    # 1. teacher vs scratch vs distilled, several seeds
    for s in seeds:
        run(f"scratch_s{s}", teacher=False, seed=s)
        run(f"distilled_s{s}", teacher=True, seed=s)
    # 2. alpha / temperature
    for a, t in scan_at:
        run(f"distilled_a{a:g}_T{t:g}_s{seeds[0]}", teacher=True, seed=seeds[0], a=a, t=t)
    # 3. input views: log_pt as an extra input, and calorimeter towers instead of candidates
    for variant in ("logpt", "towers"):
        run(f"{variant}_scratch_s{seeds[0]}", teacher=False, seed=seeds[0], student=f"deepsets-{variant}")
        run(f"{variant}_distilled_s{seeds[0]}", teacher=True, seed=seeds[0], student=f"deepsets-{variant}")
    # 4. bits and N scans (8 bits / N = 16 are the main runs)
    for b in bits_scan:
        if b != 8:
            run(f"scratch_b{b}_s{seeds[0]}", teacher=False, seed=seeds[0], bits=b)
            run(f"distilled_b{b}_s{seeds[0]}", teacher=True, seed=seeds[0], bits=b)
    for n in n_scan:
        if n != 16:
            run(f"scratch_n{n}_s{seeds[0]}", teacher=False, seed=seeds[0], n=n)
            run(f"distilled_n{n}_s{seeds[0]}", teacher=True, seed=seeds[0], n=n)
    total_s = time.perf_counter() - t_start

    # ---- summary ----
    from fpgatag.train.data import as_source

    with np.load(args.work / f"scratch_s{seeds[0]}" / "predictions.npz") as f:
        test_uids = f["uid"]
    trow = teacher_row(args.teacher, args.data, logits_file, test_uids)
    source = as_source(args.data)

    def agg(kind: str, key: str) -> tuple[float, float]:
        vals = [r[key] for r in rows if r["run"] in {f"{kind}_s{s}" for s in seeds}]
        return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0

    main_cmp = {}
    for key in ("accuracy", "auc", "rejection_at_30", "rejection_at_50"):
        sm, ss = agg("scratch", key)
        dm, ds = agg("distilled", key)
        main_cmp[key] = {"teacher": trow[key], "scratch_mean": sm, "scratch_std": ss, "distilled_mean": dm,
                         "distilled_std": ds}
    r = main_cmp["rejection_at_50"]
    gain = r["distilled_mean"] / r["scratch_mean"] - 1.0
    gap = r["teacher"] - r["scratch_mean"]
    closed = (r["distilled_mean"] - r["scratch_mean"]) / gap if gap > 0 else float("nan")
    paired = [next(x for x in rows if x["run"] == f"distilled_s{s}")["rejection_at_50"]
              / next(x for x in rows if x["run"] == f"scratch_s{s}")["rejection_at_50"] - 1.0 for s in seeds]
    # test-set noise: R50 = n_bkg / n_pass, with a relative Poisson error of about 1 / sqrt(n_pass)
    n_bkg = int(np.sum(np.asarray(source.labels())[np.isin(source.uids(), test_uids)] == 0))
    r50_rel_err = float(1.0 / np.sqrt(max(n_bkg / r["scratch_mean"], 1.0)))
    paired_auc = [next(x for x in rows if x["run"] == f"distilled_s{s}")["auc"]
                  - next(x for x in rows if x["run"] == f"scratch_s{s}")["auc"] for s in seeds]
    verdict = {
        "auc_gain_per_seed": paired_auc,
        "test_background_jets": n_bkg, "r50_relative_stat_error": r50_rel_err,
        "r50_gain": gain, "r50_gain_per_seed": paired, "gap_closed": closed,
        "goal_gain_10pct": bool(gain >= 0.10), "goal_close_third": bool(closed >= 1 / 3),
    }
    setup = {
        "data": str(args.data.resolve()), "n_jets": int(source.n_jets), "classes": list(source.classes),
        "jets_per_class": np.bincount(np.asarray(source.labels()).astype(int)).tolist(),
        "n_train": rows[0]["n_train"], "n_test": rows[0]["n_test"], "teacher": str(args.teacher.resolve()),
        "teacher_name": trow["run"], "epochs": epochs, "seeds": seeds, "alpha": alpha, "temperature": temp,
        "quick": quick, "max_jets": args.max_jets, "wall_seconds": round(total_s, 1), "runs_reused": len(reused),
        "train_seconds_sum": round(sum(x["train_s"] or 0.0 for x in rows), 1),
        "threads": threads or "tensorflow default",
    }
    stored = int(np.max(source.read(0, None, keys=["n_candidates"])["n_candidates"]))
    setup["max_stored_candidates"] = stored
    indep = None
    if args.eval_data is not None:
        ev = independent_eval(args.teacher, args.eval_data, {x["run"]: args.work / x["run"] for x in rows})
        for x in rows:
            x["eval_auc"] = ev[x["run"]]["auc"]
            x["eval_rejection_at_50"] = ev[x["run"]]["rejection_at_50"]
        indep = {"data": str(args.eval_data.resolve()), "n_jets": ev["teacher"]["n_test"],
                 "n_background": ev["teacher"]["n_background"], "metrics": ev}
        for key in ("auc", "rejection_at_30", "rejection_at_50", "accuracy"):
            for kind in ("scratch", "distilled"):
                vals = [ev[f"{kind}_s{s}"][key] for s in seeds]
                indep[f"{kind}_{key}"] = [float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0]
        sr, dr, tr = indep["scratch_rejection_at_50"][0], indep["distilled_rejection_at_50"][0], ev["teacher"]["rejection_at_50"]
        indep["r50_gain"] = dr / sr - 1.0
        indep["gap_closed"] = (dr - sr) / (tr - sr) if tr > sr else float("nan")
        indep["auc_gain_per_seed"] = [ev[f"distilled_s{s}"]["auc"] - ev[f"scratch_s{s}"]["auc"] for s in seeds]
        indep["r50_gain_per_seed"] = [ev[f"distilled_s{s}"]["rejection_at_50"] / ev[f"scratch_s{s}"]["rejection_at_50"] - 1.0
                                      for s in seeds]
    result = {"benchmark": "distill", "setup": setup, "independent_test": indep, "teacher": trow, "main": main_cmp, "verdict": verdict,
              "runs": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "distill.json", result)

    def f(x, nd=3):
        return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.{nd}f}"

    md = [f"# Distillation benchmark ({'quick' if quick else 'full'})", "",
          f"Data: `{args.data.name}`, {setup['n_jets']} jets ({setup['jets_per_class']} per class {setup['classes']}); "
          f"{setup['n_train']} training jets, {setup['n_test']} test jets (uid-keyed split shared with the teacher). "
          f"Student: 8-bit Deep Sets, 16 trigger-view candidates, {epochs or 'preset'} epochs max (best val_loss kept, "
          f"mean best epoch {np.mean([x['best_epoch'] for x in rows]):.0f}), "
          f"seeds {seeds}; distilled with alpha = {alpha:g}, T = {temp:g}. Teacher: {trow['run']}. "
          f"Training time {setup['train_seconds_sum'] / 60:.1f} min summed over {len(rows)} runs "
          f"({'all' if len(reused) == len(rows) else len(reused)} reused from an earlier invocation)." if reused else
          f"Wall time {total_s / 60:.1f} min for {len(rows)} runs.", "",
          "## Teacher vs scratch vs distilled (mean +- std over seeds)", "",
          "| metric | teacher | scratch | distilled |", "|---|---|---|---|"]
    for key, c in main_cmp.items():
        md.append(f"| {key} | {f(c['teacher'])} | {f(c['scratch_mean'])} +- {f(c['scratch_std'])} | "
                  f"{f(c['distilled_mean'])} +- {f(c['distilled_std'])} |")
    md += ["", f"Rejection at eps_S = 0.5: distilled / scratch - 1 = **{gain * 100:+.1f} %** "
               f"(per seed: {', '.join(f'{p * 100:+.0f} %' for p in paired)}); scratch-to-teacher gap closed: "
               f"**{f(closed, 2)}**. Goals: +10 % {'met' if verdict['goal_gain_10pct'] else 'NOT met'}, "
               f"1/3 of the gap {'met' if verdict['goal_close_third'] else 'NOT met'}. "
               f"AUC, distilled - scratch, per seed: {', '.join(f'{p:+.4f}' for p in paired_auc)}.",
           f"The test split has {n_bkg} background jets, so a rejection of ~{r['scratch_mean']:.0f} at eps_S = 0.5 rests "
           f"on ~{n_bkg / r['scratch_mean']:.0f} passing background jets: a statistical uncertainty of about "
           f"{r50_rel_err * 100:.0f} % on each R50 (shared by all runs, since they use the same test jets; the seed "
           f"spread above is the training noise).", "",
           ]
    if indep is not None:
        ev = indep["metrics"]
        md += ["## The same models on an independent file", "",
               f"`{args.eval_data.name}`: {indep['n_jets']} jets never used in training ({indep['n_background']} background), "
               "generated with another seed. Mean +- std over the seeds.", "",
               "| metric | teacher | scratch | distilled |", "|---|---|---|---|"]
        for key in ("accuracy", "auc", "rejection_at_30", "rejection_at_50"):
            md.append(f"| {key} | {f(ev['teacher'][key])} | {f(indep['scratch_' + key][0])} +- {f(indep['scratch_' + key][1])} | "
                      f"{f(indep['distilled_' + key][0])} +- {f(indep['distilled_' + key][1])} |")
        md += ["", f"Rejection at 0.5: distilled / scratch - 1 = **{indep['r50_gain'] * 100:+.1f} %** (per seed: "
                   f"{', '.join(f'{p * 100:+.0f} %' for p in indep['r50_gain_per_seed'])}); gap closed: "
                   f"**{f(indep['gap_closed'], 2)}**; AUC distilled - scratch per seed: "
                   f"{', '.join(f'{p:+.4f}' for p in indep['auc_gain_per_seed'])}.", ""]
    md += ["## Every run (test split of --data)", "",
           f"Bits scan: weights, biases and activations at 4/6/8/16 bits (inputs ap_fixed<16,6>). N scan: the file "
           f"stores up to {stored} candidates per jet" + (f", so N > {stored} only adds zero padding." if stored < max(n_scan) else "."),
           "" if indep is None else f"`eval_*`: the same model on the independent file `{args.eval_data.name}`.",
           "", format_table(rows, COLUMNS + (["eval_auc", "eval_rejection_at_50"] if indep is not None else [])), ""]
    write_text(args.out / "distill.md", "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
