"""Data commands: ``fpgatag generate``, ``fpgatag merge``, ``fpgatag views``, ``fpgatag inspect``."""

from __future__ import annotations

import argparse
import logging
import math

from fpgatag.cli.common import data_inputs, finite_float, guard, nonnegative_float, nonnegative_int, positive_float, positive_int

log = logging.getLogger(__name__)

# generator/view defaults shown in --help (kept in sync with GeneratorSettings/ViewSettings by a test)
_GEN_OPTIONS = (
    # flag, settings key, type, default, help
    ("--ecm", "ecm", positive_float, 14000.0, "pp centre-of-mass energy (GeV)"),
    ("--pthat-min", "pthat_min", nonnegative_float, None, "Pythia pTHat lower cut (GeV); default 0.6 x --pt-min"),
    ("--pthat-max", "pthat_max", finite_float, -1.0, "Pythia pTHat upper cut (GeV); <= 0: none"),
    ("--pt-min", "pt_min", nonnegative_float, 550.0, "jet pT window, lower edge (GeV)"),
    ("--pt-max", "pt_max", positive_float, 650.0, "jet pT window, upper edge (GeV)"),
    ("--eta-max", "eta_max", positive_float, 2.0, "jet |eta| below this"),
    ("--jet-r", "jet_r", positive_float, 0.8, "anti-kt radius"),
    ("--match-dr", "match_dr", positive_float, 0.8, "truth partons within this dR of the jet axis"),
    ("--max-particles", "max_particles", positive_int, 200, "constituents stored per jet"),
    ("--chunk-jets", "chunk_jets", positive_int, 1000, "jets per chunk (one Pythia seed each; part of the job's identity)"),
)
_VIEW_OPTIONS = (
    ("--n-towers", "n_towers", positive_int, 16, "trigger towers kept (most energetic)"),
    ("--n-candidates", "n_candidates", positive_int, 16, "L1 particle candidates kept (hardest)"),
    ("--tower-size", "tower_eta_size", positive_float, 0.087, "tower size in eta"),
    ("--tower-phi-bins", "tower_phi_bins", positive_int, 72, "tower cells in phi over 2pi"),
    ("--tower-threshold", "tower_threshold", nonnegative_float, 0.5, "tower ET threshold (GeV)"),
    ("--em-stochastic", "em_stochastic", nonnegative_float, 0.10, "EM resolution stochastic term a/sqrt(E)"),
    ("--em-constant", "em_constant", nonnegative_float, 0.01, "EM resolution constant term"),
    ("--had-stochastic", "had_stochastic", nonnegative_float, 0.50, "hadronic resolution stochastic term"),
    ("--had-constant", "had_constant", nonnegative_float, 0.05, "hadronic resolution constant term"),
    ("--pt-lsb", "pt_lsb", positive_float, 0.25, "candidate pT LSB (GeV)"),
    ("--angle-lsb", "angle_lsb", positive_float, math.pi / 720, "candidate eta/phi LSB (pi/720)"),
)


