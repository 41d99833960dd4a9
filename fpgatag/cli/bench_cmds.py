"""``fpgatag bench-l1``: the Level-1 community benchmark on one jet file."""

from __future__ import annotations

import argparse
from pathlib import Path

from fpgatag.cli.common import (add_command, add_json, add_output, data_inputs, nonnegative_int, positive_float,
                                positive_int, print_json)
from fpgatag.core.errors import FpgatagError


def register(subparsers, formatter_class) -> None:
    p = add_command(
        subparsers, "bench-l1", cmd_bench_l1, formatter_class,
        help="the Level-1 benchmark: teacher, scratch and distilled Deep Sets at several N, MLP, firmware, "
             "one table beside the published taggers",
        description="For each N: Deep Sets students on the N hardest objects, from scratch and distilled from "
                    "a ParticleNet-Lite teacher on all constituents (several seeds), and the MLP on jet-level "
                    "features; the first seed of each through synth (hls4ml, and the da4ml RTL flow where it "
                    "builds the model) and C-simulation validate; with --rtl also Yosys netlist counts and Verilator "
                    "bit-exactness of the RTL. Writes DIR/bench.md and DIR/bench.json "
                    "(docs/l1_benchmark.md). Rows say whether they compare with the published ones: the "
                    "public hls4ml file is the same sample, generated jets are not.")
    p.add_argument("--data", required=True, type=Path, help="jet file (the public hls4ml file or a generated one)")
    add_output(p, "benchmark directory (runs, firmware, bench.md, bench.json)", default=Path("runs/bench-l1"))
    p.add_argument("--n", type=positive_int, nargs="+", default=[8, 16, 32], metavar="N",
                   help="objects per jet of the students")
    p.add_argument("--seeds", type=nonnegative_int, nargs="+", default=[1, 2, 3], metavar="SEED",
                   help="training seeds of the students (the first also seeds the teacher and the MLP)")
    p.add_argument("--teacher", default="particlenet-lite", help="teacher preset")
    p.add_argument("--teacher-epochs", type=positive_int, default=None, help="teacher epochs (default: the preset's)")
    p.add_argument("--teacher-particles", type=positive_int, default=None,
                   help="teacher constituents per jet (default: the preset's)")
    p.add_argument("--student", default="deepsets-l1", help="Deep Sets student preset")
    p.add_argument("--mlp", default="mlp", help="MLP preset on jet-level features")
    p.add_argument("--no-mlp", action="store_true", help="leave the MLP baseline out")
    p.add_argument("--epochs", type=positive_int, default=None, help="student and MLP epochs (default: the preset's)")
    p.add_argument("--alpha", type=float, default=None,
                   help="distilled students: weight of the label term (default: distill's, 0.1)")
    p.add_argument("--temperature", "-T", type=positive_float, default=None,
                   help="distilled students: distillation temperature (default: distill's, 2)")
    p.add_argument("--part", default="xcvu9p", help="FPGA part of synth")
    p.add_argument("--no-rtl", action="store_true", help="skip the da4ml RTL flow")
    p.add_argument("--rtl", action="store_true",
                   help="also synthesize each first-seed RTL with Yosys (netlist LUT/FF/DSP, logic synthesis before "
                        "place and route; in the background while the benchmark goes on) and simulate it with "
                        "Verilator on the --validate-n test jets (bit-exact fraction); a failure is a labelled row")
    p.add_argument("--yosys-jobs", type=positive_int, default=None, metavar="N",
                   help="--rtl: Yosys processes per design; N > 1 synthesizes the pipeline stages in parallel "
                        "(default: 1, the whole design in one process)")
    p.add_argument("--yosys-timeout", type=positive_float, default=None, metavar="S",
                   help="--rtl: a Yosys run past S seconds counts as failed (its row: the netlist model)")
    p.add_argument("--no-hls", action="store_true",
                   help="--rtl: skip the hls4ml project and its C simulation (faster; built only where the RTL flow "
                        "refuses a model)")
    p.add_argument("--validate-n", type=positive_int, default=1000,
                   help="test jets of the C-simulation validation (and of the RTL simulation with --rtl)")
    p.add_argument("--signal", default=None, metavar="NAME", help="class the rejections are of (default: the last)")
    p.add_argument("--reuse", action="store_true",
                   help="continue the benchmark in DIR: steps whose result is there (an interrupted run's, or runs "
                        "made by hand in the same layout, docs/l1_benchmark.md) are not redone")
    add_json(p, "bench.json")


def cmd_bench_l1(args: argparse.Namespace) -> int:
    from fpgatag.core.io import check_output
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.nn.presets import load_preset

    if not args.data.is_file():
        raise FpgatagError(f"{args.data}: data file not found")
    resolve_part(args.part)
    load_preset(args.teacher, role="teacher")
    for name in (args.student, *([] if args.no_mlp else [args.mlp])):
        load_preset(name, role="student")
    if len(set(args.n)) != len(args.n) or len(set(args.seeds)) != len(args.seeds):
        raise FpgatagError("--n and --seeds: give each value once")
    _check_rtl_flags(args)
    from fpgatag.train.distill import DEFAULT_ALPHA, DEFAULT_TEMPERATURE
    from fpgatag.train.losses import check_alpha_temperature

    alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
    temperature = DEFAULT_TEMPERATURE if args.temperature is None else args.temperature
    check_alpha_temperature(alpha, temperature)
    out = Path(args.output)
    # --reuse continues DIR whatever made it (its steps' results are read, the rest is done)
    check_output(out, "bench-l1", inputs=data_inputs(args.data), directory=True, force=True if args.reuse else None)
    from fpgatag.report.l1bench import L1BenchConfig, format_bench, run_bench

    cfg = L1BenchConfig(data=args.data, out=out, n_objects=tuple(args.n), seeds=tuple(args.seeds), teacher=args.teacher,
                        teacher_epochs=args.teacher_epochs, teacher_particles=args.teacher_particles,
                        student=args.student, student_epochs=args.epochs, mlp=None if args.no_mlp else args.mlp, part=args.part,
                        rtl=not args.no_rtl, rtl_check=args.rtl, yosys_jobs=args.yosys_jobs or 1,
                        yosys_timeout_s=args.yosys_timeout, hls=not args.no_hls, validate_n=args.validate_n,
                        signal=args.signal, reuse=args.reuse, alpha=alpha, temperature=temperature)
    result = run_bench(cfg)
    if args.json:
        print_json(result)
    else:
        print(format_bench(result))
        print(f"written: {out / 'bench.md'}, {out / 'bench.json'}")
    return 0


def _check_rtl_flags(args: argparse.Namespace) -> None:
    """The RTL flags' combinations, refused in one line naming them (the part's Yosys family is checked
    by the benchmark's own :func:`fpgatag.report.l1bench.check_config`, before any work)."""
    if args.rtl and args.no_rtl:
        raise FpgatagError("--rtl and --no-rtl: --rtl checks the da4ml RTL that --no-rtl skips; give one of them")
    for flag, given in (("--yosys-jobs", args.yosys_jobs is not None), ("--yosys-timeout", args.yosys_timeout is not None),
                        ("--no-hls", args.no_hls)):
        if given and not args.rtl:
            raise FpgatagError(f"{flag}: applies to --rtl (Yosys and Verilator on the RTL)")
