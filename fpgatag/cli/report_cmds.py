"""Commands of the report stage: ``report``, ``demo``, ``sweep``."""

from __future__ import annotations

import argparse
from pathlib import Path

from fpgatag.cli.common import (add_command, add_json, add_output, data_inputs, guard, nonnegative_int, positive_int,
                                print_json)
from fpgatag.core.errors import FpgatagError


def register(subparsers, formatter_class) -> None:
    from fpgatag.fpga.parts import DEFAULT_PART

    p = add_command(subparsers, "report", cmd_report, formatter_class, help="collect runs into report.md/report.html with plots",
                    description="Collect every metrics.json, estimate.json and validate.json under the given run "
                                   "directories into report.md, report.html (self-contained) and PNG plots.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (searched recursively)")
    add_output(p, "report directory to write", required=True, type=str)
    p.add_argument("--layers-of", default=None, help="run whose per-layer resources are plotted (default: the distilled student)")
    add_json(p, "report.json")

    from fpgatag.report.demo import DemoConfig

    d = DemoConfig()
    p = add_command(subparsers, "demo", cmd_demo, formatter_class, help="the whole pipeline end to end on the default configuration",
                    description="generate -> train-teacher (full view: the reference; trigger view: the teacher "
                                "distilled from) -> teacher-predict -> distill + scratch students for several seeds -> "
                                f"synth (--part, {d.part} unless given) -> validate (C simulation) -> report, then print "
                                "the tables and the distilled-vs-scratch gain with its uncertainty. The first distilled "
                                "student also goes through the RTL flow: da4ml Verilog, Yosys in the background while the "
                                "other students train, Verilator on the test jets; its firmware is shown by source side by side.")
    add_output(p, "output directory", default=str(d.out), type=str)
    p.add_argument("--jets-per-class", type=positive_int, default=d.jets_per_class, help="jets generated per class")
    p.add_argument("--data", default=None, help="use this dataset instead of generating one")
    p.add_argument("--seed", type=nonnegative_int, default=d.seed, help="generation and teacher seed")
    p.add_argument("--workers", type=positive_int, default=d.workers, help="generator processes")
    p.add_argument("--teacher-epochs", type=positive_int, default=d.teacher_epochs, help="epochs of both teachers")
    p.add_argument("--student-epochs", type=positive_int, default=d.student_epochs,
                   help="student epochs (default: the preset's, with early stopping)")
    p.add_argument("--student-seeds", type=nonnegative_int, nargs="+", default=list(d.student_seeds),
                   help="training seeds of the distilled and the scratch students (the gain's spread over seeds)")
    p.add_argument("--part", default=d.part, help="FPGA part the distilled student is synthesized for")
    p.add_argument("--no-yosys", action="store_true",
                   help="skip the Yosys synthesis of the distilled student's RTL (the RTL and its Verilator check still run)")
    add_json(p, "demo.json")

    p = add_command(subparsers, "sweep", cmd_sweep, formatter_class, help="train + synthesize a grid of students (resumable, shardable)",
                    description="Trains bits x N students (distilled with --teacher, else from scratch) and synthesizes "
                                   "each for every reuse factor. Finished points are skipped on re-run.")
    p.add_argument("--data", required=True, help="jet file the students are trained on")
    p.add_argument("--teacher", default=None, help="teacher run dir with soft targets for --data (omit: from scratch)")
    add_output(p, "output directory (one run directory per point)", default="runs/sweep", type=str)
    p.add_argument("--student", default="deepsets", help="student preset")
    p.add_argument("--bits", type=positive_int, nargs="+", default=[4, 6, 8, 16], help="bit widths of the grid")
    p.add_argument("--n-objects", type=positive_int, nargs="+", default=[8, 16, 32],
                   help="trigger-view objects per jet of the grid")
    p.add_argument("--reuse-factors", type=positive_int, nargs="+", default=[1], help="hls4ml reuse factors, one synthesis each")
    p.add_argument("--epochs", type=positive_int, default=30, help="student epochs per point")
    p.add_argument("--batch-size", type=positive_int, default=128, help="student batch size")
    p.add_argument("--seed", type=nonnegative_int, default=1, help="training seed of every point")
    p.add_argument("--part", default=DEFAULT_PART, help="FPGA part to synthesize for")
    p.add_argument("--workers", type=positive_int, default=2, help="parallel worker processes")
    p.add_argument("--shard", default=None, help="run shard i/N of the grid")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the points on the Dask cluster at ADDRESS (tcp://host:8786; its workers must see --output "
                        "and --data) instead of --workers local processes (docs/distributed.md)")
    add_json(p, "the points (directory, what was done, metrics)")


