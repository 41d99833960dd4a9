"""Run every benchmark (each measures fpgatag against a peer in the same run) and write
bench/results/summary.md with the machine, date and versions.

    python bench/run_all.py            # full sizes (long: see each script's --help)
    python bench/run_all.py --quick    # small sizes, minutes
    python bench/run_all.py --only generate fpga
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
# name -> script; each writes results/<name>.json and results/<name>.md
BENCHES = {
    "generate": "bench_generate.py",
    "teacher": "bench_teacher.py",
    "distill": "bench_distill.py",
    "l1_student": None,  # measured by hand with the CLI (commands in its .md); not re-run here
    "distill_oof": None,  # needs data files: bench/bench_distill_oof.py or bench/distill_full.sh
    "distill_trigger": None,  # needs a demo run: bench/bench_distill_oof.py --from-demo (commands in its .md)
    "fpga": "bench_fpga.py",
    "estimator": "bench_estimator.py",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these")
    ap.add_argument("--summary-only", action="store_true", help="run nothing; rebuild summary.md from the results there")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from fpgatag.core.provenance import package_versions

    names = [] if args.summary_only else (args.only or list(BENCHES))
    status = {}
    for name in names:
        if BENCHES[name] is None:
            continue
        cmd = [sys.executable, str(HERE / BENCHES[name])] + (["--quick"] if args.quick else [])
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        status[name] = subprocess.run(cmd, cwd=HERE.parent).returncode
    lines = [
        "# fpgatag benchmarks", "",
        f"- date (UTC): {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        f"- mode: {'summary only' if args.summary_only else 'quick' if args.quick else 'full'}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in package_versions().items()), "",
    ]
    for name in BENCHES:
        md = RESULTS / f"{name}.md"
        state = {0: "ran now"}.get(status.get(name, -1), "FAILED now" if name in status else "from an earlier run")
        lines += [f"## {name} ({state})", ""]
        lines += [md.read_text().strip() if md.is_file() else "_no results yet_", ""]
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'summary.md'}")
    return 1 if any(status.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
