"""Run every benchmark (each measures fpgatag against a peer in the same run) and write
bench/results/summary.md with the machine, date and versions.

Benchmarks that need jets or a trained teacher get them here, made once into --work and reused
(``fpgatag generate`` with fixed seeds, ``fpgatag train-teacher``, ``fpgatag demo``), so that
``make bench`` reproduces every figure the README quotes from a fresh checkout. The RTL flow has its
own target (``make bench-rtl``: Yosys takes 20-30 min per unpruned preset), and so has the distillation benchmark at
>= 50k jets per class (``make bench-distill-full``: bench/distill_full.sh, an hour of generation and one of training
on 2 cores).

    python bench/run_all.py            # full sizes (many hours on 2 cores: see each script's --help)
    python bench/run_all.py --quick    # small sizes
    python bench/run_all.py --only l1_student fpga
    python bench/run_all.py --list     # what each benchmark runs, nothing run
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PY = sys.executable
FPGATAG = [PY, "-m", "fpgatag.cli.main"]

# the jet files the benchmarks share: name -> (jets per class, generator seed); --quick divides by 10
JETS = {"dev": (2000, 1), "jets8k": (8000, 11), "indep": (3000, 777), "demo2500": (2500, 1), "indep1500": (1500, 7)}
SEEDS = ["1", "2", "3", "4", "5"]


def recipes(work: Path, quick: bool) -> dict[str, list[list[str]]]:
    """name -> the commands that make its results/<name>.{json,md}, in order (inputs first)."""
    j = {k: work / f"{k}.h5" for k in JETS}
    n32 = {k: work / f"{k}_n32.h5" for k in ("jets8k", "indep", "demo2500", "indep1500")}  # the same jets, 32 candidates

    def views(*keys: str) -> list[list[str]]:
        return [[*FPGATAG, "views", str(j[k]), "-o", str(n32[k]), "--n-candidates", "32", "--unless-exists", str(n32[k])]
                for k in keys]

    q = ["--quick"] if quick else []
    teacher = work / "teacher-pnl"
    demo = work / "demo_run"
    return {
        "generate": [[PY, str(HERE / "bench_generate.py"), *q]],
        "teacher": [[PY, str(HERE / "bench_teacher.py"), *q]],
        "distill": [[PY, str(HERE / "bench_distill.py"), "--data", str(j["dev"]), "--teacher", str(teacher), "--quick",
                     "--work", str(work / "distill"), "--reuse"]],
        "l1_student": [[PY, str(HERE / "bench_l1_student.py"), "--data", str(j["dev"]), "--teacher", str(teacher),
                        "--work", str(work / "l1_student"), "--reuse", *q]],
        "distill_oof": [*views("jets8k", "indep"), [
            PY, str(HERE / "bench_distill_oof.py"), "--data", str(j["jets8k"]), "--eval-data", str(j["indep"]),
            "--scan-data", str(n32["jets8k"]), "--scan-eval-data", str(n32["indep"]), "--seeds", *SEEDS[:2 if quick else 5],
            "--teacher-epochs", "2" if quick else "8", "--n-particles", "64", "--work", str(work / "distill_oof"), "--reuse"]],
        "distill_trigger": [
            # the demo is trained once: its output is kept (delete it to train again)
            [*FPGATAG, "demo", "--out", str(demo), "--data", str(j["demo2500"]), "--student-seeds", *SEEDS[:2 if quick else 5],
             "--unless-exists", str(demo / "demo.json")],
            *views("demo2500", "indep1500"),
            [PY, str(HERE / "bench_distill_oof.py"), "--from-demo", str(demo), "--data", str(j["demo2500"]),
             "--eval-data", str(j["indep1500"]), "--scan-data", str(n32["demo2500"]), "--scan-eval-data",
             str(n32["indep1500"]), "--seeds", *SEEDS[:2 if quick else 5], "--name", "distill_trigger",
             "--work", str(work / "distill_trigger"), "--reuse"]],
        "distill_chain": [   # the demo's runs again, with the chain teacher and its students trained beside them
            [*FPGATAG, "demo", "--out", str(demo), "--data", str(j["demo2500"]), "--student-seeds", *SEEDS[:2 if quick else 5],
             "--unless-exists", str(demo / "demo.json")],
            [PY, str(HERE / "bench_distill_oof.py"), "--from-demo", str(demo), "--data", str(j["demo2500"]),
             "--eval-data", str(j["indep1500"]), "--kinds", "distilled_chain", "--seeds", *SEEDS[:2 if quick else 5],
             "--name", "distill_chain", "--work", str(work / "distill_chain"), "--reuse"]],
        "rtl_flow": [   # the demo's distilled student through the whole RTL flow, timed (Yosys: minutes)
            [*FPGATAG, "demo", "--out", str(demo), "--data", str(j["demo2500"]), "--student-seeds", *SEEDS[:2 if quick else 5],
             "--unless-exists", str(demo / "demo.json")],
            [PY, str(HERE / "bench_rtl_flow.py"), "--model", str(demo / "distilled"), "--data", str(j["jets8k"]),
             "--n", "1000" if quick else "10000"]],
        "rtl_fit": [[PY, str(HERE / "bench_rtl_fit.py"), "--data", str(j["demo2500"])]],   # 13 trained students through Yosys (1-3 min each)
        "rtl_dask": [[PY, str(HERE / "bench_rtl_dask.py"), *(["--n", "2000", "--repeats", "1"] if quick else [])]],
        "fpga": [[PY, str(HERE / "bench_fpga.py"), *q]],
        "estimator": [[PY, str(HERE / "bench_estimator.py"), *q]],
    }


# which shared inputs each benchmark needs: jet files, and the dev teacher
NEEDS = {"distill": ["dev", "teacher"], "l1_student": ["dev", "teacher"], "distill_oof": ["jets8k", "indep"],
         "distill_trigger": ["demo2500", "indep1500"], "distill_chain": ["demo2500", "indep1500"],
         "rtl_flow": ["demo2500", "jets8k"], "rtl_fit": ["demo2500"]}


def prepare(names: list[str], work: Path, quick: bool) -> None:
    """Make the jet files and the teacher the chosen benchmarks need (kept in --work for the next run)."""
    needed = {n for name in names for n in NEEDS.get(name, [])}
    work.mkdir(parents=True, exist_ok=True)
    for key in [k for k in JETS if k in needed]:
        n, seed = JETS[key]
        path = work / f"{key}.h5"
        if not path.is_file():
            run([*FPGATAG, "generate", "-o", str(path), "--jets-per-class", str(max(n // 10, 200) if quick else n),
                 "--seed", str(seed), "--workers", str(os.cpu_count() or 1)])
    if "teacher" in needed and not (work / "teacher-pnl" / "metrics.json").is_file():
        run([*FPGATAG, "train-teacher", "--data", str(work / "dev.h5"), "--model", "particlenet-lite",
             "--epochs", "2" if quick else "20", "-o", str(work / "teacher-pnl")])


def run(cmd: list[str]) -> int:
    """Run one command from the repository root; ``--unless-exists PATH`` at its end: skip it when PATH exists."""
    if "--unless-exists" in cmd:
        i = cmd.index("--unless-exists")
        cmd, done = cmd[:i], Path(cmd[i + 1])
        if done.exists():
            print(f"  (kept: {done})", flush=True)
            return 0
    print("  $ " + " ".join(cmd), flush=True)
    code = subprocess.run(cmd, cwd=HERE.parent).returncode
    if code:
        raise RuntimeError(f"exit {code}: {' '.join(cmd)}")
    return code


def summary(names_run: dict[str, str], quick: bool, summary_only: bool) -> None:
    from fpgatag.core.provenance import package_versions

    lines = [
        "# fpgatag benchmarks", "",
        f"- date (UTC): {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- mode: {'summary only' if summary_only else 'quick' if quick else 'full'}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()), "",
    ]
    for name in recipes(Path("."), quick):
        md = RESULTS / f"{name}.md"
        lines += [f"## {name} ({names_run.get(name, 'from an earlier run')})", ""]
        lines += [md.read_text().strip() if md.is_file() else "_no results yet_", ""]
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'summary.md'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--only", nargs="+", choices=sorted(recipes(Path("."), False)), help="run only these")
    ap.add_argument("--work", type=Path, default=HERE.parent / "runs" / "bench", help="shared inputs and runs")
    ap.add_argument("--list", action="store_true", help="print each benchmark's commands; run nothing")
    ap.add_argument("--summary-only", action="store_true", help="run nothing; rebuild summary.md from the results there")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    book = recipes(args.work, args.quick)
    names = [] if args.summary_only else (args.only or list(book))
    if args.list:
        for name, cmds in book.items():
            print(f"{name} (needs: {', '.join(NEEDS.get(name, [])) or 'nothing'})")
            for cmd in cmds:
                print("  $ " + " ".join(cmd))
        return 0
    status: dict[str, str] = {}
    for name in names:
        print(f"== {name}", flush=True)
        try:
            prepare([name], args.work, args.quick)
            for cmd in book[name]:
                run(cmd)
            status[name] = "ran now" + (", quick" if args.quick else "")
        except RuntimeError as exc:
            print(f"{name} FAILED: {exc}", file=sys.stderr)
            status[name] = "FAILED now"
    summary(status, args.quick, args.summary_only)
    return 1 if any(v == "FAILED now" for v in status.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
