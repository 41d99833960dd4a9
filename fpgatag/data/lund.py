"""Lund trees: each jet's Cambridge/Aachen clustering history, undone step by step.

The constituents of a jet are reclustered with the Cambridge/Aachen algorithm (FastJet, radius
``recluster_r`` large enough that everything ends in one jet). Undoing the last clustering step
gives two subjets ``j1, j2`` ordered in pT (``pt1 >= pt2``); the step is a node of the Lund tree
with the kinematics of Dreyer, Salam, Soyez (JHEP 1812 (2018) 064) and Dreyer, Qu (JHEP 03 (2021) 052)::

    Delta = sqrt((y1 - y2)^2 + (phi1 - phi2)^2)     kt = pt2 * Delta
    z     = pt2 / (pt1 + pt2)                       m  = |p1 + p2| (invariant mass)
    psi   = arctan((y1 - y2) / (phi1 - phi2))

(rapidity y, azimuth difference wrapped into [-pi, pi)). Both subjets are declustered again until
they are single particles, so a jet of n constituents has n - 1 nodes. The *primary* declusterings
are the nodes met by always following the harder branch from the root.

Nodes are stored in depth-first order, harder branch first (node 0 is the root, the primary nodes
come first along each harder chain), with three edge columns: the parent node and the nodes of the
harder and softer subjets (-1 where there is none: the root's parent, a subjet that is one particle).
The tree does not depend on the order of the constituents (C/A merges by distance only).

Batch keys (``LUND_KEYS``; stored under ``/lund`` in native files when the file has Lund trees)::

    lund        float32 (n, L, 6)  LUND_COLUMNS, zero padded
    lund_edges  int16   (n, L, 3)  LUND_EDGE_COLUMNS, -1 padded
    n_lund      int16   (n,)       number of real nodes (at most L)

:func:`lund_features` turns them into a model input: per node the logarithms of kt, Delta, z, m, psi,
and the graph as neighbour columns (``parent``, ``harder``, ``softer`` hold node index + 1, 0 for none).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from fpgatag.core import schema
from fpgatag.core.config import Settings, check_int_in
from fpgatag.core.errors import FpgatagError

log = logging.getLogger(__name__)

LUND_COLUMNS = ("kt", "delta", "z", "m", "psi", "primary")
LUND_EDGE_COLUMNS = ("parent", "harder", "softer")
LUND_KEYS = {"lund": "lund/nodes", "lund_edges": "lund/edges", "n_lund": "lund/n"}
LUND_DTYPES = {"lund": np.float32, "lund_edges": np.int16, "n_lund": np.int16}
LUND_GROUP = "lund"
# model-input features: kinematics (scaled by the InputSpec) and graph columns (never scaled)
LUND_KINEMATIC_FEATURES = ("log_kt", "log_delta", "log_z", "log_m", "psi")
LUND_GRAPH_FEATURES = ("parent", "harder", "softer")
LUND_FEATURES = LUND_KINEMATIC_FEATURES + LUND_GRAPH_FEATURES
HOW_TO_ADD = "fpgatag views FILE -o OUT --lund"

_P = {name: i for i, name in enumerate(schema.PARTICLE_COLUMNS)}
_TINY = 1e-12


@dataclass
class LundSettings(Settings):
    WHERE: ClassVar[str] = "lund"

    max_nodes: int = 199            # nodes stored per jet (a jet of n constituents has n - 1)
    recluster_r: float = 1000.0     # C/A radius of the reclustering (large: one jet)

    def __post_init__(self) -> None:
        check_int_in("max_nodes", self.max_nodes, 1, 4096)
        if self.recluster_r <= 0:
            raise ValueError(f"recluster_r must be > 0, got {self.recluster_r}")



def _declusterings(four: np.ndarray, recluster_r: float):
    """One jet's four-vectors (n, 4) = (px, py, pz, E) -> (harder (k, 4), softer (k, 4), edges (k, 3))
    in depth-first order, harder branch first, by undoing FastJet's C/A clustering."""
    import fastjet

    n = four.shape[0]
    k = max(n - 1, 0)
    hard, soft = np.zeros((k, 4)), np.zeros((k, 4))
    edges = np.full((k, 3), -1, dtype=np.int64)
    if n < 2:
        return hard, soft, edges
    pjs = [fastjet.PseudoJet(*map(float, row)) for row in four]
    cs = fastjet.ClusterSequence(pjs, fastjet.JetDefinition(fastjet.cambridge_algorithm, float(recluster_r)))
    jets = cs.inclusive_jets()
    if len(jets) != 1:
        raise FpgatagError(f"lund: C/A reclustering with R={recluster_r} left {len(jets)} jets; use a larger recluster_r")
    stack = [(jets[0], -1, 0)]  # (pseudojet, parent node, 1 = harder / 2 = softer child of the parent)
    i = 0
    while stack:
        jet, parent, side = stack.pop()
        j1, j2 = fastjet.PseudoJet(), fastjet.PseudoJet()
        if not jet.has_parents(j1, j2):
            continue
        if j2.pt() > j1.pt():
            j1, j2 = j2, j1
        hard[i] = (j1.px(), j1.py(), j1.pz(), j1.E())
        soft[i] = (j2.px(), j2.py(), j2.pz(), j2.E())
        edges[i, 0] = parent
        if parent >= 0:
            edges[parent, side] = i
        stack.append((j2, i, 2))  # popped after the whole harder branch: depth first, harder first
        stack.append((j1, i, 1))
        i += 1
    del cs
    return hard[:i], soft[:i], edges[:i]


