"""The fpgatag jet schema: one layout on disk (HDF5) and in memory (a dict of numpy arrays).

Every reader (native files, the Top Quark Tagging Reference Dataset, the hls4ml LHC jet dataset,
JetClass) yields batches with exactly these keys, so later stages never care where jets came from.

On disk (``format = "fpgatag"``, ``schema_version = 2``; version 1 files are read as well)::

    /                       attrs: format, schema_version, classes (JSON list), generator (JSON),
                                   views (JSON), seed, provenance (JSON)
    /jets/label             int8   (n,)         class index into ``classes``
    /jets/uid               int64  (n,)         unique, deterministic jet id (keys soft targets), see UID_BITS
    /jets/kin               float32 (n, 5)      JET_COLUMNS
    /particles/data         float32 (n, P, 9)   PARTICLE_COLUMNS, pT ordered, zero padded (P <= 200)
    /particles/n            int16  (n,)         number of real particles
    /trigger/towers         float32 (n, NT, 5)  TOWER_COLUMNS, ET ordered, zero padded
    /trigger/towers_n       int16  (n,)
    /trigger/candidates     float32 (n, NC, 5)  CANDIDATE_COLUMNS, pT ordered, quantized, zero padded
    /trigger/candidates_n   int16  (n,)

Each 2-D/3-D dataset carries a ``columns`` attribute (JSON list) equal to the constants below.
Angles are in radians, momenta and energies in GeV.
"""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = 2
READABLE_SCHEMA_VERSIONS = (1, 2)   # 1: uids held a 19-bit hash of the seed (equal uids across seeds)

# Generated jet uid (version 2), high to low bits: the seed itself, the process code, the chunk and
# the jet within its chunk. Different seeds, processes, chunks (hence shards) and jets never share a
# uid, by construction; generate refuses a job that does not fit.
UID_BITS = {"seed": 24, "process": 4, "chunk": 21, "jet": 14}   # 63 bits: a positive int64
FORMAT_NAME = "fpgatag"
MAX_PARTICLES = 200

PARTICLE_COLUMNS = ("pt", "eta", "phi", "e", "px", "py", "pz", "charge", "pdgid")
JET_COLUMNS = ("pt", "eta", "phi", "mass", "e")
TOWER_COLUMNS = ("et", "eta", "phi", "e_em", "e_had")
# pid: L1 particle-candidate type, see CANDIDATE_TYPES
CANDIDATE_COLUMNS = ("pt", "eta", "phi", "charge", "pid")
CANDIDATE_TYPES = ("photon", "electron", "muon", "charged_hadron", "neutral_hadron")

# In-memory batch keys (and the HDF5 path each is stored under in native files).
BATCH_KEYS = {
    "label": "jets/label",
    "uid": "jets/uid",
    "jet": "jets/kin",
    "particles": "particles/data",
    "n_particles": "particles/n",
    "towers": "trigger/towers",
    "n_towers": "trigger/towers_n",
    "candidates": "trigger/candidates",
    "n_candidates": "trigger/candidates_n",
}
COLUMNS = {
    "jet": JET_COLUMNS,
    "particles": PARTICLE_COLUMNS,
    "towers": TOWER_COLUMNS,
    "candidates": CANDIDATE_COLUMNS,
}
DTYPES = {
    "label": np.int8,
    "uid": np.int64,
    "jet": np.float32,
    "particles": np.float32,
    "n_particles": np.int16,
    "towers": np.float32,
    "n_towers": np.int16,
    "candidates": np.float32,
    "n_candidates": np.int16,
}

# Class names used across the toolkit. Binary top tagging uses ("qcd", "top"): signal index 1.
KNOWN_CLASSES = ("qcd", "top", "w", "z", "quark", "gluon", "higgs")


def col(key: str, name: str) -> int:
    """Index of column ``name`` in the array stored under batch key ``key``."""
    return COLUMNS[key].index(name)


def check_batch(batch: dict[str, np.ndarray]) -> int:
    """Check a batch's keys, shapes and lengths; return its number of jets."""
    missing = [k for k in BATCH_KEYS if k not in batch]
    if missing:
        raise ValueError(f"batch lacks keys {missing}")
    n = len(batch["label"])
    for key in BATCH_KEYS:
        if len(batch[key]) != n:
            raise ValueError(f"batch key {key!r} has {len(batch[key])} rows, expected {n}")
    for key, cols in COLUMNS.items():
        if batch[key].shape[-1] != len(cols):
            raise ValueError(f"batch key {key!r} has {batch[key].shape[-1]} columns, expected {len(cols)}")
    return n
