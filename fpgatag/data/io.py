"""Reading and writing jets in the fpgatag schema (see :mod:`fpgatag.core.schema`).

:func:`open_jets` opens a native fpgatag file or one of the public datasets (Top Quark Tagging
Reference Dataset, hls4ml LHC jet dataset, JetClass) and returns a :class:`JetSource`; every source
yields the same schema batches. Reads stream in batches and never load a whole file. Any problem
with the file (missing, truncated, not HDF5/ROOT, unknown layout, wrong columns) is a one-line
:class:`~fpgatag.core.errors.FpgatagError` naming the file and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError
from fpgatag.data import hls4ml
from fpgatag.data.lund import HOW_TO_ADD, LUND_COLUMNS, LUND_DTYPES, LUND_EDGE_COLUMNS, LUND_KEYS, LundSettings, lund_trees
from fpgatag.data.views import ViewSettings, compute_views

TRIGGER_KEYS = ("towers", "n_towers", "candidates", "n_candidates")
_ROWS_PER_CHUNK = 64


def _json_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


class NativeWriter:
    """Appends schema batches to a new native file (write it under ``atomic_path``)."""

    def __init__(self, path, attrs: dict[str, Any], n_particles: int = schema.MAX_PARTICLES,
                 n_towers: int = 16, n_candidates: int = 16, n_lund: int | None = None,
                 n_hls4ml: int | None = None):
        import h5py

        self.path = Path(path)
        self.f = h5py.File(self.path, "w")
        self.f.attrs["format"] = schema.FORMAT_NAME
        self.f.attrs["schema_version"] = schema.SCHEMA_VERSION
        for k, v in attrs.items():
            self.set_attr(k, v)
        inner = {
            "label": (), "uid": (), "jet": (len(schema.JET_COLUMNS),),
            "particles": (n_particles, len(schema.PARTICLE_COLUMNS)), "n_particles": (),
            "towers": (n_towers, len(schema.TOWER_COLUMNS)), "n_towers": (),
            "candidates": (n_candidates, len(schema.CANDIDATE_COLUMNS)), "n_candidates": (),
        }
        self.ds = {}
        for key, path_ in schema.BATCH_KEYS.items():
            shape = inner[key]
            d = self.f.create_dataset(path_, shape=(0, *shape), maxshape=(None, *shape),
                                      dtype=schema.DTYPES[key], chunks=(_ROWS_PER_CHUNK, *shape),
                                      compression="lzf", shuffle=len(shape) > 0)
            if key in schema.COLUMNS:
                d.attrs["columns"] = json.dumps(list(schema.COLUMNS[key]))
            self.ds[key] = d
        if n_lund is not None:  # optional group /lund (fpgatag.data.lund)
            for key, shape, cols in (("lund", (n_lund, len(LUND_COLUMNS)), LUND_COLUMNS),
                                     ("lund_edges", (n_lund, len(LUND_EDGE_COLUMNS)), LUND_EDGE_COLUMNS),
                                     ("n_lund", (), None)):
                d = self.f.create_dataset(LUND_KEYS[key], shape=(0, *shape), maxshape=(None, *shape),
                                          dtype=LUND_DTYPES[key], chunks=(_ROWS_PER_CHUNK, *shape),
                                          compression="lzf", shuffle=len(shape) > 0)
                if cols:
                    d.attrs["columns"] = json.dumps(list(cols))
                self.ds[key] = d
        if n_hls4ml is not None:  # optional group /hls4ml (fpgatag.data.hls4ml)
            self._add_hls4ml(int(n_hls4ml))
        self.n = 0

    def _add_hls4ml(self, n_const: int) -> None:
        for key, path_ in hls4ml.HLS4ML_KEYS.items():
            names = hls4ml.HLS4ML_NAMES.get(key)
            shape = () if names is None else (len(names),) if key == "jet_features" else (n_const, len(names))
            d = self.f.create_dataset(path_, shape=(0, *shape), maxshape=(None, *shape),
                                      dtype=hls4ml.HLS4ML_DTYPES[key], chunks=(_ROWS_PER_CHUNK, *shape),
                                      compression="lzf", shuffle=len(shape) > 0)
            if names:
                d.attrs["names"] = json.dumps(list(names))
            self.ds[key] = d

    def set_attr(self, key: str, value: Any) -> None:
        if isinstance(value, (dict, list, tuple)) or value is None:
            value = json.dumps(value, default=lambda o: o.item() if isinstance(o, np.generic) else str(o))
        self.f.attrs[key] = value

    def append(self, batch: dict[str, np.ndarray]) -> None:
        n = schema.check_batch(batch)
        for key, d in self.ds.items():
            d.resize(self.n + n, axis=0)
            d[self.n:self.n + n] = np.asarray(batch[key], dtype=d.dtype)
        self.n += n

    def close(self) -> None:
        self.f.attrs["n_jets"] = self.n
        self.f.close()

    def __enter__(self) -> "NativeWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.f.close() if exc[0] is not None else self.close()


def write_jets(path, batch: dict[str, np.ndarray], attrs: dict[str, Any]) -> Path:
    """Write one in-memory batch as a native file (atomically)."""
    from fpgatag.core.io import atomic_path

    with atomic_path(path) as tmp:
        with NativeWriter(tmp, attrs, n_particles=batch["particles"].shape[1],
                          n_towers=batch["towers"].shape[1], n_candidates=batch["candidates"].shape[1],
                          n_lund=batch["lund"].shape[1] if "lund" in batch else None,
                          n_hls4ml=batch["constituents_16"].shape[1] if "constituents_16" in batch else None) as w:
            w.append(batch)
    return Path(path)


# ----------------------------------------------------------------------------------------------


class JetSource:
    """A readable jet file. Subclasses implement ``_read(sel, keys)`` for a slice or index array."""

    format = "?"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.n_jets = 0
        self.classes: list[str] = []
        self.attrs: dict[str, Any] = {}
        self.view_settings = ViewSettings()

    # -- public API --
    def read(self, start: int = 0, stop: int | None = None, keys: Sequence[str] | None = None,
             indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
        keys = self._check_keys(keys)
        if indices is not None:
            idx = np.asarray(indices, dtype=np.int64)
            if idx.ndim != 1:
                raise FpgatagError(f"{self.path}: indices must be a 1-D array")
            if idx.size and (idx[0] < 0 or idx[-1] >= self.n_jets or np.any(np.diff(idx) <= 0)):
                raise FpgatagError(f"{self.path}: indices must be sorted, unique and in 0..{self.n_jets - 1}")
            return self._read_indices(idx, keys)
        start, stop = self._bounds(start, stop)
        return self._read_guarded(slice(start, stop), keys)

    def iter_batches(self, batch_size: int = 1024, start: int = 0, stop: int | None = None,
                     keys: Sequence[str] | None = None, indices: np.ndarray | None = None) -> Iterator[dict[str, np.ndarray]]:
        if batch_size < 1:
            raise FpgatagError(f"batch_size must be >= 1, got {batch_size}")
        if indices is not None:
            idx = np.asarray(indices, dtype=np.int64)
            for i in range(0, idx.size, batch_size):
                yield self.read(keys=keys, indices=idx[i:i + batch_size])
            return
        start, stop = self._bounds(start, stop)
        for i in range(start, stop, batch_size):
            yield self.read(i, min(i + batch_size, stop), keys=keys)

    def uids(self) -> np.ndarray:
        """The jets' uids; FpgatagError naming a uid that appears twice (uids key soft targets and splits)."""
        uids = self._column("uid")
        uniq, first, counts = np.unique(uids, return_index=True, return_counts=True)
        if uniq.size != uids.size:
            dup = int(uniq[np.argmax(counts > 1)])
            rows = np.flatnonzero(uids == dup)[:2].tolist()
            raise FpgatagError(f"{self.path}: dataset /{schema.BATCH_KEYS['uid']} holds jet uid {dup} more than once "
                               f"(jets {rows[0]} and {rows[1]}); uids must be unique")
        return uids

    def labels(self) -> np.ndarray:
        return self._column("label")

    def close(self) -> None:
        pass

    def __enter__(self) -> "JetSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_jets

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path} format={self.format} n_jets={self.n_jets} classes={self.classes}>"

    # -- helpers --
    def _column(self, key: str) -> np.ndarray:
        parts = [b[key] for b in self.iter_batches(65536, keys=[key])]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=schema.DTYPES[key])

    def _check_keys(self, keys) -> list[str]:
        if keys is None:
            return list(schema.BATCH_KEYS)
        keys = [keys] if isinstance(keys, str) else list(keys)
        known = [*schema.BATCH_KEYS, *LUND_KEYS, *hls4ml.HLS4ML_KEYS]
        bad = [k for k in keys if k not in known]
        if bad:
            raise FpgatagError(f"{self.path}: unknown batch key(s) {', '.join(bad)}; known: {', '.join(known)}")
        return keys

    def _bounds(self, start: int, stop: int | None) -> tuple[int, int]:
        stop = self.n_jets if stop is None else min(int(stop), self.n_jets)
        start = max(0, int(start))
        return start, max(start, stop)

    def _read_guarded(self, sel, keys):
        try:
            batch = self._read(sel, keys)
        except FpgatagError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise FpgatagError(f"{self.path}: cannot read jets (file truncated or corrupt?): "
                               f"{type(exc).__name__}: {exc}") from None
        self._check_values(batch, int(sel.start or 0))
        return batch

    def _check_values(self, batch: dict[str, np.ndarray], start: int) -> None:
        """Refuse nan/inf in any float array and labels outside the file's classes, naming the dataset
        and the first bad jet (its row in the file): every reader and every later stage see only
        finite numbers and valid labels."""
        for key, arr in batch.items():
            if arr.dtype.kind == "f" and arr.size:
                bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
                if bad.any():
                    row = start + int(np.argmax(bad))
                    raise FpgatagError(f"{self.path}: dataset /{schema.BATCH_KEYS.get(key, key)} holds nan or inf "
                                       f"(first at jet {row}, {int(bad.sum())} jet(s) in rows {start}.."
                                       f"{start + len(arr) - 1}); fix or drop those jets")
        labels = batch.get("label")
        if labels is not None and labels.size and self.classes:
            bad = (labels < 0) | (labels >= len(self.classes))
            if bad.any():
                i = int(np.argmax(bad))
                raise FpgatagError(f"{self.path}: dataset /{schema.BATCH_KEYS['label']} holds label {int(labels[i])} "
                                   f"at jet {start + i}, outside 0..{len(self.classes) - 1} (classes {self.classes})")

    def _read_indices(self, idx: np.ndarray, keys: list[str]) -> dict[str, np.ndarray]:
        """Read sorted indices by covering ranges in bounded blocks, then selecting rows."""
        if idx.size == 0:
            return self._read_guarded(slice(0, 0), keys)
        parts = []
        block = 4096
        i = 0
        while i < idx.size:
            lo = idx[i]
            j = int(np.searchsorted(idx, lo + block, side="left"))
            sub = idx[i:j]
            b = self._read_guarded(slice(int(lo), int(sub[-1]) + 1), keys)
            parts.append({k: v[sub - lo] for k, v in b.items()})
            i = j
        return {k: np.concatenate([p[k] for p in parts]) for k in keys}

    def _with_views(self, batch: dict[str, np.ndarray], keys: list[str]) -> dict[str, np.ndarray]:
        """Add trigger-view keys derived from the particles (public formats)."""
        if any(k in TRIGGER_KEYS for k in keys):
            batch.update(compute_views(batch["particles"], batch["n_particles"], batch["uid"], self.view_settings))
        if any(k in LUND_KEYS for k in keys):
            batch.update(lund_trees(batch["particles"], batch["n_particles"], LundSettings(
                max_nodes=max(int(batch["particles"].shape[1]) - 1, 1))))
        if any(k in hls4ml.HLS4ML_KEYS and k not in batch for k in keys):
            batch.update(hls4ml.hls4ml_inputs(batch))
        return {k: batch[k] for k in keys}