def register(subparsers, formatter_class) -> None:
    from fpgatag.data.processes import PROCESSES

    p = subparsers.add_parser(
        "generate", formatter_class=formatter_class,
        help="simulate jets with Pythia 8 + FastJet (both views) into an HDF5 file",
        description="Simulate jets (pp at 14 TeV, anti-kt R=0.8, pT in [550, 650] GeV, |eta| < 2) with Pythia 8 and "
                    "FastJet, with the full-resolution particles and the trigger view, into one native HDF5 file.\n"
                    "Processes: " + "; ".join(f"{k}: {v.description}" for k, v in PROCESSES.items()))
    p.add_argument("-o", "--output", required=True, help="output HDF5 file")
    p.add_argument("--jets-per-class", type=positive_int, default=1000, help="jets per process (of the whole job, all shards)")
    p.add_argument("--seed", type=nonnegative_int, default=1, help="random seed (same seed, same file content)")
    p.add_argument("--workers", type=positive_int, default=1, help="parallel worker processes (does not change the content)")
    p.add_argument("--shard", default=None, metavar="i/N", help="generate only the i-th of N deterministic slices")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the chunks on the Dask cluster at ADDRESS (tcp://host:8786) instead of --workers local "
                        "processes; same file content (docs/distributed.md)")
    p.add_argument("--process", action="append", dest="processes", metavar="NAME",
                   help=f"process to generate, repeat for several (label = position); known: {', '.join(PROCESSES)}; "
                        "default: qcd and top")
    p.add_argument("--no-mpi", action="store_true", help="switch off multiparton interactions")
    p.add_argument("--no-isr", action="store_true", help="switch off initial-state radiation")
    p.add_argument("--no-fsr", action="store_true", help="switch off final-state radiation")
    for flag, key, typ, default, text in _GEN_OPTIONS:
        p.add_argument(flag, dest=f"set_{key}", type=typ, default=default, metavar=key.upper(), help=text)
    p.add_argument("--n-trigger", type=positive_int, default=None, help="set both --n-towers and --n-candidates")
    for flag, key, typ, default, text in _VIEW_OPTIONS:
        p.add_argument(flag, dest=f"set_{key}", type=typ, default=default, metavar=key.upper(), help=text)
    _add_lund_options(p)
    p.set_defaults(func=cmd_generate)

    p = subparsers.add_parser(
        "merge", formatter_class=formatter_class, help="join generated shards into one file",
        description="Join native shards into one file: by default an HDF5 virtual file that refers to the shards "
                    "(no copy; keep the shards next to it), or a full copy with --copy.")
    p.add_argument("-o", "--output", required=True, help="merged HDF5 file")
    p.add_argument("shards", nargs="+", metavar="SHARD", help="native shard files, in order")
    p.add_argument("--copy", action="store_true", help="copy the data instead of writing virtual datasets")
    p.add_argument("--allow-partial", action="store_true",
                   help="merge shards that are not the whole job (recorded in the file's attributes)")
    p.set_defaults(func=cmd_merge)

    p = subparsers.add_parser(
        "views", formatter_class=formatter_class,
        help="rebuild a file's trigger views from its particles with other settings (no new simulation)",
        description="Recompute both trigger views (towers, L1 candidates) of every jet from its stored particles with "
                    "other view settings, for example 32 candidates instead of 16, and write a new native file. "
                    "Settings not given keep the input file's. Any readable format works as input.")
    p.add_argument("file", help="input jet file (any format `fpgatag inspect` reads)")
    p.add_argument("-o", "--output", required=True, help="output native HDF5 file")
    p.add_argument("--n-trigger", type=positive_int, default=None, help="set both --n-towers and --n-candidates")
    for flag, key, typ, _default, text in _VIEW_OPTIONS:
        p.add_argument(flag, dest=f"set_{key}", type=typ, default=None, metavar=key.upper(),
                       help=text + " (default: the input file's)")
    _add_lund_options(p)
    p.set_defaults(func=cmd_views)

    p = subparsers.add_parser(
        "inspect", formatter_class=formatter_class, help="summarise a jet file (any supported format)",
        description="Detect a jet file's format (native, toptagging, hls4ml, jetclass) and print the number of jets, "
                    "and per class the jets, median jet mass and mean multiplicity of both views.")
    p.add_argument("file", help="jet file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.set_defaults(func=cmd_inspect)


def _add_lund_options(p) -> None:
    p.add_argument("--lund", action="store_true",
                   help="also store each jet's Lund tree (C/A declustering; group /lund, see docs/data.md)")
    p.add_argument("--lund-max-nodes", type=positive_int, default=199, metavar="N",
                   help="Lund-tree nodes stored per jet (a jet of n constituents has n - 1)")


def _lund_settings(args: argparse.Namespace):
    if not args.lund:
        return None
    from fpgatag.core.errors import FpgatagError
    from fpgatag.data.lund import LundSettings

    try:
        return LundSettings(max_nodes=args.lund_max_nodes)
    except ValueError as exc:
        raise FpgatagError(f"--lund-max-nodes: {exc}") from None


def _settings(args: argparse.Namespace) -> dict:
    settings = {k[4:]: v for k, v in vars(args).items() if k.startswith("set_") and v is not None}
    settings["mpi"] = not args.no_mpi
    settings["isr"] = not args.no_isr
    settings["fsr"] = not args.no_fsr
    if args.n_trigger is not None:
        settings["n_towers"] = settings["n_candidates"] = args.n_trigger
    return settings


def cmd_generate(args: argparse.Namespace) -> int:
    from fpgatag.core.config import parse_shard
    from fpgatag.data.generate import generate

    shard = parse_shard(args.shard) if args.shard is not None else None
    guard(args.output, "jets")
    processes = tuple(args.processes) if args.processes else ("qcd", "top")
    # SIGTERM unwinds like Ctrl-C (cli.main and generate's own stop flag), so no partial output is left
    path = generate(args.output, processes=processes, jets_per_class=args.jets_per_class, seed=args.seed,
                    workers=args.workers, shard=shard, settings=_settings(args), lund=_lund_settings(args),
                    scheduler=args.scheduler)
    print(path)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from fpgatag.data.merge import merge

    guard(args.output, "jets", inputs=data_inputs(*args.shards))
    print(merge(args.output, args.shards, copy=args.copy, allow_partial=args.allow_partial))
    return 0


def cmd_views(args: argparse.Namespace) -> int:
    from fpgatag.core.errors import FpgatagError
    from fpgatag.data.reviews import remake_views

    settings = {k[4:]: v for k, v in vars(args).items() if k.startswith("set_") and v is not None}
    if args.n_trigger is not None:
        settings["n_towers"] = settings["n_candidates"] = args.n_trigger
    lund = _lund_settings(args)
    if not settings and lund is None:
        raise FpgatagError("views: give at least one view setting to change (for example --n-candidates 32) or --lund")
    guard(args.output, "jets", inputs=data_inputs(args.file))
    print(remake_views(args.file, args.output, settings, lund=lund))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from fpgatag.core.io import to_json
    from fpgatag.data.inspect import format_summary, summarize

    summary = summarize(args.file)
    print(to_json(summary) if args.json else format_summary(summary), end="" if args.json else "\n")
    return 0
