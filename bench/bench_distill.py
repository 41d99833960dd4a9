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

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

import _common as C

from fpgatag.core.metrics import classification_metrics  # noqa: E402

log = logging.getLogger("fpgatag.bench.distill")  # shown by fpgatag's log set-up

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


def parse(argv=None):
    ap = C.parser(__doc__, "bench-distill")
    ap.add_argument("--data", required=True, type=Path, help="jet file (>= 50k jets per class for the full benchmark)")
    ap.add_argument("--teacher", required=True, type=Path, help="teacher run directory")
    ap.add_argument("--quick", action="store_true", help="fewer seeds and scan points")
    ap.add_argument("--epochs", type=int, default=None, help="maximum epochs (default: the preset's)")
    ap.add_argument("--patience", type=int, default=None, help="early-stopping patience (default: the preset's)")
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--alpha", type=float, default=None, help="alpha of the main distilled runs (default: the toolkit's)")
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--max-jets", type=int, default=None)
    ap.add_argument("--eval-data", type=Path, default=None,
                    help="an independent jet file (other seed): also score teacher and main students on all its jets")
    args = ap.parse_args(argv)
    from fpgatag.train import distill as D

    args.seeds = args.seeds or ([1, 2, 3, 4] if args.quick else [1, 2, 3, 4, 5, 6])
    args.alpha = D.DEFAULT_ALPHA if args.alpha is None else args.alpha
    args.temperature = D.DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    return args


def plan(args) -> list[dict]:
    """Every student run, in order: (1) scratch and distilled over seeds, (2) alpha / T, (3) input views,
    (4) bits and N scans (8 bits / N = 16 are the main runs)."""
    s0, a, t = args.seeds[0], args.alpha, args.temperature
    scan_at = [(0.5, 2.0), (0.1, 4.0), (0.0, 2.0)] + ([] if args.quick else [(0.5, 8.0)])
    runs = []
    for s in args.seeds:
        runs += [dict(tag=f"scratch_s{s}", teacher=False, seed=s), dict(tag=f"distilled_s{s}", teacher=True, seed=s)]
    runs += [dict(tag=f"distilled_a{sa:g}_T{st:g}_s{s0}", teacher=True, seed=s0, a=sa, t=st) for sa, st in scan_at]
    for variant in ("logpt", "towers"):
        for kind in ("scratch", "distilled"):
            runs.append(dict(tag=f"{variant}_{kind}_s{s0}", teacher=kind == "distilled", seed=s0, student=f"deepsets-{variant}"))
    for key, values, main in (("bits", [4, 6, 8, 16], 8), ("n", [8, 16, 32], 16)):
        for v in values:
            if v != main:
                for kind in ("scratch", "distilled"):
                    runs.append({"tag": f"{kind}_{key[0]}{v}_s{s0}", "teacher": kind == "distilled", "seed": s0, key: v})
    return [{"a": a, "t": t, "bits": 8, "n": 16, "student": "deepsets", **r} for r in runs]


def train(args, spec: dict, reused: list[str]) -> dict:
    """One student run (or its finished metrics with --reuse) as a result row."""
    from fpgatag.train import distill as D

    out = args.work / spec["tag"]
    if args.reuse and (out / "metrics.json").is_file():
        m = json.loads((out / "metrics.json").read_text())
        reused.append(spec["tag"])
    else:
        m = D.train_student(args.data, student=spec["student"], n_objects=spec["n"], bits=spec["bits"], out_dir=out,
                            teacher_dir=args.teacher if spec["teacher"] else None, epochs=args.epochs,
                            patience=args.patience, alpha=spec["a"], temperature=spec["t"], seed=spec["seed"],
                            max_jets=args.max_jets)
    row = {"run": spec["tag"], "kind": "distilled" if spec["teacher"] else "scratch", "student": spec["student"],
           "alpha": m["alpha"], "T": m["temperature"] if spec["teacher"] else None, "bits": spec["bits"],
           "n_objects": spec["n"], "seed": spec["seed"], "train_s": m.get("train_seconds"),
           "best_epoch": m.get("best_epoch"), "n_train": m.get("n_train"),
           **{k: m[k] for k in ("accuracy", "auc", "rejection_at_30", "rejection_at_50", "n_test", "n_parameters")}}
    log.info("%s: AUC %.4f R50 %.2f", spec["tag"], row["auc"], row["rejection_at_50"])
    return row


def _per_seed(rows: list[dict], seeds, key: str, ratio: bool) -> list[float]:
    by = {r["run"]: r[key] for r in rows}
    return [by[f"distilled_s{s}"] / by[f"scratch_s{s}"] - 1.0 if ratio else by[f"distilled_s{s}"] - by[f"scratch_s{s}"]
            for s in seeds]


def compare(rows: list[dict], seeds, trow: dict, n_bkg: int) -> tuple[dict, dict]:
    """Teacher vs scratch vs distilled (mean, std over seeds) and the verdict on the goals."""
    main_cmp = {}
    for key in ("accuracy", "auc", "rejection_at_30", "rejection_at_50"):
        (sm, ss), (dm, ds) = (C.mean_std(r[key] for r in rows if r["run"] in {f"{kind}_s{s}" for s in seeds})
                              for kind in ("scratch", "distilled"))
        main_cmp[key] = {"teacher": trow[key], "scratch_mean": sm, "scratch_std": ss, "distilled_mean": dm,
                         "distilled_std": ds}
    r = main_cmp["rejection_at_50"]
    gain = r["distilled_mean"] / r["scratch_mean"] - 1.0
    gap = r["teacher"] - r["scratch_mean"]
    closed = (r["distilled_mean"] - r["scratch_mean"]) / gap if gap > 0 else float("nan")
    verdict = {
        "auc_gain_per_seed": _per_seed(rows, seeds, "auc", ratio=False),
        # test-set noise: R50 = n_bkg / n_pass, with a relative Poisson error of about 1 / sqrt(n_pass)
        "test_background_jets": n_bkg, "r50_relative_stat_error": float(1.0 / np.sqrt(max(n_bkg / r["scratch_mean"], 1.0))),
        "r50_gain": gain, "r50_gain_per_seed": _per_seed(rows, seeds, "rejection_at_50", ratio=True), "gap_closed": closed,
        "goal_gain_10pct": bool(gain >= 0.10), "goal_close_third": bool(closed >= 1 / 3),
    }
    return main_cmp, verdict


def independent(args, rows: list[dict]) -> dict | None:
    """The teacher and every student on all jets of --eval-data (none of them trained on)."""
    if args.eval_data is None:
        return None
    seeds = args.seeds
    ev = independent_eval(args.teacher, args.eval_data, {x["run"]: args.work / x["run"] for x in rows})
    for x in rows:
        x["eval_auc"] = ev[x["run"]]["auc"]
        x["eval_rejection_at_50"] = ev[x["run"]]["rejection_at_50"]
    indep = {"data": str(args.eval_data.resolve()), "n_jets": ev["teacher"]["n_test"],
             "n_background": ev["teacher"]["n_background"], "metrics": ev}
    for key in ("auc", "rejection_at_30", "rejection_at_50", "accuracy"):
        for kind in ("scratch", "distilled"):
            indep[f"{kind}_{key}"] = C.mean_std(ev[f"{kind}_s{s}"][key] for s in seeds)
    sr, dr, tr = indep["scratch_rejection_at_50"][0], indep["distilled_rejection_at_50"][0], ev["teacher"]["rejection_at_50"]
    indep["r50_gain"] = dr / sr - 1.0
    indep["gap_closed"] = (dr - sr) / (tr - sr) if tr > sr else float("nan")
    indep["auc_gain_per_seed"] = [ev[f"distilled_s{s}"]["auc"] - ev[f"scratch_s{s}"]["auc"] for s in seeds]
    indep["r50_gain_per_seed"] = [ev[f"distilled_s{s}"]["rejection_at_50"] / ev[f"scratch_s{s}"]["rejection_at_50"] - 1.0
                                  for s in seeds]
    return indep


def main(argv=None) -> int:
    args = parse(argv)
    threads = C.start(args)
    from fpgatag.train import distill as D
    from fpgatag.train.data import as_source
    from fpgatag.train.soft_targets import teacher_predict

    logits_file = D.logits_path(args.teacher, args.data)
    if not logits_file.is_file():
        log.info("no stored teacher logits for %s: running teacher-predict once", args.data)
        teacher_predict(args.teacher, args.data)
    reused: list[str] = []
    t_start = time.perf_counter()
    rows = [train(args, spec, reused) for spec in plan(args)]
    total_s = time.perf_counter() - t_start

    with np.load(args.work / f"scratch_s{args.seeds[0]}" / "predictions.npz") as f:
        test_uids = f["uid"]
    trow = teacher_row(args.teacher, args.data, logits_file, test_uids)
    source = as_source(args.data)
    n_bkg = int(np.sum(np.asarray(source.labels())[np.isin(source.uids(), test_uids)] == 0))
    main_cmp, verdict = compare(rows, args.seeds, trow, n_bkg)
    setup = {
        "data": str(args.data.resolve()), "n_jets": int(source.n_jets), "classes": list(source.classes),
        "jets_per_class": np.bincount(np.asarray(source.labels()).astype(int)).tolist(),
        "n_train": rows[0]["n_train"], "n_test": rows[0]["n_test"], "teacher": str(args.teacher.resolve()),
        "teacher_name": trow["run"], "epochs": args.epochs, "seeds": args.seeds, "alpha": args.alpha,
        "temperature": args.temperature, "quick": args.quick, "max_jets": args.max_jets, "wall_seconds": round(total_s, 1),
        "runs_reused": len(reused), "train_seconds_sum": round(sum(x["train_s"] or 0.0 for x in rows), 1),
        "threads": threads or "tensorflow default",
        "max_stored_candidates": int(np.max(source.read(0, None, keys=["n_candidates"])["n_candidates"])),
        "machine": C.machine(),
    }
    indep = independent(args, rows)
    result = {"benchmark": "distill", "setup": setup, "independent_test": indep, "teacher": trow, "main": main_cmp,
              "verdict": verdict, "runs": rows}
    C.write(args.out, "distill", result, markdown(args, setup, main_cmp, verdict, indep, rows, reused))
    return 0


def markdown(args, setup: dict, main_cmp: dict, verdict: dict, indep: dict | None, rows: list[dict],
             reused: list[str]) -> list[str]:
    f = C.fmt
    r, gain, closed = main_cmp["rejection_at_50"], verdict["r50_gain"], verdict["gap_closed"]
    n_bkg, stored, n_scan = verdict["test_background_jets"], setup["max_stored_candidates"], [8, 16, 32]
    md = [f"# Distillation benchmark ({'quick' if args.quick else 'full'})", "",
          f"Data: `{args.data.name}`, {setup['n_jets']} jets ({setup['jets_per_class']} per class {setup['classes']}); "
          f"{setup['n_train']} training jets, {setup['n_test']} test jets (uid-keyed split shared with the teacher). "
          f"Student: 8-bit Deep Sets, 16 trigger-view candidates, {args.epochs or 'preset'} epochs max (best val_loss kept, "
          f"mean best epoch {np.mean([x['best_epoch'] for x in rows]):.0f}), "
          f"seeds {args.seeds}; distilled with alpha = {args.alpha:g}, T = {args.temperature:g}. Teacher: "
          f"{setup['teacher_name']}. Training time {setup['train_seconds_sum'] / 60:.1f} min summed over {len(rows)} runs "
          f"({'all' if len(reused) == len(rows) else len(reused)} reused from an earlier invocation)." if reused else
          f"Wall time {setup['wall_seconds'] / 60:.1f} min for {len(rows)} runs.", "",
          "## Teacher vs scratch vs distilled (mean +- std over seeds)", "",
          "| metric | teacher | scratch | distilled |", "|---|---|---|---|"]
    for key, c in main_cmp.items():
        md.append(f"| {C.labels.label(key)} | {f(c['teacher'])} | {f(c['scratch_mean'])} +- {f(c['scratch_std'])} | "
                  f"{f(c['distilled_mean'])} +- {f(c['distilled_std'])} |")
    md += ["", f"R50: distilled / scratch - 1 = **{gain * 100:+.1f} %** "
               f"(per seed: {', '.join(f'{p * 100:+.0f} %' for p in verdict['r50_gain_per_seed'])}); scratch-to-teacher "
               f"gap closed: **{f(closed, 2)}**. Goals: +10 % {'met' if verdict['goal_gain_10pct'] else 'NOT met'}, "
               f"1/3 of the gap {'met' if verdict['goal_close_third'] else 'NOT met'}. "
               f"AUC, distilled - scratch, per seed: {', '.join(f'{p:+.4f}' for p in verdict['auc_gain_per_seed'])}.",
           f"The test split has {n_bkg} background jets, so an R50 of ~{r['scratch_mean']:.0f} rests "
           f"on ~{n_bkg / r['scratch_mean']:.0f} passing background jets: a statistical uncertainty of about "
           f"{verdict['r50_relative_stat_error'] * 100:.0f} % on each R50 (shared by all runs, since they use the same test "
           f"jets; the seed spread above is the training noise).", ""]
    if indep is not None:
        ev = indep["metrics"]
        md += ["## The same models on an independent file", "",
               f"`{args.eval_data.name}`: {indep['n_jets']} jets never used in training ({indep['n_background']} background), "
               "generated with another seed. Mean +- std over the seeds.", "",
               "| metric | teacher | scratch | distilled |", "|---|---|---|---|"]
        for key in ("accuracy", "auc", "rejection_at_30", "rejection_at_50"):
            md.append(f"| {C.labels.label(key)} | {f(ev['teacher'][key])} | {f(indep['scratch_' + key][0])} +- "
                      f"{f(indep['scratch_' + key][1])} | {f(indep['distilled_' + key][0])} +- {f(indep['distilled_' + key][1])} |")
        md += ["", f"R50: distilled / scratch - 1 = **{indep['r50_gain'] * 100:+.1f} %** (per seed: "
                   f"{', '.join(f'{p * 100:+.0f} %' for p in indep['r50_gain_per_seed'])}); gap closed: "
                   f"**{f(indep['gap_closed'], 2)}**; AUC distilled - scratch per seed: "
                   f"{', '.join(f'{p:+.4f}' for p in indep['auc_gain_per_seed'])}.", ""]
    md += ["## Every run (test split of --data)", "",
           f"Bits scan: weights, biases and activations at 4/6/8/16 bits (inputs ap_fixed<16,6>). N scan: the file "
           f"stores up to {stored} candidates per jet" + (f", so N > {stored} only adds zero padding." if stored < max(n_scan) else "."),
           "" if indep is None else f"`eval_*`: the same model on the independent file `{args.eval_data.name}`.",
           "", C.table(rows, COLUMNS + (["eval_auc", "eval_rejection_at_50"] if indep is not None else [])), ""]
    return md


if __name__ == "__main__":
    sys.exit(main())