def _rap_phi_pt(p: np.ndarray):
    px, py, pz, e = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    pt = np.hypot(px, py)
    ep, em = np.maximum(e + pz, _TINY), np.maximum(e - pz, _TINY)
    return 0.5 * np.log(ep / em), np.arctan2(py, px), pt


def node_kinematics(hard: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """(kt, delta, z, m, psi) per declustering from the harder and softer subjets' four-vectors (k, 4)."""
    y1, phi1, pt1 = _rap_phi_pt(hard)
    y2, phi2, pt2 = _rap_phi_pt(soft)
    dy = y1 - y2
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    delta = np.hypot(dy, dphi)
    tot = hard + soft
    m = np.sqrt(np.maximum(tot[:, 3] ** 2 - np.sum(tot[:, :3] ** 2, axis=1), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        psi = np.where(dy == 0, 0.0, np.arctan(dy / dphi))  # dphi = 0: arctan(+-inf) = +-pi/2
    return np.stack([pt2 * delta, delta, pt2 / np.maximum(pt1 + pt2, _TINY), m, psi], axis=1)


def jet_tree(four: np.ndarray, recluster_r: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """One jet's Lund tree: nodes (n - 1, 6) = LUND_COLUMNS and edges (n - 1, 3) = LUND_EDGE_COLUMNS."""
    hard, soft, edges = _declusterings(np.asarray(four, dtype=np.float64), recluster_r)
    nodes = np.zeros((hard.shape[0], len(LUND_COLUMNS)))
    if hard.shape[0]:
        nodes[:, :5] = node_kinematics(hard, soft)
        node = 0
        while node >= 0:  # primary declusterings: follow the harder branch from the root
            nodes[node, 5] = 1.0
            node = int(edges[node, 1])
    return nodes, edges


def lund_trees(particles: np.ndarray, n_particles: np.ndarray, settings: LundSettings | None = None) -> dict[str, np.ndarray]:
    """The Lund trees of a batch of pT-ordered particles, as the batch entries of ``LUND_KEYS``."""
    from fpgatag.data.generate import _banner_to_stderr

    s = settings or LundSettings()
    b, L = particles.shape[0], int(s.max_nodes)
    nodes = np.zeros((b, L, len(LUND_COLUMNS)), dtype=np.float32)
    edges = np.full((b, L, len(LUND_EDGE_COLUMNS)), -1, dtype=np.int16)
    counts = np.zeros(b, dtype=np.int16)
    cols = [_P[c] for c in ("px", "py", "pz", "e")]
    with _banner_to_stderr():  # FastJet prints its banner on C stdout at the first clustering
        for j in range(b):
            four = np.asarray(particles[j, : int(n_particles[j])][:, cols], dtype=np.float64)
            t_nodes, t_edges = jet_tree(four[four[:, 3] > 0], s.recluster_r)
            k = min(t_nodes.shape[0], L)
            nodes[j, :k] = t_nodes[:k]
            edges[j, :k] = np.where(t_edges[:k] < L, t_edges[:k], -1)  # a truncated tree points nowhere past L
            counts[j] = k
    return {"lund": nodes, "lund_edges": edges, "n_lund": counts}


def time_lund_trees(particles: np.ndarray, n_particles: np.ndarray, settings: LundSettings | None = None) -> dict:
    """Build the trees of a batch and return the wall and CPU time per jet (ms) beside the mean size."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = lund_trees(particles, n_particles, settings)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = max(particles.shape[0], 1)
    return {"jets": int(particles.shape[0]), "ms_per_jet_wall": 1e3 * wall / n, "ms_per_jet_cpu": 1e3 * cpu / n,
            "mean_nodes": float(np.mean(out["n_lund"])) if particles.shape[0] else math.nan}


# ----------------------------------------------------------------------------------------------
# Model inputs


def lund_features(batch: dict[str, np.ndarray], n_nodes: int = 128,
                  features: Sequence[str] = LUND_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Per-node features (B, n_nodes, F) and the node mask (B, n_nodes) from a batch's Lund trees.

    ``log_*`` are natural logarithms (of kt and m in GeV); graph columns hold neighbour index + 1
    (0: none, or a neighbour beyond ``n_nodes``)."""
    features = [features] if isinstance(features, str) else list(features)
    bad = [f for f in features if f not in LUND_FEATURES]
    if bad or not features:
        raise FpgatagError(f"lund feature {bad[0] if bad else '(none)'!r} is unknown; known: {', '.join(LUND_FEATURES)}")
    if n_nodes < 1:
        raise FpgatagError(f"lund features: n_nodes must be >= 1, got {n_nodes}")
    missing = [k for k in LUND_KEYS if k not in batch]
    if missing:
        raise FpgatagError(f"lund features: the batch has no Lund trees ({', '.join(missing)}); add them with `{HOW_TO_ADD}`")
    nodes = np.asarray(batch["lund"], dtype=np.float64)[:, :n_nodes]
    edges = np.asarray(batch["lund_edges"], dtype=np.int64)[:, :n_nodes]
    if nodes.shape[1] < n_nodes:
        pad = n_nodes - nodes.shape[1]
        nodes = np.concatenate([nodes, np.zeros((nodes.shape[0], pad, nodes.shape[2]))], axis=1)
        edges = np.concatenate([edges, np.full((edges.shape[0], pad, edges.shape[2]), -1)], axis=1)
    mask = np.arange(n_nodes)[None, :] < np.asarray(batch["n_lund"])[:, None]
    c = {name: i for i, name in enumerate(LUND_COLUMNS)}
    e = {name: i for i, name in enumerate(LUND_EDGE_COLUMNS)}

    def log_of(name):
        return np.log(np.maximum(nodes[..., c[name]], _TINY))

    def graph(name):
        idx = edges[..., e[name]]
        return np.where((idx >= 0) & (idx < n_nodes), idx + 1, 0)

    funcs = {"log_kt": lambda: log_of("kt"), "log_delta": lambda: log_of("delta"), "log_z": lambda: log_of("z"),
             "log_m": lambda: log_of("m"), "psi": lambda: nodes[..., c["psi"]],
             "parent": lambda: graph("parent"), "harder": lambda: graph("harder"), "softer": lambda: graph("softer")}
    x = np.stack([np.asarray(funcs[f](), dtype=np.float64) for f in features], axis=-1)
    x = np.where(mask[..., None], x, 0.0).astype(np.float32)
    return x, mask