def cmd_report(args: argparse.Namespace) -> int:
    from fpgatag.core.labels import table
    from fpgatag.report.report import build_report

    for run in args.runs:
        if not Path(run).exists():
            raise FpgatagError(f"{run}: run directory not found")
    guard(args.output, "report", inputs=args.runs, directory=True)
    report = build_report(args.runs, args.output, layers_of=args.layers_of)
    if args.json:
        print_json({k: v for k, v in report.items() if k != "provenance"})
        return 0
    from fpgatag.report.compare import gain_table

    rows = report["runs"]
    print(table(rows, ["run", "kind", "accuracy", "auc +- err", "rej@0.3 [68% CI]", "rej@0.5 [68% CI]", "n_test",
                              "latency_ns", "lut", "dsp", "bit_exact"]))
    if report.get("multiclass"):   # more than two classes: accuracy, per-class AUC, per-background rejections
        print("\n" + report["multiclass"])
    if report.get("gains"):
        print("\n" + gain_table(report["gains"]) + "\n")
    for name, what in report["missing"].items():
        print(f"missing for {name}: {what}")
    print(f"report: {Path(args.output) / 'report.html'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from fpgatag.report.demo import DemoConfig, format_summary, run_demo

    if len(set(args.student_seeds)) != len(args.student_seeds):
        raise FpgatagError(f"--student-seeds: each seed once (got {args.student_seeds})")
    if args.jets_per_class < 50:
        raise FpgatagError("--jets-per-class: need at least 50 jets per class for train/val/test splits")
    from fpgatag.core.io import write_marker
    from fpgatag.fpga.parts import resolve_part

    resolve_part(args.part)  # an unknown part fails now, not after the training
    if args.data is not None and not Path(args.data).is_file():
        raise FpgatagError(f"{args.data}: data file not found")
    guard(args.output, "demo", inputs=data_inputs(args.data), directory=True)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    write_marker(args.output, "demo")
    cfg = DemoConfig(out=Path(args.output), jets_per_class=args.jets_per_class, seed=args.seed, workers=args.workers,
                     teacher_epochs=args.teacher_epochs, student_epochs=args.student_epochs, part=args.part,
                     student_seeds=tuple(args.student_seeds), yosys=not args.no_yosys,
                     data=Path(args.data) if args.data else None)
    summary = run_demo(cfg)
    if args.json:
        print_json(summary)
    else:
        print(format_summary(summary))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from fpgatag.core.labels import table
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.nn.presets import load_preset
    from fpgatag.core.config import parse_shard
    from fpgatag.report.sweep import SweepConfig, grid, run_sweep

    for b in args.bits:   # the library names its arguments; here the flags are named
        if not 2 <= b <= 32:
            raise FpgatagError(f"--bits {b}: outside 2..32")
    parse_shard(args.shard, option="--shard")
    cfg = SweepConfig(data=args.data, out=args.output, teacher=args.teacher, student=args.student, bits=tuple(args.bits),
                      n_objects=tuple(args.n_objects), reuse_factors=tuple(args.reuse_factors), epochs=args.epochs,
                      batch_size=args.batch_size, seed=args.seed, part=args.part, workers=args.workers, shard=args.shard,
                      scheduler=args.scheduler)
    if not grid(cfg):
        raise FpgatagError(f"--shard {args.shard}: this shard of the sweep has no points "
                           f"({len(args.bits) * len(args.n_objects)} in all); use fewer shards")
    resolve_part(args.part)  # an unknown part or student fails now, not after the training
    load_preset(args.student, role="student")
    guard(args.output, "sweep", inputs=[*data_inputs(args.data), args.teacher], directory=True)
    summary = run_sweep(cfg)
    if args.json:
        print_json(summary)
        return 0
    rows = [{"point": Path(r["dir"]).name, "did": ", ".join(r["did"]) or "(already done)", **r.get("metrics", {})}
            for r in summary["points"]]
    print(table(rows, ["point", "did", "auc +- err", "rej@0.5 [68% CI]", "n_test"]))
    print(f"sweep output: {cfg.out} (feed it to `fpgatag report {cfg.out} -o REPORT_DIR`)")
    return 0
