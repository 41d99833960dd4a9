"""``fpgatag synth`` and ``fpgatag validate``: firmware from a trained model, and its C simulation."""

from __future__ import annotations

import argparse
import contextlib
import logging
import re
import sys
from pathlib import Path

from fpgatag.cli.common import (add_command, add_json, add_output, data_inputs, guard, nonnegative_float,
                                positive_float, positive_int, print_json)
from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)

MODEL_HELP = ("a run directory (model.json + model.h5 [+ inputs.json]), a full Keras .h5 model, "
              "or a Keras JSON architecture with its weights (--weights W.h5, or <stem>_weights.h5 beside it)")


def _precision(text: str | None):
    if text is None:
        return None
    m = re.fullmatch(r"\s*(?:ap_)?fixed<\s*(\d+)\s*,\s*(-?\d+)\s*>\s*", text)
    if not m:
        raise FpgatagError(f"--input-precision: expected ap_fixed<W,I>, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _spelling(convert):
    """An argparse type from one of fpgatag.fpga.options' spelling functions (one-line error, exit 2)."""
    def parse(text: str) -> str:
        try:
            return convert(text)
        except FpgatagError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None
    parse.__name__ = convert.__name__
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    from fpgatag.fpga.options import DEFAULT_PART, backend_name, strategy_name
    from fpgatag.fpga.parts import known_parts

    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--weights", default=None, help="weights .h5 for a JSON architecture MODEL")
    p.add_argument("--part", default=DEFAULT_PART,
                   help=f"FPGA part: a short name ({', '.join(known_parts())}) or a full part string")
    p.add_argument("--backend", default="Vitis", type=_spelling(backend_name), metavar="{Vitis,Vivado}",
                   help="hls4ml backend (any case)")
    p.add_argument("--reuse-factor", type=positive_int, default=1, help="hls4ml reuse factor")
    p.add_argument("--strategy", default="Latency", type=_spelling(strategy_name),
                   metavar="{Latency,Resource,distributed_arithmetic}",
                   help="hls4ml strategy, any case (da: distributed_arithmetic, constant multiplications as adders)")
    p.add_argument("--input-precision", default=None,
                   help="input type ap_fixed<W,I> when MODEL has no inputs.json (default: ap_fixed<16,6>)")
    p.add_argument("--hls-config", default=None, metavar="FILE",
                   help="hls4ml configuration (JSON or YAML) merged over fpgatag's: {\"Model\": {...}, \"LayerName\": "
                        "{layer: {...}}} as hls4ml.utils.config_from_keras_model writes it, or an hls4ml project file "
                        "with HLSConfig (its Backend/Part/ClockPeriod/IOType then win); unknown layer names are refused")


def _options(args):
    """The FirmwareOptions of a synth/validate command line (--weights checked too)."""
    from fpgatag.fpga.options import FirmwareOptions, read_hls_config

    if args.weights is not None and Path(args.model).suffix.lower() != ".json":
        raise FpgatagError(f"{args.model}: --weights only goes with a JSON architecture MODEL")
    if args.weights is not None and not Path(args.weights).is_file():
        raise FpgatagError(f"{args.weights}: weights file not found (--weights)")
    return FirmwareOptions.make(part=args.part, backend=args.backend, reuse_factor=args.reuse_factor,
                                strategy=args.strategy, io_type=getattr(args, "io_type", None),
                                clock_period=getattr(args, "clock_period", None), input_precision=_precision(args.input_precision),
                                recurrent_static=getattr(args, "recurrent", "static") == "static",
                                hls_config=read_hls_config(args.hls_config) if args.hls_config else None)


def register(subparsers, formatter_class) -> None:
    p = add_command(
        subparsers, "synth", cmd_synth, formatter_class,
        help="convert a model to an hls4ml project, estimate resources/latency (and run C synthesis)",
        description="Convert MODEL with hls4ml, write the HLS project, and write estimate.json + report.md "
                    "(per-layer and total latency, II, DSP, LUT, FF, BRAM18, as fractions of the part). The "
                    "estimator targets Vitis HLS C-synthesis figures. With --run-synthesis and the vendor tool "
                    "on PATH, C synthesis runs and its report replaces the estimate.")
    _common(p)
    add_output(p, "project directory (default: hls_projects/<model name>)", type=str)
    p.add_argument("--io-type", default="io_parallel", choices=["io_parallel", "io_stream"])
    from fpgatag.fpga.options import DEFAULT_CLOCK_PERIOD

    p.add_argument("--clock-period", type=positive_float, default=DEFAULT_CLOCK_PERIOD, help="clock period (ns)")
    p.add_argument("--run-synthesis", action="store_true", help="run C synthesis when vitis-run/vitis_hls/vivado_hls is on PATH")
    p.add_argument("--logic-synthesis", action="store_true", help="with --run-synthesis: also Vivado logic synthesis")
    p.add_argument("--recurrent", default="static", choices=["static", "non-static"],
                   help="hls4ml implementation of GRU/LSTM layers: one cell reused for every object (static) or not")
    p.add_argument("--flow", default="hls", choices=["hls", "rtl"],
                   help="hls: an hls4ml HLS project (default); rtl: Verilog with da4ml (distributed arithmetic, "
                        "pipelined for --clock-period), the hls4ml estimate beside it and Yosys counts in synth.json")
    p.add_argument("--no-yosys", action="store_true", help="--flow rtl: write the RTL only, skip Yosys synthesis")
    p.add_argument("--yosys-jobs", type=positive_int, default=1, metavar="N",
                   help="--flow rtl: synthesize the pipeline stages in N Yosys processes at once (faster on N cores; "
                        "the stages are mapped separately, so the counts differ slightly from the default "
                        "whole-design run; synth.json's mode says which ran)")
    add_json(p, "estimate.json (synth.json with --flow rtl)")

    v = add_command(
        subparsers, "validate", cmd_validate, formatter_class,
        help="bit-exact C simulation of the firmware against the Keras model",
        description="Compile MODEL's firmware with g++ (hls4ml C simulation) and compare it with the Keras model "
                    "on the same inputs, quantized to the firmware's input precision. Exits non-zero when the "
                    "bit-exact fraction or the argmax agreement is below the thresholds.")
    _common(v)
    v.add_argument("--data", required=True, help="jets file (test split, prepared by MODEL's inputs.json) or a .npy "
                   "array in the model's input shape (labels from <stem>_labels.npy if present)")
    v.add_argument("--n", type=positive_int, default=10000, help="jets to simulate")
    add_output(v, "validate.json path or directory (default: MODEL/validate.json, or <model stem>_validate.json beside "
                  "a model file)", type=str)
    v.add_argument("--min-bit-exact", type=nonnegative_float, default=0.99, help="minimum fraction of jets with all outputs bit-exact")
    v.add_argument("--min-argmax", type=nonnegative_float, default=0.999, help="minimum argmax agreement")
    v.add_argument("--profile", action="store_true", help="per-layer value ranges vs each layer's type; names overflowing layers")
    v.add_argument("--workers", type=positive_int, default=2, help="parallel C-simulation workers (RTL simulation threads with --rtl)")
    v.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="simulate the jets in chunks on the Dask cluster at ADDRESS (tcp://host:8786): C simulation "
                        "(its workers must see MODEL), or with --rtl Verilator (the RTL sources are sent, MODEL stays "
                        "here); same figures (docs/distributed.md)")
    v.add_argument("--rtl", default=None, metavar="DIR",
                   help="simulate the Verilog in DIR (fpgatag synth MODEL --flow rtl -o DIR) with Verilator instead of hls4ml's C simulation")
    v.add_argument("--sim-opt", default=None, choices=["O0", "O1", "O2"],
                   help="--rtl: g++ optimisation of the Verilator model (default O0: fastest build; O1 builds about 3x "
                        "slower and simulates about 5x faster, for millions of jets)")
    add_json(v, "validate.json")


