"""Data commands: ``fpgatag generate``, ``fpgatag merge``, ``fpgatag views``, ``fpgatag inspect``."""

from __future__ import annotations

import argparse
import logging

from fpgatag.cli.common import (add_command, add_json, add_output, data_inputs, finite_float, guard, nonnegative_float,
                                nonnegative_int, positive_float, positive_int, print_json)

log = logging.getLogger(__name__)

# The generator and view settings the command line exposes: the checked type and help of each. The
# flag is the field's name with dashes and its default is the dataclass's own
# (fpgatag.data.generate.GeneratorSettings, fpgatag.data.views.ViewSettings); every other field is
# named in _NOT_FLAGS, so a new setting cannot be forgotten (registration fails).
_GEN_FLAGS = {
    "ecm": (positive_float, "pp centre-of-mass energy (GeV); default 14000, 13000 with --physics hls4ml-lhc"),
    "pthat_min": (nonnegative_float, "Pythia pTHat lower cut (GeV); default 0.6 x --pt-min"),
    "pthat_max": (finite_float, "Pythia pTHat upper cut (GeV); <= 0: none"),
    "pt_min": (nonnegative_float, "jet pT window, lower edge (GeV); default 550, 800 with --physics hls4ml-lhc"),
    "pt_max": (positive_float, "jet pT window, upper edge (GeV); default 650, 1200 with --physics hls4ml-lhc"),
    "eta_max": (positive_float, "jet |eta| below this; default 2, 2.5 with --physics hls4ml-lhc"),
    "jet_r": (positive_float, "anti-kt radius; default 0.8"),
    "match_dr": (positive_float, "truth partons within this dR of the jet axis"),
    "max_particles": (positive_int, "constituents stored per jet"),
    "chunk_jets": (positive_int, "jets per chunk (one Pythia seed each; part of the job's identity)"),
    "parton_veto": (nonnegative_float, "stop events before hadronization when no parton-level jet reaches this "
                                       "x --pt-min (0: off)"),
    "shower_veto": (nonnegative_float, "check the veto first inside the shower, at this x --pt-min GeV "
                                       "(0: only after it)"),
}
_VIEW_FLAGS = {
    "n_towers": (positive_int, "trigger towers kept (most energetic)"),
    "n_candidates": (positive_int, "L1 particle candidates kept (hardest)"),
    "tower_eta_size": (positive_float, "tower size in eta"),
    "tower_phi_bins": (positive_int, "tower cells in phi over 2pi"),
    "tower_threshold": (nonnegative_float, "tower ET threshold (GeV)"),
    "em_stochastic": (nonnegative_float, "EM resolution stochastic term a/sqrt(E)"),
    "em_constant": (nonnegative_float, "EM resolution constant term"),
    "had_stochastic": (nonnegative_float, "hadronic resolution stochastic term"),
    "had_constant": (nonnegative_float, "hadronic resolution constant term"),
    "pt_lsb": (positive_float, "candidate pT LSB (GeV)"),
    "angle_lsb": (positive_float, "candidate eta/phi LSB (pi/720)"),
}
_FLAG_NAMES = {"tower_eta_size": "--tower-size"}   # shorter than the field's name
# Fields without a flag of their own: mpi/isr/fsr are --no-mpi/--no-isr/--no-fsr, physics is --physics; the
# rest are set from code.
_NOT_FLAGS = {"mpi", "isr", "fsr", "physics", "events_per_batch", "max_events_without_jet", "pt_bits", "smear_seed"}


def setting_flags(cls, table: dict) -> list[tuple[str, str, object, object, str]]:
    """(flag, field, type, default, help) of each exposed field of settings dataclass ``cls``."""
    import dataclasses

    fields = {f.name: f for f in dataclasses.fields(cls)}
    missing = sorted(set(fields) - set(table) - _NOT_FLAGS)
    if missing or set(table) - set(fields):
        raise RuntimeError(f"{cls.__name__}: fields without a command-line flag: {missing}; "
                           f"flags without a field: {sorted(set(table) - set(fields))}")
    return [(_FLAG_NAMES.get(name, "--" + name.replace("_", "-")), name, typ, fields[name].default, text)
            for name, (typ, text) in table.items()]


def _add_settings(p, cls, table: dict, keep_file_s: bool = False) -> None:
    for flag, key, typ, default, text in setting_flags(cls, table):
        p.add_argument(flag, dest=f"set_{key}", type=typ, default=None if keep_file_s else default,
                       metavar=key.upper(), help=text + (" (default: the input file's)" if keep_file_s else ""))


