"""``fpgatag inspect``: what a jet file holds, per class (streams, so it works on any size)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fpgatag.core import schema
from fpgatag.data.io import open_jets

_MASS = schema.col("jet", "mass")


def summarize(path, batch_size: int = 8192) -> dict[str, Any]:
    """``{"format", "n_jets", "classes": {name: {"n", "median_mass", "mean_n_particles",
    "mean_n_trigger"}}}``; ``mean_n_trigger`` is the mean number of trigger towers (after the
    threshold; the number of L1 candidates is min(particles, N) and says little)."""
    with open_jets(path) as src:
        k = len(src.classes)
        masses: list[list[np.ndarray]] = [[] for _ in range(k)]
        n = np.zeros(k, dtype=np.int64)
        sum_p = np.zeros(k)
        sum_t = np.zeros(k)
        src.uids()  # refuses a file whose uids repeat
        for b in src.iter_batches(batch_size, keys=["label", "jet", "n_particles", "n_towers"]):
            lab = b["label"].astype(np.int64)
            n += np.bincount(lab, minlength=k)[:k]
            sum_p += np.bincount(lab, weights=b["n_particles"], minlength=k)[:k]
            sum_t += np.bincount(lab, weights=b["n_towers"], minlength=k)[:k]
            for c in range(k):
                masses[c].append(b["jet"][lab == c, _MASS])
        classes = {}
        for c, name in enumerate(src.classes):
            m = np.concatenate(masses[c]) if masses[c] else np.zeros(0)
            classes[name] = {
                "n": int(n[c]),
                "median_mass": float(np.median(m)) if m.size else None,
                "mean_n_particles": float(sum_p[c] / n[c]) if n[c] else None,
                "mean_n_trigger": float(sum_t[c] / n[c]) if n[c] else None,
            }
        return {"format": src.format, "n_jets": int(src.n_jets), "classes": classes}


def format_summary(summary: dict[str, Any]) -> str:
    """A readable table of :func:`summarize`'s result."""
    from fpgatag.core.metrics import format_table

    cols = ["class", "jets", "median mass [GeV]", "mean particles", "mean towers"]
    rows = []
    for name, c in summary["classes"].items():
        rows.append(dict(zip(cols, [name, c["n"], c["median_mass"], c["mean_n_particles"], c["mean_n_trigger"]])))
    head = f"format: {summary['format']}\njets:   {summary['n_jets']}\n"
    return head + format_table(rows, cols, floatfmt=".1f")
