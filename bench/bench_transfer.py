"""Benchmark: LundNet vs ParticleNet teachers, transfer between tagging tasks, and distillation.

After Dreyer, Grabarczyk, Monni (arXiv:2203.06210), at this machine's scale. Target task: top vs QCD
jets at 550-650 GeV. Source tasks: top vs QCD at a higher pT window, and W vs QCD at the target pT.
For ParticleNet-Lite and LundNet-5:

* each teacher trained from scratch on the target (the reference), over a scan of the target's
  training-set size;
* transferred from each source teacher by **fine-tuning** (all weights, learning rate x 0.1) and
  with **frozen** EdgeConv blocks (dense layers retrained), ``train-teacher --init-from [--freeze]``;
* for every run: AUC and background rejection at 30 % / 50 % signal efficiency on one fixed held-out
  set of target jets (never trained on), with bootstrap standard errors; the epochs to converge (first
  epoch whose validation loss is within 2 % of the run's best); training time in ms per jet per epoch;
* the Lund-tree cost per jet (C/A reclustering and declustering with FastJet, one process);
* distillation: the trigger-view Deep Sets student from scratch, distilled from the ParticleNet-Lite
  teacher and from the LundNet-5 teacher (both trained on the full target pool), over seeds.

    python bench/bench_transfer.py --target T.h5 --source-top S_TOP.h5 --source-w S_W.h5 [--work DIR] [--reuse]

Files without Lund trees get them first (``fpgatag views --lund``) in --work. Writes
bench/results/transfer.{json,md}.
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

from fpgatag.core.io import read_json, write_json, write_text  # noqa: E402
from fpgatag.core.logs import setup_logging  # noqa: E402
from fpgatag.core.metrics import auc, format_table, rejection_at  # noqa: E402

log = logging.getLogger("fpgatag.bench.transfer")  # shown by fpgatag's log set-up
MODELS = {"particlenet-lite": "PN-Lite", "lundnet-5": "LN5"}


def bootstrap(labels: np.ndarray, scores: np.ndarray, n_boot: int = 200, seed: int = 0) -> dict:
    """AUC and rejection at 30 % / 50 % signal efficiency with bootstrap standard errors."""
    rng = np.random.default_rng(seed)
    out = {"n_eval": int(labels.size), "auc": auc(labels, scores)}
    for eff in (0.3, 0.5):
        out[f"rejection_at_{int(eff * 100)}"] = rejection_at(labels, scores, eff)[0]
    samples = {k: [] for k in out if k != "n_eval"}
    for _ in range(n_boot):
        i = rng.integers(0, labels.size, labels.size)
        if labels[i].min() == labels[i].max():
            continue
        samples["auc"].append(auc(labels[i], scores[i]))
        for eff in (0.3, 0.5):
            samples[f"rejection_at_{int(eff * 100)}"].append(rejection_at(labels[i], scores[i], eff)[0])
    for k, v in samples.items():
        v = np.asarray(v, dtype=float)
        out[f"{k}_err"] = float(np.std(v[np.isfinite(v)])) if v.size else float("nan")
    return out


def evaluate(run_dir: Path, holdout, logits: bool = False) -> dict:
    from fpgatag.nn.io import load_inputs, load_model
    from fpgatag.nn.students import softmax
    from fpgatag.train.data import load_arrays

    x, y = load_arrays(holdout, load_inputs(run_dir), np.arange(holdout.n_jets))
    out = load_model(run_dir).predict(x, batch_size=1024, verbose=0)
    probs = softmax(out) if logits else out
    return {**bootstrap(y, probs[:, 1]), "_scores": probs[:, 1], "_labels": y}


def paired_delta(rows: list[dict], ref_of, n_boot: int = 200, seed: int = 1) -> None:
    """Add ``delta_auc`` (run - its reference, same held-out jets) with a paired bootstrap error."""
    rng = np.random.default_rng(seed)
    for r in rows:
        ref = ref_of(r)
        if ref is None or ref is r or "_scores" not in r:
            continue
        y, a, b = r["_labels"], r["_scores"], ref["_scores"]
        diffs = []
        for _ in range(n_boot):
            i = rng.integers(0, y.size, y.size)
            if y[i].min() != y[i].max():
                diffs.append(auc(y[i], a[i]) - auc(y[i], b[i]))
        r["delta_auc"] = float(auc(y, a) - auc(y, b))
        r["delta_auc_err"] = float(np.std(diffs))


def strip(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def run_record(run_dir: Path) -> dict:
    """Epochs, convergence and timing of a finished teacher run."""
    hist = read_json(run_dir / "history.json")
    run = read_json(run_dir / "run.json")
    val = np.asarray(hist["val_loss"], dtype=float)
    n_train = int(run["splits"]["counts"]["train"])
    conv = int(np.flatnonzero(val <= 1.02 * val.min())[0]) + 1
    return {"n_train": n_train, "epochs_run": int(val.size), "best_epoch": int(np.argmin(val)) + 1,
            "epochs_to_converge": conv,
            "ms_per_jet_epoch": float(1e3 * np.mean(hist["seconds"]) / max(n_train, 1)),
            "train_seconds": float(np.sum(hist["seconds"]))}


def with_lund(path: Path, work: Path, timings: dict) -> Path:
    """The file itself when it has Lund trees, else a copy with them (``fpgatag views --lund``)."""
    from fpgatag.data.io import open_jets
    from fpgatag.data.lund import LundSettings, time_lund_trees
    from fpgatag.data.reviews import remake_views

    with open_jets(path) as src:
        if getattr(src, "has_lund", False):
            return path
        b = src.read(0, min(300, src.n_jets), keys=["particles", "n_particles"])
        timings[path.name] = time_lund_trees(b["particles"], b["n_particles"], LundSettings())
        log.info("Lund trees of %s: %s", path.name, timings[path.name])
    out = work / f"{path.stem}.lund.h5"
    if not out.exists():
        remake_views(path, out, {}, lund=LundSettings())
    return out


def split_target(target: Path, work: Path, holdout_fraction: float) -> tuple[Path, Path]:
    """Target jets -> a training pool and a fixed held-out evaluation set, by uid."""
    from fpgatag.core.splits import assign_folds
    from fpgatag.data.io import open_jets, write_jets
    from fpgatag.data.lund import LUND_KEYS
    from fpgatag.core import schema

    pool, hold = work / "target_pool.h5", work / "target_holdout.h5"
    if pool.exists() and hold.exists():
        return pool, hold
    with open_jets(target) as src:
        batch = src.read(keys=[*schema.BATCH_KEYS, *LUND_KEYS])
        attrs = {k: v for k, v in src.attrs.items() if k not in ("format", "schema_version", "n_jets")}
    k = 10
    fold = assign_folds(batch["uid"], k, salt=77)
    is_hold = fold < int(round(holdout_fraction * k))
    for path, sel in ((hold, is_hold), (pool, ~is_hold)):
        write_jets(path, {key: v[sel] for key, v in batch.items()}, attrs)
    return pool, hold


def teacher(out: Path, reuse: bool, **kw) -> Path:
    from fpgatag.train.teacher import train_teacher

    if reuse and (out / "metrics.json").is_file():
        log.info("reusing %s", out)
    else:
        train_teacher(out_dir=out, **kw)
    return out


def transfer_rows(args, pool: Path, holdout, sources: dict[str, Path], work: Path) -> list[dict]:
    from fpgatag.data.io import open_jets

    rows = []
    n_pool = open_jets(pool).n_jets
    sizes = sorted({min(int(s), n_pool) for s in args.sizes} | {n_pool})
    common = {"n_particles": args.n_objects, "seed": args.seed}
    for model, short in MODELS.items():
        src_dirs = {name: teacher(work / f"source_{name}_{model}", args.reuse, data=path, model=model,
                                  epochs=args.source_epochs, **common) for name, path in sources.items()}
        for name, d in src_dirs.items():
            rows.append({"model": short, "source": name, "method": "source task", "jets": None,
                         **run_record(d), **{f"src_{k}": v for k, v in read_json(d / "metrics.json").items()
                                             if k in ("auc", "n_test")}})
        for size in sizes:
            plan = [("scratch", None, False, args.epochs)]
            for name in src_dirs:
                if size == n_pool or name == "top_hi":
                    plan += [("fine-tune", name, False, args.transfer_epochs), ("frozen", name, True, args.transfer_epochs)]
            for method, src, freeze, epochs in plan:
                out = work / f"target_{model}_{method}_{src or 'none'}_{size}"
                kw = {"init_from": src_dirs[src], "freeze": freeze} if src else {"model": model}
                teacher(out, args.reuse, data=pool, epochs=epochs, max_jets=size if size < n_pool else None,
                        **common, **kw)
                row = {"model": short, "source": src or "-", "method": method, "jets": size, **run_record(out),
                       **evaluate(out, holdout), "run": str(out)}
                log.info("%s", {k: row[k] for k in ("model", "source", "method", "jets", "auc", "auc_err")})
                rows.append(row)
    scratch = {(r["model"], r["jets"]): r for r in rows if r["method"] == "scratch"}
    paired_delta(rows, lambda r: scratch.get((r["model"], r["jets"])) if r["method"] in ("fine-tune", "frozen") else None)
    return rows


def distill_rows(args, pool: Path, holdout, rows: list[dict], work: Path) -> list[dict]:
    from fpgatag.train.distill import train_student
    from fpgatag.train.soft_targets import teacher_predict

    full = max(r["jets"] for r in rows if r["jets"])
    teachers = {r["model"]: Path(r["run"]) for r in rows if r["method"] == "scratch" and r["jets"] == full}
    out = []
    for name, tdir in [("none", None), *teachers.items()]:
        logits = None
        if tdir is not None:
            logits = work / f"pool.logits.{name}.h5"
            if not (args.reuse and logits.exists()):
                teacher_predict(tdir, pool, output=logits)
        for seed in args.student_seeds:
            sdir = work / f"student_{name}_{seed}"
            if not (args.reuse and (sdir / "metrics.json").is_file()):
                train_student(pool, student=args.student, out_dir=sdir, teacher_dir=tdir, logits_file=logits,
                              seed=seed, epochs=args.student_epochs)
            row = {"student": args.student, "teacher": name, "seed": seed, **evaluate(sdir, holdout, logits=True)}
            if tdir is not None:
                row["teacher_auc"] = next(r["auc"] for r in rows if r.get("run") == str(tdir))
            log.info("%s", {k: v for k, v in row.items() if not k.startswith("_")})
            out.append(row)
    base = {r["seed"]: r for r in out if r["teacher"] == "none"}
    paired_delta(out, lambda r: base.get(r["seed"]) if r["teacher"] != "none" else None)
    return out


def summarise(rows: list[dict], key: str) -> tuple[float, float]:
    """Mean over seeds and its standard error."""
    vals = np.asarray([r[key] for r in rows], dtype=float)
    return float(vals.mean()), float(vals.std(ddof=1) / np.sqrt(vals.size)) if vals.size > 1 else float("nan")


def write_report(args, result: dict) -> None:
    out = args.out
    write_json(out / "transfer.json", result)
    fmt = lambda v, e: f"{v:.4f} ± {e:.4f}"  # noqa: E731
    fr = lambda v, e: f"{v:.1f} ± {e:.1f}"  # noqa: E731
    lines = ["# Transfer between taggers, LundNet vs ParticleNet (bench/bench_transfer.py)", "",
             result["setup"], "", "## Lund-tree cost (C/A reclustering + declustering, FastJet, one process)", "",
             format_table([{"file": k, **v} for k, v in result["lund_cost"].items()],
                          ["file", "jets", "mean_nodes", "ms_per_jet_cpu", "ms_per_jet_wall"]), "",
             "## Target task (top vs QCD, 550-650 GeV), fixed held-out set", ""]
    cols = ["model", "source", "method", "jets", "n_train", "AUC", "dAUC vs scratch", "R30", "R50", "best_epoch",
            "epochs_to_converge", "ms/jet/epoch"]
    table = []
    for r in result["transfer"]:
        if r["method"] == "source task":
            continue
        table.append({"model": r["model"], "source": r["source"], "method": r["method"], "jets": r["jets"],
                      "n_train": r["n_train"], "AUC": fmt(r["auc"], r["auc_err"]),
                      "dAUC vs scratch": fmt(r["delta_auc"], r["delta_auc_err"]) if "delta_auc" in r else "-",
                      "R30": fr(r["rejection_at_30"], r["rejection_at_30_err"]),
                      "R50": fr(r["rejection_at_50"], r["rejection_at_50_err"]),
                      "best_epoch": f"{r['best_epoch']}/{r['epochs_run']}", "epochs_to_converge": r["epochs_to_converge"],
                      "ms/jet/epoch": f"{r['ms_per_jet_epoch']:.2f}"})
    lines += [format_table(table, cols), "", "Source teachers (AUC on their own test split):", "",
              format_table([{"model": r["model"], "source": r["source"], "AUC": f"{r['src_auc']:.4f}",
                             "n_test": r["src_n_test"], "n_train": r["n_train"], "epochs": r["epochs_run"]}
                            for r in result["transfer"] if r["method"] == "source task"],
                           ["model", "source", "AUC", "n_test", "n_train", "epochs"]), "",
              "## Distillation into the trigger-view student (held-out set)", ""]
    by = {}
    for r in result["distill"]:
        by.setdefault(r["teacher"], []).append(r)
    lines.append(format_table([{"teacher": t, "seeds": len(rs), "student AUC (mean ± s.e. over seeds)":
                                fmt(*summarise(rs, "auc")), "bootstrap err of one": f"{np.mean([r['auc_err'] for r in rs]):.4f}",
                                "dAUC vs no teacher (paired, per seed)": ", ".join(
                                    fmt(r["delta_auc"], r["delta_auc_err"]) for r in rs if "delta_auc" in r) or "-",
                                "R30": fr(*summarise(rs, "rejection_at_30")), "teacher AUC": f"{rs[0].get('teacher_auc', float('nan')):.4f}"}
                               for t, rs in by.items()],
                              ["teacher", "seeds", "student AUC (mean ± s.e. over seeds)", "bootstrap err of one",
                               "dAUC vs no teacher (paired, per seed)", "R30", "teacher AUC"]))
    lines += ["", "Uncertainties: AUC and rejection of one run are bootstrap standard deviations over the held-out "
              "jets (200 resamples); dAUC is the AUC difference to the reference (scratch run of the same model and "
              "size; student without teacher of the same seed) on the same jets, with a paired bootstrap error; "
              "student means carry the standard error over seeds. R30/R50: background rejection 1/eps_B at "
              "30 %/50 % signal efficiency. epochs_to_converge: first epoch with validation loss within 2 % of "
              "the run's best."]
    write_text(out / "transfer.md", "\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, type=Path, help="top vs QCD at 550-650 GeV")
    ap.add_argument("--source-top", required=True, type=Path, help="top vs QCD at a higher pT window")
    ap.add_argument("--source-w", required=True, type=Path, help="W vs QCD at the target pT")
    ap.add_argument("--sizes", type=int, nargs="+", default=[300, 700], help="target pool jets (train + val) to scan")
    ap.add_argument("--epochs", type=int, default=10, help="epochs from scratch (sources and target)")
    ap.add_argument("--source-epochs", type=int, default=10)
    ap.add_argument("--transfer-epochs", type=int, default=5, help="epochs of fine-tuning / frozen retraining")
    ap.add_argument("--n-objects", type=int, default=64, help="particles (ParticleNet) and tree nodes (LundNet) per jet")
    ap.add_argument("--holdout-fraction", type=float, default=0.3)
    ap.add_argument("--student", default="deepsets")
    ap.add_argument("--student-seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--student-epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench-transfer")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--reuse", action="store_true", help="reuse finished runs found in --work")
    args = ap.parse_args(argv)
    setup_logging(0)
    from fpgatag.data.io import open_jets

    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    lund_cost: dict = {}
    target = with_lund(args.target, args.work, lund_cost)
    sources = {"top_hi": with_lund(args.source_top, args.work, lund_cost), "w": with_lund(args.source_w, args.work, lund_cost)}
    pool, hold = split_target(target, args.work, args.holdout_fraction)
    holdout = open_jets(hold)
    rows = transfer_rows(args, pool, holdout, sources, args.work)
    distill = distill_rows(args, pool, holdout, rows, args.work)
    gen = {p.name: {k: open_jets(p).attrs.get("generator", {}).get(k) for k in ("pt_min", "pt_max")} | {
        "classes": open_jets(p).classes, "jets": open_jets(p).n_jets} for p in (args.target, args.source_top, args.source_w)}
    setup = (f"Files: {json.dumps(gen)}. Held-out target set: {holdout.n_jets} jets "
             f"({int(np.sum(holdout.labels() == 1))} top). Target pool: {open_jets(pool).n_jets} jets, split 80/10/10 "
             f"(train/val/test) by uid inside each run; --sizes picks a random subset of the pool. {args.n_objects} "
             f"particles / tree nodes per jet; scratch {args.epochs} epochs, transfer {args.transfer_epochs} epochs, "
             f"sources {args.source_epochs} epochs, one-cycle schedule, CPU (2 shared cores). Wall time "
             f"{time.perf_counter() - t0:.0f} s.")
    result = {"setup": setup, "files": gen, "lund_cost": lund_cost, "transfer": strip(rows), "distill": strip(distill),
              "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}}
    write_report(args, result)
    print(args.out / "transfer.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