def register(subparsers, formatter_class) -> None:
    from fpgatag.data.generate import PHYSICS, GeneratorSettings
    from fpgatag.data.processes import PROCESSES
    from fpgatag.data.views import ViewSettings

    p = add_command(
        subparsers, "generate", cmd_generate, formatter_class,
        help="simulate jets with Pythia 8 + FastJet (both views) into an HDF5 file",
        description="Simulate jets (pp at 14 TeV, anti-kt R=0.8, pT in [550, 650] GeV, |eta| < 2) with Pythia 8 and "
                    "FastJet, with the full-resolution particles and the trigger view, into one native HDF5 file.\n"
                    "Processes: " + "; ".join(f"{k}: {v.description}" for k, v in PROCESSES.items()))
    add_output(p, "output HDF5 file", required=True)
    p.add_argument("--jets-per-class", type=positive_int, default=1000, help="jets per process (of the whole job, all shards)")
    p.add_argument("--seed", type=nonnegative_int, default=1, help="random seed (same seed, same file content)")
    p.add_argument("--workers", type=positive_int, default=1, help="parallel worker processes (does not change the content)")
    p.add_argument("--shard", default=None, metavar="i/N", help="generate only the i-th of N deterministic slices")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the chunks on the Dask cluster at ADDRESS (tcp://host:8786) instead of --workers local "
                        "processes; same file content (docs/distributed.md)")
    p.add_argument("--process", action="append", dest="processes", metavar="NAME",
                   help=f"process to generate, repeat for several (label = position); known: {', '.join(PROCESSES)}; "
                        "default: qcd and top (the --physics preset's where it names them)")
    p.add_argument("--physics", choices=tuple(PHYSICS), default="default",
                   help="physics preset; 'fast' (opt-in): MPI off and pTHat >= 0.7 x --pt-min, 6-8x faster "
                        "with a biased jet mass and multiplicity; 'hls4ml-lhc': the hls4ml LHC jet dataset's physics "
                        "(13 TeV, pT in [800, 1200] GeV, |eta| < 2.5, R = 0.8; default processes gluon, quark, w, z, "
                        "top in its label order) (docs/data.md)")
    p.add_argument("--no-mpi", action="store_true", help="switch off multiparton interactions")
    p.add_argument("--no-isr", action="store_true", help="switch off initial-state radiation")
    p.add_argument("--no-fsr", action="store_true", help="switch off final-state radiation")
    _add_settings(p, GeneratorSettings, _GEN_FLAGS)
    p.add_argument("--n-trigger", type=positive_int, default=None, help="set both --n-towers and --n-candidates")
    _add_settings(p, ViewSettings, _VIEW_FLAGS)
    _add_lund_options(p)
    add_json(p, "the file written (path, jets, classes)")

    p = add_command(
        subparsers, "merge", cmd_merge, formatter_class, help="join generated shards into one file",
        description="Join native shards into one file: by default an HDF5 virtual file that refers to the shards "
                    "(no copy; keep the shards next to it), or a full copy with --copy.")
    add_output(p, "merged HDF5 file", required=True)
    p.add_argument("shards", nargs="+", metavar="SHARD", help="native shard files, in order")
    p.add_argument("--copy", action="store_true", help="copy the data instead of writing virtual datasets")
    p.add_argument("--allow-partial", action="store_true",
                   help="merge shards that are not the whole job (recorded in the file's attributes)")
    add_json(p, "the file written (path, jets, classes)")

    p = add_command(
        subparsers, "views", cmd_views, formatter_class,
        help="rebuild a file's trigger views from its particles with other settings (no new simulation)",
        description="Recompute both trigger views (towers, L1 candidates) of every jet from its stored particles with "
                    "other view settings, for example 32 candidates instead of 16, and write a new native file. "
                    "Settings not given keep the input file's. Any readable format works as input.")
    p.add_argument("file", help="input jet file (any format `fpgatag inspect` reads)")
    add_output(p, "output native HDF5 file", required=True)
    p.add_argument("--n-trigger", type=positive_int, default=None, help="set both --n-towers and --n-candidates")
    _add_settings(p, ViewSettings, _VIEW_FLAGS, keep_file_s=True)
    _add_lund_options(p)
    p.add_argument("--hls4ml-inputs", action="store_true",
                   help="also store the Level-1 benchmark's inputs in the hls4ml LHC jet dataset's terms: the N hardest "
                        "constituents with its 3 and 16 features and its 16 jet features (group /hls4ml, docs/data.md)")
    p.add_argument("--hls4ml-constituents", type=positive_int, default=150, metavar="N",
                   help="constituents stored per jet for the benchmark inputs (it reads the first 8, 16, 32, 64 or all)")
    add_json(p, "the file written (path, jets, classes)")

    p = add_command(
        subparsers, "inspect", cmd_inspect, formatter_class, help="summarise a jet file (any supported format)",
        description="Detect a jet file's format (native, toptagging, hls4ml, jetclass) and print the number of jets, "
                    "and per class the jets, median jet mass and mean multiplicity of both views.")
    p.add_argument("file", help="jet file")
    add_json(p, "the summary")