class NativeSource(JetSource):
    format = "native"

    def __init__(self, path: Path, f):
        super().__init__(path)
        self.f = f
        try:
            self.attrs = {k: _json_attr(v) for k, v in f.attrs.items()}
            version = int(self.attrs.get("schema_version", -1))
            if version not in schema.READABLE_SCHEMA_VERSIONS:
                raise FpgatagError(f"{path}: schema_version {version} is not supported (readable: "
                                   f"{', '.join(map(str, schema.READABLE_SCHEMA_VERSIONS))})")
            self.ds = {}
            for key, p in schema.BATCH_KEYS.items():
                if p not in f:
                    raise FpgatagError(f"{path}: dataset /{p} ({key}) is missing")
                d = f[p]
                if key in schema.COLUMNS:
                    cols = _json_attr(d.attrs.get("columns", "null"))
                    if list(cols or []) != list(schema.COLUMNS[key]):
                        raise FpgatagError(f"{path}: dataset /{p} has columns {cols}, expected {list(schema.COLUMNS[key])}")
                    ndim = 2 if key == "jet" else 3
                    if d.ndim != ndim or d.shape[-1] != len(schema.COLUMNS[key]):
                        raise FpgatagError(f"{path}: dataset /{p} has shape {d.shape}, expected {ndim} dimensions "
                                           f"with {len(schema.COLUMNS[key])} columns last (its 'columns' attribute)")
                elif d.ndim != 1:
                    raise FpgatagError(f"{path}: dataset /{p} has shape {d.shape}, expected one value per jet")
                self.ds[key] = d
            self._open_lund()
            self._open_hls4ml()
            self._check_virtual_sources()
            n = {d.shape[0] for d in self.ds.values()}
            if len(n) != 1:
                raise FpgatagError(f"{path}: datasets have different lengths {sorted(n)}")
            self.n_jets = n.pop()
            classes = self.attrs.get("classes")
            if not isinstance(classes, list) or not classes:
                raise FpgatagError(f"{path}: attribute 'classes' is missing or not a JSON list")
            self.classes = [str(c) for c in classes]
            self.view_settings = ViewSettings.from_dict(self.attrs.get("views") or {}, f"{path}: attribute 'views'")
        except BaseException:
            f.close()
            raise

    def _check_virtual_sources(self) -> None:
        """A merged (virtual) file reads zeros where a shard is missing: refuse that instead."""
        d = self.ds["label"]
        if not d.is_virtual:
            return
        for vs in d.virtual_sources():
            src = Path(vs.file_name)
            where = src if src.is_absolute() else self.path.parent / src
            if vs.file_name != "." and not where.exists():
                raise FpgatagError(f"{self.path}: shard file {vs.file_name} of this merged file is missing "
                                   f"(looked for {where})")

    def _open_lund(self) -> None:
        """Add the optional Lund-tree group /lund (fpgatag.data.lund) when the file has one."""
        if "lund" not in self.f:
            return
        for key, p in LUND_KEYS.items():
            if p not in self.f:
                raise FpgatagError(f"{self.path}: dataset /{p} ({key}) of the Lund-tree group is missing")
            d = self.f[p]
            want = {"lund": LUND_COLUMNS, "lund_edges": LUND_EDGE_COLUMNS}.get(key)
            cols = _json_attr(d.attrs.get("columns", "null"))
            if want and (list(cols or []) != list(want) or d.shape[-1] != len(want)):
                raise FpgatagError(f"{self.path}: dataset /{p} has columns {cols}, expected {list(want)}")
            self.ds[key] = d

    def _open_hls4ml(self) -> None:
        """Add the optional benchmark-input group /hls4ml (fpgatag.data.hls4ml) when the file has one."""
        if hls4ml.HLS4ML_GROUP not in self.f:
            return
        for key, p in hls4ml.HLS4ML_KEYS.items():
            if p not in self.f:
                raise FpgatagError(f"{self.path}: dataset /{p} ({key}) of the benchmark-input group is missing")
            d = self.f[p]
            want = hls4ml.HLS4ML_NAMES.get(key)
            names = _json_attr(d.attrs.get("names", "null"))
            if want and (list(names or []) != list(want) or d.shape[-1] != len(want)):
                raise FpgatagError(f"{self.path}: dataset /{p} has names {names}, expected {list(want)}")
            self.ds[key] = d

    @property
    def has_lund(self) -> bool:
        return "lund" in self.ds

    @property
    def has_hls4ml(self) -> bool:
        return "constituents_16" in self.ds

    def _read(self, sel: slice, keys):
        if not self.has_lund and any(k in LUND_KEYS for k in keys):
            raise FpgatagError(f"{self.path}: no Lund trees (group /lund is missing); add them with "
                               f"`{HOW_TO_ADD.replace('FILE', str(self.path))}`")
        if not self.has_hls4ml and any(k in hls4ml.HLS4ML_KEYS for k in keys):
            raise FpgatagError(f"{self.path}: no benchmark inputs (group /{hls4ml.HLS4ML_GROUP} is missing); add them "
                               f"with `{hls4ml.HOW_TO_ADD.replace('FILE', str(self.path))}`")
        return {k: self.ds[k][sel] for k in keys}

    def close(self) -> None:
        try:
            self.f.close()
        except Exception:  # already closed
            pass


