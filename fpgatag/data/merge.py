"""``fpgatag merge``: join native shards into one file, without copying (HDF5 virtual datasets) or
with a copy (``copy=True``).

A virtual file stores each shard's path relative to its own folder, so the merged file and its
shards can be moved together; the shards must stay where the merged file expects them.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError
from fpgatag.data.io import NativeSource, NativeWriter, open_jets
from fpgatag.data import hls4ml
from fpgatag.data.lund import HOW_TO_ADD, LUND_COLUMNS, LUND_DTYPES, LUND_EDGE_COLUMNS, LUND_KEYS

log = logging.getLogger(__name__)


def _same_settings(a, b) -> bool:
    """Equal settings dicts, floats compared to 1e-12 relative (a value written as pi/720 by one
    writer and as its 17-digit decimal by another is the same setting)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_settings(a[k], b[k]) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        try:
            return bool(np.isclose(float(a), float(b), rtol=1e-12, atol=0.0))
        except (TypeError, ValueError):
            return False
    return a == b


def _check_compatible(sources: list[NativeSource]) -> None:
    first = sources[0]
    for s in sources:
        if not isinstance(s, NativeSource):
            raise FpgatagError(f"{s.path}: merge needs native fpgatag files, this is '{s.format}'")
    for s in sources[1:]:
        if s.classes != first.classes:
            raise FpgatagError(f"{s.path}: classes {s.classes} differ from {first.path}'s {first.classes}")
        if not _same_settings(s.attrs.get("views"), first.attrs.get("views")):
            raise FpgatagError(f"{s.path}: trigger-view settings ('views') differ from {first.path}'s")
        for key in schema.BATCH_KEYS:
            if s.ds[key].shape[1:] != first.ds[key].shape[1:]:
                raise FpgatagError(f"{s.path}: dataset /{schema.BATCH_KEYS[key]} has shape {s.ds[key].shape[1:]} "
                                   f"per jet, {first.path} has {first.ds[key].shape[1:]}")
    uids = np.concatenate([s.uids() for s in sources])
    uniq, counts = np.unique(uids, return_counts=True)
    if uniq.size != uids.size:
        dup = int(uniq[counts > 1][0])
        owners = [str(s.path) for s in sources if np.isin(dup, s.uids())]
        raise FpgatagError(f"{', '.join(owners)}: shards overlap (jet uid {dup} appears more than once)")


def _missing_shards(sources: list[NativeSource]) -> list[str]:
    """Shards ``i/N`` of the generate jobs present that are not among ``sources`` (a job is its seed,
    processes, jets per class and settings; a file generated without --shard is a whole job)."""
    jobs: dict[str, tuple[int, set[int]]] = {}
    for s in sources:
        gen = dict(s.attrs.get("generator") or {})
        shard = gen.pop("shard", None)
        if not shard:
            continue
        key = json.dumps({"seed": s.attrs.get("seed"), **gen}, sort_keys=True, default=str)
        n, seen = jobs.setdefault(key, (int(shard[1]), set()))
        seen.add(int(shard[0]))
    return [f"{i}/{n}" for n, seen in jobs.values() for i in range(n) if i not in seen]


def merge(output, shards: Sequence, copy: bool = False, allow_partial: bool = False) -> Path:
    """Merge native ``shards`` (in the given order) into ``output``; returns its path.

    Shards of a generate job must all be given (else FpgatagError naming the missing ones), unless
    ``allow_partial``: then the file's ``partial`` attribute and ``generator.missing_shards`` say so."""
    from fpgatag.core.io import atomic_path
    from fpgatag.core.provenance import provenance

    output = Path(output)
    if not shards:
        raise FpgatagError("merge: give at least one shard")
    paths = [Path(p) for p in shards]
    if any(p.resolve() == output.resolve() for p in paths):
        raise FpgatagError(f"{output}: the output is also one of the inputs")
    sources = []
    try:
        for p in paths:
            sources.append(open_jets(p))
        _check_compatible(sources)
        missing = _missing_shards(sources)
        if missing and not allow_partial:
            raise FpgatagError(f"shard(s) {', '.join(missing)} of the job are missing; give every shard, "
                               "or --allow-partial for a file that holds only part of the job")
        first = sources[0]
        attrs = {k: v for k, v in first.attrs.items() if k not in ("format", "schema_version", "n_jets")}
        gen = dict(attrs.get("generator") or {})
        gen["shard"] = None
        if missing:
            gen["missing_shards"] = missing
        attrs["generator"] = gen
        attrs["partial"] = bool(missing)
        attrs["merged_from"] = [str(p) for p in paths]
        attrs["n_events"] = int(sum(int(s.attrs.get("n_events", 0) or 0) for s in sources))
        attrs["provenance"] = provenance({"shards": [str(p) for p in paths], "copy": bool(copy)})
        total = sum(s.n_jets for s in sources)
        lund = _lund_nodes(sources)
        bench = _hls4ml_size(sources)
        if bench is None:
            attrs.pop("hls4ml", None)
        keys = [*schema.BATCH_KEYS, *(LUND_KEYS if lund is not None else ()), *(hls4ml.HLS4ML_KEYS if bench else ())]
        with atomic_path(output) as tmp:
            if copy:
                with NativeWriter(tmp, attrs, n_particles=first.ds["particles"].shape[1],
                                  n_towers=first.ds["towers"].shape[1],
                                  n_candidates=first.ds["candidates"].shape[1], n_lund=lund, n_hls4ml=bench) as w:
                    for s in sources:
                        for b in s.iter_batches(4096, keys=keys):
                            w.append(b)
            else:
                _write_virtual(tmp, output.parent, sources, attrs, total, lund is not None, bench is not None)
            os.chmod(tmp, 0o644)
    finally:
        for s in sources:
            s.close()
    log.info("merged %d shard(s), %d jets -> %s (%s)", len(paths), total, output, "copy" if copy else "virtual")
    return output


