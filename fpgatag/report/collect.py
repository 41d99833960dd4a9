"""Collect run artifacts (metrics.json, estimate.json, validate.json) into records.

A *run* is a directory holding ``metrics.json`` (a trained teacher or student). Firmware artifacts
(``estimate.json`` from ``fpgatag synth``, ``validate.json`` from ``fpgatag validate``) belong to the
run of the model they were made from: the model directory they record, or else the nearest
enclosing run directory. Artifacts that belong to no run become records of their own, so a report
on a bare HLS project still renders.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.npz"  # test-split uid, label, probs written by every training run

# Published reference figures (measured on the Top Quark Tagging Reference Dataset, not by fpgatag).
PUBLISHED = {
    "particlenet": {"accuracy": 0.940, "auc": 0.9858, "rejection_at_50": 397.0, "rejection_at_30": 1615.0,
                    "source": "Qu & Gouskos, arXiv:1902.08570, Table 2"},
    "particlenet-lite": {"accuracy": 0.937, "auc": 0.9844, "rejection_at_50": 325.0, "rejection_at_30": 1262.0,
                         "source": "Qu & Gouskos, arXiv:1902.08570, Table 2"},
}


@dataclasses.dataclass
class RunRecord:
    path: Path
    name: str
    metrics: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    estimate: dict[str, Any] | None = None
    estimate_path: Path | None = None
    validate: dict[str, Any] | None = None

    @property
    def role(self) -> str:
        for source in (self.metrics or {}, self.run or {}):
            role = source.get("role")
            if role:
                return str(role)
        if self.metrics is not None and any(k in self.metrics for k in ("student", "bits")):
            return "student"
        if self.metrics is None and self.estimate is not None:
            return "firmware"
        return "teacher" if self.metrics is not None else "unknown"

    @property
    def model_name(self) -> str | None:
        for source in (self.metrics or {}, self.run or {}):
            for key in ("model", "student", "name"):
                if isinstance(source.get(key), str):
                    return source[key]
        return None

    @property
    def distilled(self) -> bool | None:
        if self.role != "student":
            return None
        m = {**(self.run or {}), **(self.metrics or {})}
        if "distilled" in m:
            return bool(m["distilled"])
        return bool(m.get("teacher") or m.get("teacher_dir"))

    def predictions(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(labels, probs) on the test split, if the run saved them."""
        path = self.path / PREDICTIONS
        if not path.is_file():
            return None
        with np.load(path) as z:
            return z["label"], z["probs"]

    def missing(self) -> list[str]:
        out = []
        if self.metrics is None:
            out.append("metrics.json")
        if self.role == "student":
            if self.estimate is None:
                out.append("estimate.json (run `fpgatag synth`)")
            if self.validate is None:
                out.append("validate.json (run `fpgatag validate`)")
        return out


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        log.warning("%s: skipped, not readable JSON (%s)", path, exc)
        return None
    if not isinstance(data, dict):
        log.warning("%s: skipped, not a JSON object", path)
        return None
    return data


def _owner(path: Path, data: dict[str, Any], runs: dict[Path, RunRecord]) -> RunRecord | None:
    for key in ("model_dir", "model"):
        ref = data.get(key)
        if isinstance(ref, str):
            p = Path(ref)
            p = p if p.is_dir() else p.parent
            p = p.resolve()
            if p in runs:
                return runs[p]
    for parent in path.resolve().parents:
        if parent in runs:
            return runs[parent]
    return None


def collect(paths: list[str | Path]) -> list[RunRecord]:
    """All run records under ``paths`` (directories searched recursively)."""
    files: dict[str, list[Path]] = {"metrics.json": [], "estimate.json": [], "validate.json": []}
    for p in map(Path, paths):
        if not p.exists():
            raise FpgatagError(f"{p}: no such run directory")
        for name in files:
            if p.is_file():
                if p.name == name:
                    files[name].append(p)
            else:
                files[name].extend(sorted(p.rglob(name)))
    runs: dict[Path, RunRecord] = {}
    for mpath in files["metrics.json"]:
        d = mpath.parent.resolve()
        if d in runs:
            continue
        rec = RunRecord(path=d, name=d.name, metrics=_read(mpath))
        if (d / "run.json").is_file():
            rec.run = _read(d / "run.json")
        runs[d] = rec
    extra: list[RunRecord] = []
    estimates: dict[int, list[tuple[Path, dict[str, Any]]]] = {}
    for kind in ("validate", "estimate"):
        for fpath in files[f"{kind}.json"]:
            data = _read(fpath)
            if data is None:
                continue
            owner = _owner(fpath, data, runs)
            if owner is None:
                here = fpath.parent.resolve()
                owner = next((r for r in extra if r.path == here), None)
                if owner is None:
                    owner = RunRecord(path=here, name=here.name)
                    extra.append(owner)
            if kind == "validate":
                owner.validate = data
            else:
                estimates.setdefault(id(owner), []).append((fpath, data))
    records: list[RunRecord] = []
    for owner in list(runs.values()) + extra:
        found = estimates.get(id(owner), [])
        if len(found) <= 1:
            if found:
                owner.estimate_path, owner.estimate = found[0]
            records.append(owner)
            continue
        # several firmware variants of one model (reuse factors, parts): one record each
        for fpath, data in found:
            variant = dataclasses.replace(owner, name=f"{owner.name}/{fpath.parent.name}", estimate=data, estimate_path=fpath)
            records.append(variant)
    # stable, readable order: teachers first, then students, then bare firmware
    order = {"teacher": 0, "student": 1, "firmware": 2}
    records.sort(key=lambda r: (order.get(r.role, 3), str(r.path)))
    # disambiguate equal names
    seen: dict[str, int] = {}
    for r in records:
        seen[r.name] = seen.get(r.name, 0) + 1
    for r in records:
        if seen[r.name] > 1:
            r.name = f"{r.path.parent.name}/{r.name}"
    return records
