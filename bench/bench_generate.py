"""Benchmark: accepted jets per CPU second of the generator, old default against new, in the same run.

For each process, on one core, CPU time of this process (the machine is shared; wall times are noisy
and written too):

* **old**: ``run_chunk`` with the previous default (``parton_veto=0``: every event is hadronized,
  converted and clustered), plus writing the chunk to HDF5;
* **parton**: ``run_chunk`` with the veto after the parton level only (``shower_veto=0``: events whose
  parton-level jets are all below ``parton_veto x pt_min`` stop before hadronization);
* **new**: ``run_chunk`` with today's default (the same physics; the same veto checked first inside the
  shower, at ``shower_veto x pt_min``, which skips most of the shower of a stopped event);
* **fast**: ``run_chunk`` with the opt-in ``physics="fast"`` preset (MPI off, pTHat >= 0.7 x pt_min);
* **bare**: a plain ``pythia.next()`` loop with the default Pythia settings for the events the old run
  needed (Pythia alone, no selection: the cost floor of the old default).

old and new run twice, alternating (old, new, old, new), and are averaged, so load drifts partly
cancel. Then an **audit** of the veto: events of the default physics with the veto only recorded,
not applied; it counts the accepted jets that come from events the veto would stop (the veto is
physics-neutral if that is 0; with 0 of n the 95 % upper limit on the lost fraction is 3/n) and the
lowest leading jet pT, in the shower and after the parton level, of an event with an accepted jet.

    python bench/bench_generate.py --quick       # qcd and top (about 10 CPU minutes)
    python bench/bench_generate.py               # more jets, all processes
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpgatag.core.io import write_json, write_text  # noqa: E402
from fpgatag.core.metrics import format_table  # noqa: E402
from fpgatag.core.provenance import provenance  # noqa: E402
from fpgatag.data.generate import (VETO_R, ChunkTask, GeneratorSettings, _Charges, chunk_seed,  # noqa: E402
                                   make_pythia, parton_veto_hook, process_events, pythia_settings, run_chunk)
from fpgatag.data.io import write_jets  # noqa: E402
from fpgatag.data.processes import get_process  # noqa: E402
from fpgatag.data.views import ViewSettings  # noqa: E402

log = logging.getLogger("bench_generate")

VARIANTS = {"old": {"parton_veto": 0.0}, "parton": {"shower_veto": 0.0}, "new": {}, "fast": {"physics": "fast"}}


def _timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def _chunk(name: str, n_jets: int, seed: int, tmp: Path, settings: dict) -> tuple[int, int]:
    gen = GeneratorSettings(chunk_jets=max(n_jets, 1), **settings)
    res = run_chunk(ChunkTask(name, 0, 0, n_jets, seed, gen.to_dict(), ViewSettings().to_dict()))
    events, vetoed, in_shower = (int(v) for v in res.pop("_events"))
    res.pop("_pythia_cpu")
    write_jets(tmp / f"{name}.h5", res, {"classes": [name]})
    return events, vetoed, in_shower


def bench_process(name: str, n_jets: int, seed: int, tmp: Path) -> dict:
    proc = get_process(name)
    runs: dict[str, list] = {k: [] for k in VARIANTS}
    for key in ("old", "new", "fast", "parton", "old", "new"):
        (events, vetoed, in_shower), cpu, wall = _timed(
            lambda key=key: _chunk(name, n_jets, seed + len(runs[key]), tmp, VARIANTS[key]))
        runs[key].append({"events": events, "vetoed": vetoed, "vetoed_in_shower": in_shower, "cpu_s": cpu,
                          "wall_s": wall})
    old_events = runs["old"][0]["events"]

    def bare():
        pythia = make_pythia(pythia_settings(proc, GeneratorSettings(), chunk_seed(seed, proc, 0)))
        done = 0
        while done < old_events:
            done += bool(pythia.next())

    _, b_cpu, _ = _timed(bare)
    row = {"process": name, "jets": n_jets, **{key: {"runs": rs} for key, rs in runs.items()},
           "bare_cpu_s": b_cpu, "bare_events": old_events}
    return derive(row)


def derive(row: dict) -> dict:
    """Rates from a row's runs. jets/s carries the binomial error of the jets per event (1/sqrt(jets));
    CPU per generated event is much less noisy, and its old/new ratio is the veto's speed-up if the veto
    keeps the jets per generated event (it does if it is neutral: the audit)."""
    n = row["jets"]
    for key in (k for k in VARIANTS if k in row):
        rs = row[key]["runs"]
        cpu, events, jets = sum(r["cpu_s"] for r in rs), sum(r["events"] for r in rs), len(rs) * n
        rate = jets / cpu
        row[key].update({"jets_per_s_cpu": rate, "jets_per_s_cpu_err": rate / np.sqrt(jets),
                         "jets_per_s_wall": jets / sum(r["wall_s"] for r in rs), "jets_per_event": jets / events,
                         "ms_cpu_per_event": 1e3 * cpu / events,
                         "vetoed_fraction": sum(r["vetoed"] for r in rs) / events,
                         "vetoed_in_shower_fraction": sum(r.get("vetoed_in_shower", 0) for r in rs) / events})
    if "bare_cpu_s" in row:
        row["bare_jets_per_s_cpu"] = row["bare_events"] / row["bare_cpu_s"] * row["old"]["jets_per_event"]
    for key in (k for k in ("new", "parton", "fast") if k in row):
        ratio = row[key]["jets_per_s_cpu"] / row["old"]["jets_per_s_cpu"]
        row[f"speedup_{key}"] = ratio
        row[f"speedup_{key}_err"] = ratio * np.hypot(*(row[k]["jets_per_s_cpu_err"] / row[k]["jets_per_s_cpu"]
                                                       for k in ("old", key)))
    row["cpu_per_event_old_over_new"] = row["old"]["ms_cpu_per_event"] / row["new"]["ms_cpu_per_event"]
    return row


def audit_veto(name: str, n_jets: int, seed: int) -> dict:
    """Default-physics events with the veto recorded, not applied: accepted jets from would-be-vetoed events."""
    proc, gen = get_process(name), GeneratorSettings()
    hook = parton_veto_hook(gen, apply=False)
    pythia = make_pythia(pythia_settings(proc, gen, chunk_seed(seed, proc, 0)), hook)
    charges = _Charges(pythia)
    jets = events = bad = skipped = with_jet = with_two = would = would_shower = 0
    lowest = lowest_shower = np.inf
    threshold = gen.parton_veto * gen.pt_min
    while jets < n_jets:
        start = len(hook.decisions)
        batch = pythia.nextBatch(gen.events_per_batch)
        flags, lead = np.asarray(hook.decisions[start:]), np.asarray(hook.leading[start:])
        lead_shower = np.asarray(hook.leading_shower[start:])
        if flags.size != len(batch):  # an event failed after the parton level: decisions not aligned
            skipped += len(batch)
            continue
        out = process_events(batch, proc, gen, charges)
        events += len(batch)
        would, would_shower = would + int(flags.sum()), would_shower + int((lead_shower < threshold).sum())
        jets += out["_event"].size
        bad += int(flags[out["_event"]].sum())
        per_event = np.bincount(out["_event"], minlength=len(batch))
        with_jet, with_two = with_jet + int((per_event > 0).sum()), with_two + int((per_event > 1).sum())
        if out["_event"].size:
            lowest = min(lowest, float(lead[out["_event"]].min()))
            lowest_shower = min(lowest_shower, float(lead_shower[out["_event"]].min()))
    return {"process": name, "events": events, "would_veto": would, "would_veto_in_shower": would_shower,
            "accepted_jets": jets, "accepted_from_would_veto": bad,
            "lost_fraction_upper_95": 3.0 / max(jets, 1) if bad == 0 else None,
            "events_with_accepted_jet": with_jet, "events_with_two_or_more": with_two,
            "events_skipped_unaligned": skipped, "lowest_leading_parton_jet_pt_with_accepted_jet": lowest,
            "lowest_leading_shower_jet_pt_with_accepted_jet": lowest_shower,
            "shower_veto_scale_gev": gen.shower_veto * gen.pt_min, "veto_threshold_gev": threshold}


def _table(rows: list[dict]) -> str:
    cols = ["process", "jets per run", "old jets/s/core", "new jets/s/core", "new/old", "parton-only/old",
            "fast jets/s/core", "fast/old", "bare Pythia jets/s/core", "CPU ms/event old", "CPU ms/event new",
            "old/new per event", "events vetoed (new)", "in the shower (new)", "jets/event old", "jets/event new",
            "jets/event fast"]

    def pm(v, e):
        return f"{v:.3g} ± {e:.2g}"

    return format_table([dict(zip(cols, [
        r["process"], r["jets"], pm(r["old"]["jets_per_s_cpu"], r["old"]["jets_per_s_cpu_err"]),
        pm(r["new"]["jets_per_s_cpu"], r["new"]["jets_per_s_cpu_err"]), pm(r["speedup_new"], r["speedup_new_err"]),
        pm(r["speedup_parton"], r["speedup_parton_err"]) if "parton" in r else "-", pm(r["fast"]["jets_per_s_cpu"], r["fast"]["jets_per_s_cpu_err"]), r["speedup_fast"],
        r["bare_jets_per_s_cpu"], r["old"]["ms_cpu_per_event"], r["new"]["ms_cpu_per_event"],
        r["cpu_per_event_old_over_new"], r["new"]["vetoed_fraction"], r["new"].get("vetoed_in_shower_fraction", "-"),
        r["old"]["jets_per_event"], r["new"]["jets_per_event"], r["fast"]["jets_per_event"]])) for r in rows],
        cols, floatfmt=".3g")


def _audit_table(audits: list[dict]) -> str:
    cols = ["process", "events", "would be vetoed", "in the shower", "accepted jets", "accepted from would-be-vetoed",
            "lost fraction (95 % upper limit)", "events with 2+ accepted jets",
            "lowest leading in-shower jet pT with an accepted jet (GeV)",
            "lowest leading parton-level jet pT with an accepted jet (GeV)", "veto below (GeV)", "shower check at (GeV)"]
    return format_table([dict(zip(cols, [
        a["process"], a["events"], a["would_veto"], a.get("would_veto_in_shower", "-"), a["accepted_jets"],
        a["accepted_from_would_veto"], "-" if a.get("lost_fraction_upper_95") is None else f"< {a['lost_fraction_upper_95']:.2g}",
        f"{a.get('events_with_two_or_more', '-')}/{a.get('events_with_accepted_jet', '-')}",
        a.get("lowest_leading_shower_jet_pt_with_accepted_jet", "-"), a["lowest_leading_parton_jet_pt_with_accepted_jet"],
        a["veto_threshold_gev"], a.get("shower_veto_scale_gev", "-")])) for a in audits], cols, floatfmt=".4g")


def render(result: dict) -> str:
    rows, audits, hours = result["processes"], result["audit"], result["hours_100k_per_class_qcd_top_2_free_cores"]
    n = rows[0]["jets"]
    return (f"# Generator benchmark{' (--quick)' if result['quick'] else ''}\n\n"
            f"Accepted jets per CPU second on one core, measured in the same run: old default (every event hadronized), "
            f"new default (same physics; the veto checked inside the shower and after the parton level), parton-only "
            f"(the veto only after the parton level), the opt-in fast preset (MPI off, pTHat >= 0.7 x pt_min, "
            f"biased: bench/results/generate_ks_fast.md) and bare Pythia (default settings, no selection, the old "
            f"default's events). old and new: two runs each ({n} jets per run, own seeds), alternating; fast and "
            f"parton-only: one run. "
            f"± is the statistical error of the jets per event (1/sqrt(jets)), which dominates at these sizes; "
            f"the CPU per generated event (every event, vetoed ones included) is the precise comparison of old "
            f"and new, whose jets per generated event are the same if the veto is neutral.\n\n{_table(rows)}\n\n"
            f"100k jets per class of qcd + top on two free cores: old {hours['old']:.1f} h, new {hours['new']:.1f} h, "
            f"fast {hours['fast']:.2f} h.\n\n"
            f"Audit of the veto: default-physics events, the veto recorded but not applied; both checks on anti-kt "
            f"jets of R = {VETO_R} x jet_r.\n\n{_audit_table(audits)}\n\n"
            f"CPU times of this process; the machine's 2 cores are shared with other jobs, which adds noise of several % "
            f"to each rate. Where the time goes: bench/results/generate_profile.md.\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small run: qcd and top, few jets")
    ap.add_argument("--jets", type=int, default=None, help="jets per process per measurement")
    ap.add_argument("--audit-jets", type=int, default=None, help="accepted jets per process in the veto audit")
    ap.add_argument("--processes", nargs="+", default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--render", type=Path, default=None, help="only rewrite generate.md from this generate.json")
    args = ap.parse_args(argv)
    if args.render is not None:
        result = json.loads(args.render.read_text())
        result["processes"] = [derive(r) for r in result["processes"]]
        write_json(args.out / "generate.json", result)
        write_text(args.out / "generate.md", render(result))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    import awkward  # noqa: F401  # import once before timing (a worker imports them once per run)
    import fastjet  # noqa: F401
    import pythia8mc  # noqa: F401

    n = args.jets or (200 if args.quick else 1000)
    n_audit = args.audit_jets or (3 * n)
    processes = args.processes or (["qcd", "top"] if args.quick else ["qcd", "top", "w", "z", "quark", "gluon"])
    rows, audits = [], []
    with tempfile.TemporaryDirectory() as d:
        for name in processes:
            log.info("process %s: %d jets per run", name, n)
            rows.append(bench_process(name, n, seed=11, tmp=Path(d)))
            log.info("%s: new/old %.2f, fast/old %.2f", name, rows[-1]["speedup_new"], rows[-1]["speedup_fast"])
            audits.append(audit_veto(name, n_audit, seed=21))
            log.info("%s", audits[-1])
    rate = {r["process"]: r for r in rows}
    hours = {k: sum(100_000 / rate[p][k]["jets_per_s_cpu"] for p in ("qcd", "top") if p in rate) / 2 / 3600
             for k in VARIANTS}
    result = {"benchmark": "generate", "quick": bool(args.quick), "processes": rows, "audit": audits,
              "hours_100k_per_class_qcd_top_2_free_cores": hours, "provenance": provenance({"jets": n, "audit": n_audit})}
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "generate.json", result)
    md = render(result)
    write_text(args.out / "generate.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