def cmd_synth(args) -> int:
    from fpgatag.core.metrics import format_table
    from fpgatag.fpga.synth import synth

    out = args.output or str(Path("hls_projects") / Path(args.model).resolve().stem)
    if args.flow == "rtl":
        guard(out, "rtl", inputs=[args.model, args.weights], directory=True)
        return _cmd_synth_rtl(args, out)
    if args.no_yosys or args.yosys_jobs != 1:
        raise FpgatagError(f"{'--no-yosys' if args.no_yosys else '--yosys-jobs'}: applies to --flow rtl "
                           "(the hls flow runs no Yosys)")
    guard(out, "hls", inputs=[args.model, args.weights, args.hls_config], directory=True)
    options = _options(args)
    with contextlib.redirect_stdout(sys.stderr):   # hls4ml prints notes on stdout; stdout is for results
        est = synth(args.model, options, output_dir=out, run_synthesis=args.run_synthesis, weights=args.weights,
                    logic_synthesis=args.logic_synthesis)
    over = {k: v for k, v in (est.get("fraction") or {}).items() if v is not None and v > 1.0}
    est["fits"] = not over
    if over:
        log.warning("%s does NOT fit %s: %s", out, est.get("part"), ", ".join(f"{k} {100 * v:.0f}%" for k, v in over.items()))
    if est.get("warning"):
        log.warning("%s: %s", out, est["warning"])
    if args.json:
        print_json({k: v for k, v in est.items() if k != "provenance"})
        return 0
    frac = est.get("fraction", {})
    rows = [{"figure": k, "value": est[k], "of part": "" if frac.get(k) is None else f"{100 * frac[k]:.2f}%"}
            for k in ("latency_cycles", "latency_ns", "ii", "dsp", "lut", "ff", "bram18")]
    print(f"{out}: {est['part']}, clock {est['clock_ns']} ns, source={est['source']}")
    print(format_table(rows, ["figure", "value", "of part"]))
    print(f"synthesis: {est.get('synthesis')}")
    if over:
        print(f"does NOT fit {est['part']}: " + ", ".join(f"{k} {100 * v:.0f}% of the part" for k, v in over.items()))
    if est.get("not_estimated"):
        print(f"not estimated: {est['not_estimated']}")
    return 0


