"""Readers for the public jet datasets, yielding fpgatag schema batches.

* Top Quark Tagging Reference Dataset (Zenodo 2603256): a pandas DataFrame under HDF5 key ``table``
  with columns ``E_i, PX_i, PY_i, PZ_i`` (i < 200), ``truthE/PX/PY/PZ``, ``ttv``, ``is_signal_new``.
  Classes ``qcd``, ``top``. No particle identification: charge and pdgid are 0.
* hls4ml LHC jet dataset (Zenodo 3602260, 150-particle files): ``jetConstituentList`` (n, P, C) with
  ``particleFeatureNames`` (the real files list one more name than there are columns, the last,
  ``j1_pdgid``, has no column), ``jets`` with ``jetFeatureNames`` holding the one-hot labels
  ``j_g, j_q, j_w, j_z, j_t``. Classes ``gluon, quark, w, z, top``. No particle identification.
* JetClass (Zenodo 6619768, ROOT): tree ``tree`` with jagged ``part_*`` branches (px, py, pz,
  energy, charge, isChargedHadron, isNeutralHadron, isPhoton, isElectron, isMuon), ``jet_*`` and
  one-hot ``label_*`` branches. The particle type flags become representative PDG ids.

Jet kinematics are the four-vector sum of the constituents, particles are re-sorted by pT and
truncated/padded to 200, the uid is the row number, and the trigger view is derived on the fly
with the default :class:`~fpgatag.data.views.ViewSettings` (the same code as the generator).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError
from fpgatag.data import hls4ml
from fpgatag.data.io import JetSource

_ANY = ("particles", "n_particles", "jet")


def _decode(names) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(names).ravel().tolist()]


def from_four_vectors(e, px, py, pz, charge=None, pdgid=None, max_particles: int = schema.MAX_PARTICLES):
    """Padded (B, C) constituent arrays (zero E = padding) -> particles (B, max_particles, 9),
    n_particles and jet kinematics (four-vector sum)."""
    e, px, py, pz = (np.asarray(a, dtype=np.float64) for a in (e, px, py, pz))
    b, c = e.shape
    charge = np.zeros_like(e) if charge is None else np.asarray(charge, dtype=np.float64)
    pdgid = np.zeros_like(e) if pdgid is None else np.asarray(pdgid, dtype=np.float64)
    valid = e > 0
    pt = np.where(valid, np.hypot(px, py), 0.0)
    eta = np.where(valid, np.arcsinh(np.divide(pz, pt, out=np.zeros_like(pz), where=pt > 0)), 0.0)
    phi = np.where(valid, np.arctan2(py, px), 0.0)
    order = np.argsort(np.where(valid, -pt, np.inf), axis=1, kind="stable")
    cols = np.stack([pt, eta, phi, e, px, py, pz, charge, pdgid], axis=-1)
    cols = np.where(valid[..., None], cols, 0.0)
    cols = np.take_along_axis(cols, order[..., None], axis=1)
    n = valid.sum(axis=1)
    out = np.zeros((b, max_particles, cols.shape[-1]), dtype=np.float32)
    k = min(c, max_particles)
    out[:, :k] = cols[:, :k]
    # jet: sum of all constituents (before truncation)
    jpx, jpy, jpz, je = (np.where(valid, a, 0.0).sum(axis=1) for a in (px, py, pz, e))
    jpt = np.hypot(jpx, jpy)
    jeta = np.arcsinh(np.divide(jpz, jpt, out=np.zeros_like(jpz), where=jpt > 0))
    jm = np.sqrt(np.maximum(je ** 2 - jpx ** 2 - jpy ** 2 - jpz ** 2, 0.0))
    jet = np.stack([jpt, jeta, np.arctan2(jpy, jpx), jm, je], axis=1).astype(np.float32)
    return out, np.minimum(n, max_particles).astype(np.int16), jet


class _H5Source(JetSource):
    def __init__(self, path: Path, f):
        super().__init__(path)
        self.f = f

    def close(self) -> None:
        try:
            self.f.close()
        except Exception:
            pass

    def _fail(self, msg: str):
        self.close()
        raise FpgatagError(f"{self.path}: {msg}")


class TopTaggingSource(_H5Source):
    format = "toptagging"

    def __init__(self, path: Path, f):
        super().__init__(path, f)
        import h5py

        g = f["table"]
        self.attrs = {"dataset": "Top Quark Tagging Reference Dataset (Zenodo 2603256)"}
        self.classes = ["qcd", "top"]
        if isinstance(g, h5py.Group) and "block0_items" in g:  # pandas 'fixed' format
            self.columns: dict[str, tuple[int, int]] = {}
            k = 0
            while f"block{k}_items" in g:
                for j, name in enumerate(_decode(g[f"block{k}_items"][()])):
                    self.columns[name] = (k, j)
                k += 1
            self.blocks = [g[f"block{i}_values"] for i in range(k)]
            self.n_jets = int(self.blocks[0].shape[0]) if self.blocks else 0
            self.table = None
        elif isinstance(g, h5py.Group) and "table" in g:  # pandas 'table' format
            self.table = g["table"]
            self.n_jets = int(self.table.shape[0])
            import pandas as pd

            head = pd.read_hdf(self.path, "table", start=0, stop=1)
            self.columns = {c: (0, i) for i, c in enumerate(head.columns)}
        else:
            self._fail("key 'table' is not a pandas DataFrame (Top Tagging layout expected)")
        n_const = 0
        while all(f"{c}_{n_const}" in self.columns for c in ("E", "PX", "PY", "PZ")):
            n_const += 1
        if n_const == 0:
            self._fail("column 'E_0' (or PX_0/PY_0/PZ_0) is missing: not the Top Tagging layout")
        if "is_signal_new" not in self.columns:
            self._fail("column 'is_signal_new' is missing: not the Top Tagging layout")
        self.n_const = n_const

    def _frame_rows(self, sel: slice, names: list[str]) -> dict[str, np.ndarray]:
        if self.table is not None:
            import pandas as pd

            df = pd.read_hdf(self.path, "table", start=sel.start, stop=sel.stop)
            return {n: df[n].to_numpy() for n in names}
        out = {}
        cache: dict[int, np.ndarray] = {}
        for n in names:
            k, j = self.columns[n]
            if k not in cache:
                cache[k] = self.blocks[k][sel]
            out[n] = cache[k][:, j]
        return out

    def _read(self, sel: slice, keys):
        need_parts = any(k not in ("label", "uid") for k in keys)
        names = ["is_signal_new"]
        if need_parts:
            names += [f"{c}_{i}" for c in ("E", "PX", "PY", "PZ") for i in range(self.n_const)]
        cols = self._frame_rows(sel, names)
        n = sel.stop - sel.start
        batch = {"label": cols["is_signal_new"].astype(np.int8), "uid": np.arange(sel.start, sel.stop, dtype=np.int64)}
        if need_parts:
            stack = {c: np.stack([cols[f"{c}_{i}"] for i in range(self.n_const)], axis=1) for c in ("E", "PX", "PY", "PZ")}
            batch["particles"], batch["n_particles"], batch["jet"] = from_four_vectors(
                stack["E"], stack["PX"], stack["PY"], stack["PZ"])
        assert len(batch["label"]) == n
        return self._with_views(batch, keys)


HLS4ML_LABELS = {"j_g": "gluon", "j_q": "quark", "j_w": "w", "j_z": "z", "j_t": "top"}


class Hls4mlSource(_H5Source):
    format = "hls4ml"

    def __init__(self, path: Path, f):
        super().__init__(path, f)
        for key in ("jetConstituentList", "jets", "jetFeatureNames", "particleFeatureNames"):
            if key not in f:
                self._fail(f"dataset '{key}' is missing (hls4ml LHC jet dataset layout expected)")
        self.parts = f["jetConstituentList"]
        self.jets = f["jets"]
        if self.parts.ndim != 3 or self.jets.ndim != 2:
            self._fail("'jetConstituentList' must be (n, particles, features) and 'jets' (n, features)")
        pnames = _decode(f["particleFeatureNames"][()])[: self.parts.shape[2]]
        jnames = _decode(f["jetFeatureNames"][()])[: self.jets.shape[1]]
        for name in ("j1_px", "j1_py", "j1_pz", "j1_e"):
            if name not in pnames:
                self._fail(f"particle feature '{name}' is missing from particleFeatureNames")
        missing = [n for n in HLS4ML_LABELS if n not in jnames]
        if missing:
            self._fail(f"label column '{missing[0]}' is missing from jetFeatureNames")
        if self.parts.shape[0] != self.jets.shape[0]:
            self._fail(f"'jetConstituentList' has {self.parts.shape[0]} jets but 'jets' has {self.jets.shape[0]}")
        self.pcol = {n: pnames.index(n) for n in ("j1_px", "j1_py", "j1_pz", "j1_e")}
        self.lcols = [jnames.index(n) for n in HLS4ML_LABELS]
        # the benchmark inputs come from the file's own columns (None: the name that is missing)
        self.c16 = [pnames.index(n) for n in hls4ml.CONSTITUENT_16] if set(hls4ml.CONSTITUENT_16) <= set(pnames) \
            else next(n for n in hls4ml.CONSTITUENT_16 if n not in pnames)
        self.jcols = [jnames.index(n) for n in hls4ml.JET_FEATURES] if set(hls4ml.JET_FEATURES) <= set(jnames) \
            else next(n for n in hls4ml.JET_FEATURES if n not in jnames)
        self.n_jets = int(self.jets.shape[0])
        self.classes = list(HLS4ML_LABELS.values())
        self.attrs = {"dataset": "hls4ml LHC jet dataset (Zenodo 3602260)"}

    def _read(self, sel: slice, keys):
        jets = self.jets[sel]
        batch = {"label": np.argmax(jets[:, self.lcols], axis=1).astype(np.int8),
                 "uid": np.arange(sel.start, sel.stop, dtype=np.int64)}
        if any(k not in ("label", "uid") for k in keys):
            p = self.parts[sel]
            batch["particles"], batch["n_particles"], batch["jet"] = from_four_vectors(
                p[..., self.pcol["j1_e"]], p[..., self.pcol["j1_px"]], p[..., self.pcol["j1_py"]], p[..., self.pcol["j1_pz"]])
            if any(k in hls4ml.HLS4ML_KEYS for k in keys):
                batch.update(self._benchmark_inputs(p, jets, keys))
        return self._with_views(batch, keys)

    def _benchmark_inputs(self, p: np.ndarray, jets: np.ndarray, keys) -> dict[str, np.ndarray]:
        """The benchmark inputs as the file stores them: its constituent columns (re-sorted by pT, padding
        last) and its jet-feature columns."""
        out = {}
        if any(k in ("constituents_3", "constituents_16", "n_constituents") for k in keys):
            if isinstance(self.c16, str):
                raise FpgatagError(f"{self.path}: particle feature '{self.c16}' is missing from particleFeatureNames "
                                   "(needed for the benchmark's constituent features)")
            real = p[..., self.pcol["j1_e"]] > 0
            pt = p[..., self.c16[hls4ml.CONSTITUENT_16.index("j1_pt")]]
            order = np.argsort(np.where(real, -pt, np.inf), axis=1, kind="stable")
            c16 = np.where(real[..., None], p[..., self.c16], 0.0)
            c16 = np.take_along_axis(c16, order[..., None], axis=1).astype(np.float32)
            out.update(constituents_16=c16, constituents_3=hls4ml.three_features(c16),
                       n_constituents=real.sum(axis=1).astype(np.int16))
        if "jet_features" in keys:
            if isinstance(self.jcols, str):
                raise FpgatagError(f"{self.path}: jet feature '{self.jcols}' is missing from jetFeatureNames "
                                   "(needed for the benchmark's jet features)")
            out["jet_features"] = np.asarray(jets[:, self.jcols], dtype=np.float32)
        return out


JETCLASS_NAMES = {"QCD": "qcd", "Tbqq": "top", "Wqq": "w", "Zqq": "z"}
_JC_PARTS = ("part_px", "part_py", "part_pz", "part_energy", "part_charge", "part_isChargedHadron",
             "part_isNeutralHadron", "part_isPhoton", "part_isElectron", "part_isMuon")


class JetClassSource(JetSource):
    format = "jetclass"

    def __init__(self, path: Path):
        super().__init__(path)
        import uproot

        try:
            self.file = uproot.open(path)
        except Exception as exc:  # uproot raises several types for a broken file
            raise FpgatagError(f"{path}: cannot open ROOT file (truncated or corrupt?): {type(exc).__name__}: {exc}") from None
        try:
            if "tree" not in self.file:
                raise FpgatagError(f"{path}: ROOT file has no TTree 'tree' (JetClass layout expected)")
            self.tree = self.file["tree"]
            branches = set(self.tree.keys())
            for name in _JC_PARTS:
                if name not in branches:
                    raise FpgatagError(f"{path}: branch '{name}' is missing (JetClass layout expected)")
            self.label_branches = [b for b in self.tree.keys() if b.startswith("label_")]
            if not self.label_branches:
                raise FpgatagError(f"{path}: no 'label_*' branches (JetClass layout expected)")
        except BaseException:
            self.file.close()
            raise
        self.classes = [JETCLASS_NAMES.get(b[6:], b[6:].lower()) for b in self.label_branches]
        self.n_jets = int(self.tree.num_entries)
        self.attrs = {"dataset": "JetClass (Zenodo 6619768)"}

    def close(self) -> None:
        self.file.close()

    def _read_guarded(self, sel, keys):
        try:
            batch = self._read(sel, keys)
        except FpgatagError:
            raise
        except Exception as exc:  # uproot has many error types for damaged files
            raise FpgatagError(f"{self.path}: cannot read jets (file truncated or corrupt?): "
                               f"{type(exc).__name__}: {exc}") from None
        self._check_values(batch, int(sel.start or 0))
        return batch

    def _read(self, sel: slice, keys):
        import awkward as ak

        need_parts = any(k not in ("label", "uid") for k in keys)
        branches = list(self.label_branches) + (list(_JC_PARTS) if need_parts else [])
        arr = self.tree.arrays(branches, entry_start=sel.start, entry_stop=sel.stop, library="ak")
        labels = np.stack([ak.to_numpy(arr[b]).astype(np.float64) for b in self.label_branches], axis=1)
        batch = {"label": np.argmax(labels, axis=1).astype(np.int8) if len(labels) else np.zeros(0, np.int8),
                 "uid": np.arange(sel.start, sel.stop, dtype=np.int64)}
        if need_parts:
            width = max(int(ak.max(ak.num(arr["part_energy"]), initial=0)), 1)

            def pad(name):
                return ak.to_numpy(ak.fill_none(ak.pad_none(arr[name], width, clip=True), 0.0)).astype(np.float64)

            p = {name: pad(name) for name in _JC_PARTS}
            pdg = (11 * p["part_isElectron"] + 13 * p["part_isMuon"] + 22 * p["part_isPhoton"]
                   + 211 * p["part_isChargedHadron"] + 130 * p["part_isNeutralHadron"])
            batch["particles"], batch["n_particles"], batch["jet"] = from_four_vectors(
                p["part_energy"], p["part_px"], p["part_py"], p["part_pz"], p["part_charge"], pdg)
        return self._with_views(batch, keys)
