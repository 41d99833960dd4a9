"""Profile of a generate run: where the CPU time goes, stage by stage.

Samples a run of the generator's chunk worker (``run_chunk`` for qcd and for top, each chunk written
to HDF5) with py-spy, native frames included (Pythia and FastJet are C++), and assigns every sample
to one stage by the frames on its stack:

    Pythia init, the veto, hadronization and decays, MPI, ISR shower, FSR shower, parton
    level (other), hard process, Pythia (other: event checks), event record -> awkward (nextBatch), FastJet clustering,
    extraction/selection/matching/padding (numpy), trigger views, HDF5 I/O, Python (imports, other)

Pythia evolves MPI, ISR and FSR interleaved: the showers of the MPI scatterings count as ISR and FSR,
so a second table times the same events with one stage switched off (``PartonLevel:MPI = off`` etc.),
in ms of CPU per event. Both profiles, the previous default (``parton_veto=0``: no veto) and today's, run in
the same invocation.

    pip install -e '.[bench]'          # py-spy
    python bench/bench_generate_profile.py --jets 250
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("fpgatag.bench.generate_profile")

# (stage, markers): a sample belongs to the first stage one of whose markers is in one of its frames
STAGES = (
    ("Pythia init", ("Pythia8::Pythia::init", "make_pythia")),
    ("veto, in the shower and after it (SlowJet)", ("Pythia8::SlowJet", "doVetoPartonLevel", "doVetoPT")),
    ("hadronization and decays", ("Pythia8::HadronLevel",)),
    ("MPI", ("Pythia8::MultipartonInteractions",)),
    ("ISR shower", ("Pythia8::SimpleSpaceShower",)),
    ("FSR shower", ("Pythia8::SimpleTimeShower",)),
    ("parton level, other (remnants, colour reconnection, resonance decays)", ("Pythia8::PartonLevel",)),
    ("hard process", ("Pythia8::ProcessLevel",)),
    ("Pythia, other (event checks)", ("Pythia8::Pythia::next", "Pythia8::Pythia::check")),
    ("event record -> awkward (nextBatch)", ("Run::fill", "pythia8mc.cpython")),
    ("FastJet clustering", ("fastjet", "ClusterSequence")),
    ("trigger views", ("compute_views",)),
    ("extraction, selection, matching, padding (numpy)", ("process_events", "_Record", "_selected", "_Clustered")),
    ("HDF5 I/O", ("write_jets",)),
)
OTHER = "Python (imports, other)"
SWITCHES = (("default", []), ("MPI off", ["PartonLevel:MPI = off"]), ("ISR off", ["PartonLevel:ISR = off"]),
            ("FSR off", ["PartonLevel:FSR = off"]), ("hadron level off", ["HadronLevel:all = off"]),
            ("decays off", ["HadronLevel:Decay = off"]), ("hard process only", ["PartonLevel:all = off",
                                                                               "HadronLevel:all = off"]))


def run_target(n_jets: int, settings: dict) -> None:
    from fpgatag.data.generate import ChunkTask, GeneratorSettings, run_chunk
    from fpgatag.data.io import write_jets
    from fpgatag.data.views import ViewSettings

    with tempfile.TemporaryDirectory() as d:
        for name in ("qcd", "top"):
            gen = GeneratorSettings(chunk_jets=n_jets, **settings)
            res = run_chunk(ChunkTask(name, 0, 0, n_jets, 5, gen.to_dict(), ViewSettings().to_dict()))
            res.pop("_events"), res.pop("_pythia_cpu")
            write_jets(Path(d) / f"{name}.h5", res, {"classes": [name]})


def stage_of(frames: list[str]) -> str:
    for stage, markers in STAGES:
        if any(m in f for f in frames for m in markers):
            return stage
    return OTHER


def profile(n_jets: int, settings: dict, rate: int) -> dict[str, float]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "raw.txt"
        subprocess.run([spy, "record", "--native", "-r", str(rate), "-f", "raw", "-o", str(raw), "--",
                        sys.executable, __file__, "--target", str(n_jets), "--settings", json.dumps(settings)],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        counts: Counter[str] = Counter()
        for line in raw.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            counts[stage_of(stack.split(";"))] += int(n)
    total = sum(counts.values())
    return {stage: 100.0 * counts[stage] / total for stage in [s for s, _ in STAGES] + [OTHER]} | {"_samples": total}


def switch_timings(n_events: int) -> list[dict]:
    from fpgatag.data.generate import GeneratorSettings, make_pythia, pythia_settings
    from fpgatag.data.processes import get_process

    rows = []
    for name in ("qcd", "top"):
        base = pythia_settings(get_process(name), GeneratorSettings(), 12345)
        for label, extra in SWITCHES:
            pythia = make_pythia(base + extra)
            t = time.process_time()
            for _ in range(n_events):
                pythia.next()
            rows.append({"process": name, "setting": label, "ms_per_event": 1e3 * (time.process_time() - t) / n_events})
    return rows


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT / "bench"))
    import _common as C   # not at the top: the profiled --target process imports only what a generate run does

    ap = C.parser(__doc__, None)
    ap.add_argument("--jets", type=int, default=250, help="jets per process in each profiled run")
    ap.add_argument("--events", type=int, default=300, help="events per setting in the switch table")
    ap.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    ap.add_argument("--target", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.target is not None:
        run_target(args.target, json.loads(args.settings))
        return 0
    C.start(args)
    from fpgatag.core.metrics import format_table
    from fpgatag.core.provenance import provenance

    prof = {}
    for key, settings in (("old default", {"parton_veto": 0.0}), ("new default", {})):
        log.info("profiling %s (%d jets of qcd and of top)", key, args.jets)
        prof[key] = profile(args.jets, settings, args.rate)
    switches = switch_timings(args.events)
    result = {"benchmark": "generate_profile", "profile_pct": prof, "switches": switches,
              "provenance": provenance(vars(args))}
    stages = [s for s, _ in STAGES] + [OTHER]
    t1 = format_table([{"stage": s, **{k: prof[k][s] for k in prof}} for s in stages], ["stage", *prof], floatfmt=".1f")
    default_ms = {r["process"]: r["ms_per_event"] for r in switches if r["setting"] == "default"}
    t2 = format_table([{**r, "share of default %": 100.0 * r["ms_per_event"] / default_ms[r["process"]]} for r in switches],
                      ["process", "setting", "ms_per_event", "share of default %"], floatfmt=".3g")
    md = (f"# Where a generate run spends its CPU time\n\n"
          f"py-spy samples ({args.rate}/s, native frames) of `run_chunk` for {args.jets} qcd and {args.jets} top jets, "
          f"each chunk written to HDF5, one process; per stage, % of the samples "
          f"({prof['old default']['_samples']} and {prof['new default']['_samples']} samples; a share of n samples "
          f"has a statistical error of about sqrt(n)).\n\n{t1}\n\n"
          f"Pythia evolves MPI, ISR and FSR interleaved: the ISR and FSR rows include the showers of the MPI "
          f"scatterings. Pythia alone (`pythia.next()`, default settings) with one stage switched off, "
          f"{args.events} events each, CPU ms per event (the share is of the default's time):\n\n{t2}\n")
    C.write(args.out, "generate_profile", result, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