def _add_lund_options(p) -> None:
    p.add_argument("--lund", action="store_true",
                   help="also store each jet's Lund tree (C/A declustering; group /lund, see docs/data.md)")
    p.add_argument("--lund-max-nodes", type=positive_int, default=199, metavar="N",
                   help="Lund-tree nodes stored per jet (a jet of n constituents has n - 1)")


def _optional_settings(on: bool, make, flag: str):
    """``make()`` (the settings of an optional group) when its switch is ``on``, else None; a ValueError
    becomes one line naming ``flag``."""
    if not on:
        return None
    from fpgatag.core.errors import FpgatagError

    try:
        return make()
    except ValueError as exc:
        raise FpgatagError(f"{flag}: {exc}") from None


def _lund_settings(args: argparse.Namespace):
    from fpgatag.data.lund import LundSettings

    return _optional_settings(args.lund, lambda: LundSettings(max_nodes=args.lund_max_nodes), "--lund-max-nodes")


def _settings(args: argparse.Namespace) -> dict:
    settings = {k[4:]: v for k, v in vars(args).items() if k.startswith("set_") and v is not None}
    if args.no_mpi:
        settings["mpi"] = False
    if getattr(args, "physics", "default") != "default":
        settings["physics"] = args.physics
    settings["isr"] = not args.no_isr
    settings["fsr"] = not args.no_fsr
    if args.n_trigger is not None:
        settings["n_towers"] = settings["n_candidates"] = args.n_trigger
    return settings


# generate()'s arguments as the command line names them (its errors name the argument; ours the flag)
_GENERATE_ARGS = {"processes": "--process", "process": "--process", "jets_per_class": "--jets-per-class",
                  "seed": "--seed", "workers": "--workers", "shard": "--shard", "chunk_jets": "--chunk-jets"}


def cmd_generate(args: argparse.Namespace) -> int:
    from fpgatag.core.config import parse_shard
    from fpgatag.core.errors import ArgumentError
    from fpgatag.data.generate import generate, preset_processes

    shard = parse_shard(args.shard, option="--shard") if args.shard is not None else None
    guard(args.output, "jets")
    processes = tuple(args.processes) if args.processes else preset_processes(args.physics)
    # SIGTERM unwinds like Ctrl-C (cli.main and generate's own stop flag), so no partial output is left
    try:
        path = generate(args.output, processes=processes, jets_per_class=args.jets_per_class, seed=args.seed,
                        workers=args.workers, shard=shard, settings=_settings(args), lund=_lund_settings(args),
                        scheduler=args.scheduler)
    except ArgumentError as exc:  # raised by its checks, before any work
        raise exc.renamed(_GENERATE_ARGS.get(exc.argument, "--" + exc.argument.replace("_", "-"))) from None
    return _print_file(args, path)


def _print_file(args: argparse.Namespace, path) -> int:
    """The written file: its path, or with --json its path, jets and classes."""
    if not args.json:
        print(path)
        return 0
    from fpgatag.data.io import open_jets

    with open_jets(path) as src:
        print_json({"output": str(path), "n_jets": int(src.n_jets), "classes": list(src.classes),
                    "format": getattr(src, "format", None)})
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    from fpgatag.data.merge import merge

    guard(args.output, "jets", inputs=data_inputs(*args.shards))
    return _print_file(args, merge(args.output, args.shards, copy=args.copy, allow_partial=args.allow_partial))


def cmd_views(args: argparse.Namespace) -> int:
    from fpgatag.core.errors import FpgatagError
    from fpgatag.data.reviews import remake_views

    settings = {k[4:]: v for k, v in vars(args).items() if k.startswith("set_") and v is not None}
    if args.n_trigger is not None:
        settings["n_towers"] = settings["n_candidates"] = args.n_trigger
    lund = _lund_settings(args)
    bench = _hls4ml_settings(args)
    if not settings and lund is None and bench is None:
        raise FpgatagError("views: give at least one view setting to change (for example --n-candidates 32), --lund "
                           "or --hls4ml-inputs")
    guard(args.output, "jets", inputs=data_inputs(args.file))
    return _print_file(args, remake_views(args.file, args.output, settings, lund=lund, hls4ml=bench))


def _hls4ml_settings(args: argparse.Namespace):
    from fpgatag.data.hls4ml import Hls4mlSettings

    return _optional_settings(args.hls4ml_inputs, lambda: Hls4mlSettings(n_constituents=args.hls4ml_constituents),
                              "--hls4ml-constituents")


def cmd_inspect(args: argparse.Namespace) -> int:
    from fpgatag.data.inspect import format_summary, summarize

    summary = summarize(args.file)
    if args.json:
        print_json(summary)
    else:
        print(format_summary(summary))
    return 0