def referenced_files(path: str | os.PathLike) -> list[Path]:
    """``path`` and, for a merged (virtual) HDF5 file, the shard files it reads from: all the files an
    output must never replace while ``path`` is an input."""
    path = Path(path)
    files = [path]
    try:
        import h5py

        if not path.is_file() or not h5py.is_hdf5(str(path)):
            return files
        with h5py.File(path, "r") as f:
            d = f.get(schema.BATCH_KEYS["label"])
            if d is not None and d.is_virtual:
                for vs in d.virtual_sources():
                    if vs.file_name != ".":
                        src = Path(vs.file_name)
                        files.append(src if src.is_absolute() else path.parent / src)
    except (OSError, ValueError):
        pass
    return files


def _sniff(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(8)


def open_jets(path) -> JetSource:
    """Open a jet file of any supported format (auto-detected)."""
    import h5py

    path = Path(path)
    if not path.exists():
        raise FpgatagError(f"{path}: file not found")
    if path.is_dir():
        raise FpgatagError(f"{path}: is a directory, expected a jet file")
    try:
        head = _sniff(path)
    except OSError as exc:
        raise FpgatagError(f"{path}: cannot read ({exc.strerror})") from None
    if head[:4] == b"root":
        from fpgatag.data.readers import JetClassSource

        return JetClassSource(path)
    if not h5py.is_hdf5(str(path)):
        if path.stat().st_size == 0:
            raise FpgatagError(f"{path}: file is empty, expected an HDF5 or ROOT jet file")
        raise FpgatagError(f"{path}: not an HDF5 or ROOT file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FpgatagError(f"{path}: cannot open HDF5 file (truncated or corrupt?): {exc}") from None
    try:
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt == schema.FORMAT_NAME:
            return NativeSource(path, f)
        from fpgatag.data import readers

        if "table" in f:
            return readers.TopTaggingSource(path, f)
        if "jetConstituentList" in f or "jets" in f:
            return readers.Hls4mlSource(path, f)
    except BaseException:
        f.close()
        raise
    keys = ", ".join(sorted(f.keys())[:8]) or "none"
    f.close()
    raise FpgatagError(f"{path}: HDF5 file of unknown layout (top-level keys: {keys}); expected an fpgatag file "
                       "(attribute format='fpgatag'), a Top Tagging file (key 'table') or an hls4ml file "
                       "('jetConstituentList', 'jets')")