def _cmd_synth_rtl(args, out: str) -> int:
    from fpgatag.core.metrics import format_table
    from fpgatag.fpga.rtl_flow import synth_rtl
    from fpgatag.fpga.rtl_report import figures_rows

    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_yosys import family_problem

    if args.hls_config:
        raise FpgatagError(f"--hls-config {args.hls_config}: an hls4ml configuration applies to the hls flow; "
                           "--flow rtl writes da4ml's Verilog, which hls4ml does not configure")
    if args.strategy != "Latency" or args.reuse_factor != 1 or args.io_type != "io_parallel" or args.run_synthesis:
        raise FpgatagError("--flow rtl: --strategy/--reuse-factor/--io-type/--run-synthesis belong to the "
                           "hls flow (the RTL is fully parallel, II = 1)")
    part = resolve_part(args.part)
    if not args.no_yosys and family_problem(part) is not None:   # the flag is named here, the argument below
        raise FpgatagError(f"--part {part.full}: {family_problem(part)}; --no-yosys writes the RTL only")
    with contextlib.redirect_stdout(sys.stderr):   # hls4ml (the estimate beside the RTL) prints notes on stdout
        res = synth_rtl(args.model, part=args.part, output_dir=out, clock_period=args.clock_period, weights=args.weights,
                        input_precision=_precision(args.input_precision), yosys=not args.no_yosys,
                        yosys_jobs=args.yosys_jobs)
    if args.json:
        body = res["synth"] or {k: v for k, v in res["manifest"].items() if k != "provenance"}
        print_json(body)
        return 0
    man = res["manifest"]
    print(f"{out}: RTL for {man['part']}, {man['pipeline_stages']} pipeline stages at {man['clock_period_ns']} ns "
          f"= {man['latency_ns']} ns, II = {man['ii']}; inputs {man['inputs']['container']}, outputs {man['outputs']['container']}")
    rows, cols = figures_rows(res.get("estimate"), man, res["synth"])
    print(format_table(rows, cols))
    if res["synth"] is None:
        print("synthesis: Yosys not run (--no-yosys or not installed); the RTL is written")
    else:
        s = res["synth"]
        print(f"synthesis: {s['tool']} {s['tool_version']} in {s['wall_seconds']} s ({s['mode']}); {s['note']}")
    return 0


def cmd_validate(args) -> int:
    from fpgatag.fpga.validate import summary_table, validate, validate_rtl

    output = args.output
    if output is None and args.rtl is not None:   # beside the RTL it checks (report/demo read it there)
        output = Path(args.rtl) / "validate.json"
    if output is None:
        m = Path(args.model)
        output = m / "validate.json" if m.is_dir() else m.with_name(f"{m.stem}_validate.json")
    target = Path(output) if Path(output).suffix == ".json" else Path(output) / "validate.json"
    guard(target, "validate", inputs=[args.model, args.weights, *data_inputs(args.data)])
    if args.profile and args.scheduler is not None:
        raise FpgatagError("--profile: per-layer profiles run in this process, not with --scheduler")
    if args.sim_opt is not None and args.rtl is None:
        raise FpgatagError("--sim-opt: applies to the RTL simulation (--rtl DIR)")
    if args.rtl is not None:
        if args.profile:
            raise FpgatagError("--profile: per-layer profiles come from the C simulation, not with --rtl")
        with contextlib.redirect_stdout(sys.stderr):
            res = validate_rtl(args.model, args.data, args.rtl, n=args.n, output=output, min_bit_exact=args.min_bit_exact,
                               min_argmax=args.min_argmax, workers=args.workers, weights=args.weights,
                               scheduler=args.scheduler, sim_opt=args.sim_opt or "O0")
        return _print_validate(args, res, summary_table)
    options = _options(args)
    with contextlib.redirect_stdout(sys.stderr):   # hls4ml prints notes on stdout; stdout is for results
        res = validate(args.model, args.data, n=args.n, output=output, min_bit_exact=args.min_bit_exact,
                       min_argmax=args.min_argmax, profile=args.profile, workers=args.workers, weights=args.weights,
                       options=options, scheduler=args.scheduler)
    return _print_validate(args, res, summary_table)


def _print_validate(args, res, summary_table) -> int:
    if args.json:
        print_json({k: v for k, v in res.items() if k != "provenance"})
    else:
        print(summary_table(res))
    if res.get("problem_layers"):
        print(f"layers that overflow or saturate: {', '.join(res['problem_layers'])}")
    if not res["passed"]:
        print(f"FAILED: {'; '.join(res['failures'])}", file=sys.stderr)
        return 1
    return 0