def _group_size(sources: list[NativeSource], flag: str, what: str, group: str, how: str, dataset: str,
                unit: str, option: str) -> int | None:
    """The size (``dataset``'s second axis) of optional group ``group`` shared by every shard, or None
    when no shard has it. Shards with and without it, or with different sizes, are refused: the merged
    file would silently lose it for some jets."""
    have = [s for s in sources if getattr(s, flag)]
    if not have:
        return None
    if len(have) != len(sources):
        bare = next(s for s in sources if not getattr(s, flag))
        raise FpgatagError(f"{bare.path}: this shard has no {what} (group /{group}) but others have; "
                           f"add them with `{how.replace('FILE', str(bare.path))}` or merge files without them")
    sizes = {s.ds[dataset].shape[1] for s in have}
    if len(sizes) > 1:
        raise FpgatagError(f"{sources[0].path}: shards hold {what} of different sizes ({sorted(sizes)} {unit}); "
                           f"rebuild them with the same {option}")
    return sizes.pop()


def _lund_nodes(sources: list[NativeSource]) -> int | None:
    """The Lund-tree size shared by every shard (the merged file keeps /lund), or None when no shard has trees."""
    return _group_size(sources, "has_lund", "Lund trees", "lund", HOW_TO_ADD, "lund", "nodes", "--lund-max-nodes")


def _hls4ml_size(sources: list[NativeSource]) -> int | None:
    """The benchmark inputs' constituent count shared by every shard (the merged file keeps /hls4ml), or None."""
    return _group_size(sources, "has_hls4ml", "benchmark inputs", hls4ml.HLS4ML_GROUP, hls4ml.HOW_TO_ADD,
                       "constituents_16", "constituents", "--hls4ml-constituents")


def _write_virtual(tmp: Path, out_dir: Path, sources: list[NativeSource], attrs: dict, total: int,
                   lund: bool = False, bench: bool = False) -> None:
    import h5py

    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = schema.FORMAT_NAME
        f.attrs["schema_version"] = schema.SCHEMA_VERSION
        for k, v in attrs.items():
            f.attrs[k] = json.dumps(v) if isinstance(v, (dict, list, tuple)) or v is None else v
        f.attrs["n_jets"] = total
        datasets = dict(schema.BATCH_KEYS, **(LUND_KEYS if lund else {}), **(hls4ml.HLS4ML_KEYS if bench else {}))
        for key, dpath in datasets.items():
            inner = sources[0].ds[key].shape[1:]
            layout = h5py.VirtualLayout(shape=(total, *inner),
                                        dtype={**schema.DTYPES, **LUND_DTYPES, **hls4ml.HLS4ML_DTYPES}[key])
            off = 0
            for s in sources:
                rel = os.path.relpath(s.path.resolve(), out_dir.resolve())
                n = s.n_jets
                if n:
                    layout[off:off + n] = h5py.VirtualSource(rel, dpath, shape=(n, *inner))
                off += n
            d = f.create_virtual_dataset(dpath, layout, fillvalue=0)
            cols = {**schema.COLUMNS, "lund": LUND_COLUMNS, "lund_edges": LUND_EDGE_COLUMNS}.get(key)
            if cols is not None:
                d.attrs["columns"] = json.dumps(list(cols))
            if key in hls4ml.HLS4ML_NAMES:
                d.attrs["names"] = json.dumps(list(hls4ml.HLS4ML_NAMES[key]))
