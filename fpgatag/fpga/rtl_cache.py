"""da4ml's constant-matrix solutions kept on disk, keyed by a hash of everything the solver reads.

``da4ml.cmvm.api.solve`` turns a constant matrix into an adder graph. A rerun on the same weights
(another clock period, another output directory, the same student in a benchmark or a test) asks
it the same questions; each answer is stored as da4ml's own JSON (``Pipeline.save``) under
``$FPGATAG_CMVM_CACHE`` (default ``~/.cache/fpgatag/cmvm``; ``off`` disables it) and read back with
``Pipeline.load``. A hit also skips building numba's typed argument lists, which numba compiles
afresh in every process. The key is the SHA-256 of da4ml's version, the matrix (dtype, shape,
bytes), the input intervals and latencies and the solver options; an unreadable entry is solved
again and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    env = os.environ.get("FPGATAG_CMVM_CACHE")
    if env is not None and env.strip().lower() in ("off", "0", "none", ""):
        return None
    return Path(env) if env else Path.home() / ".cache" / "fpgatag" / "cmvm"


def solution_key(mat: np.ndarray, qintervals: Sequence[tuple], latencies: Sequence[float], options: dict[str, Any]) -> str:
    from fpgatag.fpga.rtl import da4ml_version

    h = hashlib.sha256()
    head = {"da4ml": da4ml_version(), "dtype": str(mat.dtype), "shape": list(mat.shape),
            "qintervals": [[float(x) for x in q] for q in qintervals], "latencies": [float(x) for x in latencies],
            "options": {k: options[k] for k in sorted(options)}}
    h.update(json.dumps(head, sort_keys=True).encode())
    h.update(np.ascontiguousarray(mat).tobytes())
    return h.hexdigest()


def solve_cached(mat: np.ndarray, qintervals: list, latencies: list, options: dict[str, Any]):
    """``da4ml.cmvm.api.solve(mat, qintervals=..., latencies=..., **options)``, from disk when solved before."""
    from da4ml.cmvm.types import Pipeline

    d = cache_dir()
    path = d / f"{solution_key(mat, qintervals, latencies, options)}.json" if d is not None else None
    if path is not None and path.is_file():
        try:
            return Pipeline.load(path)
        except (OSError, ValueError, TypeError, IndexError, KeyError, AssertionError) as exc:
            log.warning("%s: unreadable cached solution (%s); solving again", path, exc)
    sol = _solve(mat, qintervals, latencies, options)
    if path is not None:
        _store(sol, path)
    return sol


def _solve(mat, qintervals, latencies, options):
    from da4ml.cmvm.api import solve
    from numba.typed import List as NumbaList

    return solve(mat, qintervals=NumbaList(qintervals), latencies=NumbaList(latencies), **options)


def _store(sol, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sol.save(tmp)
        os.replace(tmp, path)
    except OSError as exc:   # a read-only or full cache directory costs the next run a solve, nothing else
        log.warning("%s: solution not cached (%s)", path, exc)
        tmp.unlink(missing_ok=True)
