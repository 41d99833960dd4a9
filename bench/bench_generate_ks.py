"""Benchmark: does a generator setting change the jets? Two-sample Kolmogorov-Smirnov tests.

Compares the jet distributions of a *reference* sample (files generated with the reference physics)
with a *candidate* sample (files generated with new code or another preset), class by class:

* full resolution: jet pT, eta, mass, constituent multiplicity, tau21 and tau32 (N-subjettiness,
  beta = 1, R0 = 0.8, on FastJet's exclusive-kt axes, of the stored constituents);
* trigger view: mass, pT, tau21 and tau32 of the L1 candidates, and the towers' mass
  and multiplicity (``fpgatag.data.features.jet_features``).

For each it writes both sample sizes, the means with their standard errors, the KS statistic D and
its p-value. Under the hypothesis that both samples come from the same distribution the p-values are
uniform: with T tests about 0.01 T fall below 0.01 by chance, so the table also gives the smallest
p-value against the Bonferroni threshold 0.05 / T. The samples must be statistically independent
(distinct seeds, or distinct shards of one job; checked) and, within a group, come from the same settings (checked, apart from the
shard, the size, the seed and the physics-neutral settings named in NEUTRAL).

    python bench/bench_generate_ks.py --reference ref*.h5 --candidate new*.h5 --name default
    python bench/bench_generate_ks.py --reference ref*.h5 --candidate fast*.h5 --name fast
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpgatag.core import schema  # noqa: E402
from fpgatag.core.errors import FpgatagError  # noqa: E402
from fpgatag.core.io import write_json, write_text  # noqa: E402
from fpgatag.core.metrics import format_table  # noqa: E402
from fpgatag.core.provenance import provenance  # noqa: E402
from fpgatag.data.features import NSUB_R0, jet_features  # noqa: E402
from fpgatag.data.io import open_jets  # noqa: E402

log = logging.getLogger("bench_generate_ks")

# generator settings that do not enter the comparison of a group's files: the job's size and shard, and
# the speed settings that by construction select the same jets (chunking, batching, the vetoes)
NEUTRAL = ("shard", "jets_per_class", "chunk_jets", "events_per_batch", "max_events_without_jet", "parton_veto",
           "shower_veto", "missing_shards")
OBSERVABLES = ("pt", "eta", "mass", "n_particles", "tau21", "tau32", "l1_mass", "l1_pt", "l1_tau21", "l1_tau32",
               "tower_mass", "n_towers")  # (the L1 candidate multiplicity is 16 for nearly every jet: not tested)
READ_BLOCK = 5000


def _taus(p: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """tau21 and tau32 (beta = 1, R0 = 0.8) of each jet's stored constituents, on exclusive-kt axes from
    FastJet (E-scheme, each jet clustered as one event); 0 for jets with <= 3 constituents."""
    import awkward as ak
    import fastjet

    out = {"tau21": np.zeros(n.size), "tau32": np.zeros(n.size)}
    ok = np.flatnonzero(n > 3)
    mask = np.arange(p.shape[1])[None, :] < n[ok, None]
    c = {k: p[ok][..., schema.col("particles", k)].astype(np.float64) for k in ("px", "py", "pz", "e", "pt", "eta", "phi")}
    four = ak.unflatten(ak.zip({"px": c["px"][mask], "py": c["py"][mask], "pz": c["pz"][mask], "E": c["e"][mask]}),
                        n[ok].astype(np.int64))
    with warnings.catch_warnings():  # exclusive jets of the kt algorithm are what is wanted here
        warnings.simplefilter("ignore", UserWarning)
        cs = fastjet.ClusterSequence(four, fastjet.JetDefinition(fastjet.kt_algorithm, 10.0))
        axes = {k: cs.exclusive_jets(n_jets=k) for k in (1, 2, 3)}
    tau = {}
    for n_axes in (1, 2, 3):
        ax = axes[n_axes]
        px, py, pz = (ak.to_numpy(getattr(ax, k)).reshape(-1, n_axes) for k in ("px", "py", "pz"))
        e = ak.to_numpy(ax.E).reshape(-1, n_axes)
        rap = 0.5 * np.log(np.maximum(e + pz, 1e-12) / np.maximum(e - pz, 1e-12))
        phi = np.arctan2(py, px)
        dphi = (c["phi"][:, :, None] - phi[:, None, :] + np.pi) % (2 * np.pi) - np.pi
        dr = np.hypot(c["eta"][:, :, None] - rap[:, None, :], dphi).min(axis=2)
        w = np.where(mask, c["pt"], 0.0)
        tau[n_axes] = (w * dr).sum(axis=1) / (w.sum(axis=1) * NSUB_R0)
    out["tau21"][ok] = tau[2] / np.maximum(tau[1], 1e-12)
    out["tau32"][ok] = tau[3] / np.maximum(tau[2], 1e-12)
    return out


def _observables(b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    l1 = jet_features(b, "candidates", ("mass", "pt", "tau21", "tau32"))
    towers = jet_features(b, "towers", ("mass", "multiplicity"))
    jet = b["jet"]
    return {
        "pt": jet[:, schema.col("jet", "pt")], "eta": jet[:, schema.col("jet", "eta")],
        "mass": jet[:, schema.col("jet", "mass")], "n_particles": b["n_particles"].astype(np.float64),
        **_taus(b["particles"], b["n_particles"]),
        "l1_mass": l1[:, 0], "l1_pt": l1[:, 1], "l1_tau21": l1[:, 2], "l1_tau32": l1[:, 3],
        "tower_mass": towers[:, 0], "n_towers": towers[:, 1],
    }


def _settings_key(attrs: dict) -> str:
    gen = {k: v for k, v in dict(attrs.get("generator") or {}).items() if k not in NEUTRAL}
    gen.setdefault("physics", "default")  # files written before the presets existed: the default physics
    return json.dumps({"classes": attrs.get("classes"), "generator": gen, "views": attrs.get("views")},
                      sort_keys=True, default=str)


def load_group(paths: list[str], what: str) -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """Observables per class of all files of a group; the group's settings key and seeds."""
    per_class: dict[str, list[dict[str, np.ndarray]]] = {}
    keys, seeds, files, jobs = set(), [], [], []
    for path in paths:
        with open_jets(path) as src:
            attrs = dict(src.attrs)
            keys.add(_settings_key(attrs))
            seeds.append(int(attrs.get("seed")))
            jobs.append((seeds[-1], json.dumps((attrs.get("generator") or {}).get("shard"))))
            files.append({"file": str(path), "jets": src.n_jets, "seed": seeds[-1]})
            for start in range(0, src.n_jets, READ_BLOCK):
                b = src.read(start, min(start + READ_BLOCK, src.n_jets))
                obs = _observables(b)
                for label, name in enumerate(src.classes):
                    sel = b["label"] == label
                    per_class.setdefault(name, []).append({k: v[sel] for k, v in obs.items()})
    if len(keys) != 1:
        raise FpgatagError(f"--{what}: the files were generated with different settings: {', '.join(paths)}")
    if len(set(jobs)) != len(jobs):  # the shards of one job are disjoint slices of its chunks
        raise FpgatagError(f"--{what}: two files are the same job and shard (their jets would not be independent)")
    data = {c: {k: np.concatenate([p[k] for p in parts]) for k in OBSERVABLES} for c, parts in per_class.items()}
    return data, {"settings": keys.pop(), "seeds": sorted(set(seeds)), "files": files}


def compare(ref: dict[str, dict[str, np.ndarray]], cand: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    from scipy.stats import ks_2samp

    rows = []
    for cls in ref:
        if cls not in cand:
            continue
        for obs in OBSERVABLES:
            a, b = ref[cls][obs], cand[cls][obs]
            ks = ks_2samp(a, b)
            rows.append({"class": cls, "observable": obs, "n_reference": int(a.size), "n_candidate": int(b.size),
                         "mean_reference": float(a.mean()), "sem_reference": float(a.std(ddof=1) / np.sqrt(a.size)),
                         "mean_candidate": float(b.mean()), "sem_candidate": float(b.std(ddof=1) / np.sqrt(b.size)),
                         "ks_d": float(ks.statistic), "ks_p": float(ks.pvalue)})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", nargs="+", required=True, help="files with the reference physics")
    ap.add_argument("--candidate", nargs="+", required=True, help="files to compare with the reference")
    ap.add_argument("--name", required=True, help="name of the candidate (results file generate_ks_NAME.*)")
    ap.add_argument("--note", default="", help="one paragraph written under the table (what the candidate is)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ref, ref_info = load_group(args.reference, "reference")
    cand, cand_info = load_group(args.candidate, "candidate")
    overlap = set(ref_info["seeds"]) & set(cand_info["seeds"])
    if overlap:
        raise FpgatagError(f"--reference and --candidate share seed(s) {sorted(overlap)}")
    rows = compare(ref, cand)
    n_tests = len(rows)
    p_min = min(r["ks_p"] for r in rows)
    summary = {"tests": n_tests, "p_min": p_min, "bonferroni_threshold": 0.05 / n_tests,
               "below_0.01": sum(r["ks_p"] < 0.01 for r in rows), "expected_below_0.01": 0.01 * n_tests}
    out = Path(args.out)
    write_json(out / f"generate_ks_{args.name}.json", {
        "benchmark": "generate_ks", "candidate": args.name, "rows": rows, "summary": summary,
        "reference": ref_info, "candidate_files": cand_info, "provenance": provenance(vars(args))})
    table = format_table(
        [{"class": r["class"], "observable": r["observable"], "n ref": r["n_reference"], "n cand": r["n_candidate"],
          "mean ref": f"{r['mean_reference']:.4g} ± {r['sem_reference']:.2g}",
          "mean cand": f"{r['mean_candidate']:.4g} ± {r['sem_candidate']:.2g}",
          "KS D": f"{r['ks_d']:.4f}", "KS p": f"{r['ks_p']:.3g}"} for r in rows],
        ["class", "observable", "n ref", "n cand", "mean ref", "mean cand", "KS D", "KS p"])
    files = "\n".join(f"- reference: `{f['file']}` ({f['jets']} jets, seed {f['seed']})" for f in ref_info["files"])
    files += "\n" + "\n".join(f"- candidate: `{f['file']}` ({f['jets']} jets, seed {f['seed']})"
                              for f in cand_info["files"])
    verdict = ("no test rejects equality at the Bonferroni threshold" if p_min >= summary["bonferroni_threshold"]
               else "at least one observable differs at the Bonferroni threshold")
    text = (f"# Jet distributions: {args.name} against the reference physics\n\n"
            f"Two-sample Kolmogorov-Smirnov tests per class and observable; means ± standard error. "
            f"{n_tests} tests: smallest p = {p_min:.3g} (Bonferroni threshold 0.05/{n_tests} = "
            f"{summary['bonferroni_threshold']:.2g}); {summary['below_0.01']} below 0.01 "
            f"({summary['expected_below_0.01']:.2g} expected by chance if the distributions are equal): {verdict}.\n\n"
            f"{table}\n\n{args.note}\n\nFiles:\n\n{files}\n\n"
            "Multiplicities are discrete, for which the KS p-value is conservative (too large). tau21/tau32 of the "
            "stored constituents (beta = 1, R0 = 0.8, exclusive-kt axes); l1_* from the 16 L1 candidates, tower_* from "
            "the 16 towers of the trigger view.\n")
    write_text(out / f"generate_ks_{args.name}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
