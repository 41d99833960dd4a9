"""Feature builders shared by every later stage (teacher, students, firmware inputs).

All functions take a schema batch (see :mod:`fpgatag.core.schema`) and return float32 arrays;
padded objects are all-zero rows and ``mask`` marks the real ones.

* :func:`particle_features`: full-resolution constituents relative to the jet axis (``batch['jet']``).
* :func:`trigger_features`: trigger-view objects (towers or L1 candidates) relative to the trigger
  view's own axis, the pT-weighted centroid of its objects, as a trigger would compute it.
  Linear features (pt, deta, dphi, pt_rel, dr, charge, pid) are what quantized students use by
  default, since firmware cannot take logarithms cheaply.
* :func:`jet_features`: high-level jet features for an MLP student, from the trigger view: mass and
  pT of the sum of the (massless) objects, N-subjettiness ratios tau21 and tau32 (exclusive-kt
  subjet axes, beta = 1, R0 = 0.8) and the multiplicity.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError

PARTICLE_FEATURES = ("deta", "dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "dr", "charge",
                     "is_electron", "is_muon", "is_photon", "is_charged_hadron", "is_neutral_hadron")
TRIGGER_FEATURES = ("pt", "deta", "dphi", "pt_rel", "log_pt", "dr", "charge", "pid", "e_em_frac")
JET_FEATURES = ("mass", "pt", "tau21", "tau32", "multiplicity")
VIEWS = ("candidates", "towers")
NSUB_R0 = 0.8

_P = {name: i for i, name in enumerate(schema.PARTICLE_COLUMNS)}
_J = {name: i for i, name in enumerate(schema.JET_COLUMNS)}
_TINY = 1e-12


def _check(features: Sequence[str], known: Sequence[str], what: str) -> list[str]:
    features = [features] if isinstance(features, str) else list(features)
    bad = [f for f in features if f not in known]
    if bad:
        raise FpgatagError(f"{what} feature {bad[0]!r} is unknown; known: {', '.join(known)}")
    if not features:
        raise FpgatagError(f"{what} features: the list is empty")
    return features


def wrap_phi(x: np.ndarray) -> np.ndarray:
    """Angle difference wrapped into [-pi, pi)."""
    return (x + np.pi) % (2 * np.pi) - np.pi


def _pad_objects(arr: np.ndarray, n: int) -> np.ndarray:
    if arr.shape[1] >= n:
        return arr[:, :n]
    pad = np.zeros((arr.shape[0], n - arr.shape[1], *arr.shape[2:]), dtype=arr.dtype)
    return np.concatenate([arr, pad], axis=1)


def _log(x: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(x, _TINY))


def particle_features(batch: dict[str, np.ndarray], n_particles: int = 100,
                      features: Sequence[str] = PARTICLE_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Per-particle features (B, n_particles, F) relative to the jet axis, and the mask (B, n_particles)."""
    features = _check(features, PARTICLE_FEATURES, "particle")
    if n_particles < 1:
        raise FpgatagError(f"particle features: n_particles must be >= 1, got {n_particles}")
    p = _pad_objects(np.asarray(batch["particles"], dtype=np.float64), n_particles)
    mask = np.arange(n_particles)[None, :] < np.asarray(batch["n_particles"])[:, None]
    jet = np.asarray(batch["jet"], dtype=np.float64)
    pt, eta, phi, e = (p[..., _P[c]] for c in ("pt", "eta", "phi", "e"))
    charge = p[..., _P["charge"]]
    apdg = np.abs(p[..., _P["pdgid"]]).astype(np.int64)
    deta = eta - jet[:, None, _J["eta"]]
    dphi = wrap_phi(phi - jet[:, None, _J["phi"]])
    lep_or_photon = np.isin(apdg, (11, 13, 22))
    # pdgid 0 = unknown particle type (public data sets without particle identification)
    known = apdg != 0
    funcs = {
        "deta": lambda: deta,
        "dphi": lambda: dphi,
        "log_pt": lambda: _log(pt),
        "log_e": lambda: _log(e),
        "log_pt_rel": lambda: _log(pt / np.maximum(jet[:, None, _J["pt"]], _TINY)),
        "log_e_rel": lambda: _log(e / np.maximum(jet[:, None, _J["e"]], _TINY)),
        "dr": lambda: np.hypot(deta, dphi),
        "charge": lambda: charge,
        "is_electron": lambda: apdg == 11,
        "is_muon": lambda: apdg == 13,
        "is_photon": lambda: apdg == 22,
        "is_charged_hadron": lambda: known & ~lep_or_photon & (charge != 0),
        "is_neutral_hadron": lambda: known & ~lep_or_photon & (charge == 0),
    }
    x = np.stack([np.asarray(funcs[f](), dtype=np.float64) for f in features], axis=-1)
    x = np.where(mask[..., None], x, 0.0).astype(np.float32)
    return x, mask


def _view(batch: dict[str, np.ndarray], view: str):
    if view not in VIEWS:
        raise FpgatagError(f"trigger view {view!r} is unknown; known: {', '.join(VIEWS)}")
    objs = np.asarray(batch[view], dtype=np.float64)
    n = np.asarray(batch["n_" + view])
    mask = np.arange(objs.shape[1])[None, :] < n[:, None]
    cols = schema.COLUMNS[view]
    pt = np.where(mask, objs[..., cols.index("et" if view == "towers" else "pt")], 0.0)
    eta = objs[..., cols.index("eta")]
    phi = objs[..., cols.index("phi")]
    return objs, mask, pt, eta, phi


def trigger_axis(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pT-weighted (eta, phi) centroid of each jet's objects (phi relative to the leading object)."""
    spt = pt.sum(axis=1)
    w = pt / np.maximum(spt, _TINY)[:, None]
    lead = phi[np.arange(phi.shape[0]), np.argmax(pt, axis=1)] if phi.shape[1] else np.zeros(phi.shape[0])
    eta_ax = (w * eta).sum(axis=1)
    phi_ax = wrap_phi(lead + (w * wrap_phi(phi - lead[:, None])).sum(axis=1))
    return eta_ax, phi_ax, spt


def trigger_features(batch: dict[str, np.ndarray], view: str = "candidates", n_objects: int = 16,
                     features: Sequence[str] = TRIGGER_FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """Trigger-view features (B, n_objects, F) relative to the view's own axis, and the mask."""
    features = _check(features, TRIGGER_FEATURES, "trigger")
    if n_objects < 1:
        raise FpgatagError(f"trigger features: n_objects must be >= 1, got {n_objects}")
    objs, mask_all, pt_all, eta_all, phi_all = _view(batch, view)
    eta_ax, phi_ax, spt = trigger_axis(pt_all, eta_all, phi_all)
    objs = _pad_objects(objs, n_objects)
    mask = _pad_objects(mask_all, n_objects)
    pt = _pad_objects(pt_all, n_objects)
    deta = objs[..., 1] - eta_ax[:, None]
    dphi = wrap_phi(objs[..., 2] - phi_ax[:, None])
    if view == "candidates":
        charge = objs[..., 3]
        pid = objs[..., 4]
        em = np.isin(np.round(pid).astype(np.int64), (0, 1)).astype(np.float64)  # photon, electron
    else:
        charge = np.zeros_like(pt)
        pid = np.zeros_like(pt)
        e_em, e_had = objs[..., 3], objs[..., 4]
        em = e_em / np.maximum(e_em + e_had, _TINY)
    funcs = {
        "pt": lambda: pt,
        "deta": lambda: deta,
        "dphi": lambda: dphi,
        "pt_rel": lambda: pt / np.maximum(spt, _TINY)[:, None],
        "log_pt": lambda: _log(pt),
        "dr": lambda: np.hypot(deta, dphi),
        "charge": lambda: charge,
        "pid": lambda: pid,
        "e_em_frac": lambda: em,
    }
    x = np.stack([np.asarray(funcs[f](), dtype=np.float64) for f in features], axis=-1)
    x = np.where(mask[..., None], x, 0.0).astype(np.float32)
    return x, mask


# The stored jet four-vector (batch["jet"], schema.JET_COLUMNS), with the usual other names
JET_KINEMATICS = schema.JET_COLUMNS
JET_KINEMATICS_ALIASES = {"m": "mass", "E": "e", "energy": "e"}


def jet_kinematics(batch: dict[str, np.ndarray], features: Sequence[str] = ("pt", "eta", "phi", "mass")) -> np.ndarray:
    """Columns of the stored jet four-vector (B, F): pt, eta, phi, mass, e (aliases m, E)."""
    names = [JET_KINEMATICS_ALIASES.get(f, f) for f in ([features] if isinstance(features, str) else features)]
    _check(names, JET_KINEMATICS, "jet four-vector")
    jet = np.asarray(batch["jet"], dtype=np.float32)
    return jet[:, [_J[n] for n in names]]


def _four_vectors(pt, eta, phi, mask):
    pt = np.where(mask, pt, 0.0)
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)], axis=-1)


def _rap_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    px, py, pz, e = p[..., 0], p[..., 1], p[..., 2], p[..., 3]
    pt = np.hypot(px, py)
    num = np.maximum(e + pz, _TINY)
    den = np.maximum(e - pz, _TINY)
    return pt, 0.5 * np.log(num / den), np.arctan2(py, px)


def exclusive_kt_axes(p: np.ndarray, mask: np.ndarray, n_axes: int) -> tuple[np.ndarray, np.ndarray]:
    """Exclusive-kt subjet axes: merge the pair with the smallest min(pT_i^2, pT_j^2) dR_ij^2
    (E-scheme) until ``n_axes`` remain (kt with a large R, as in N-subjettiness' KT_Axes).
    Returns axes (B, M, 4) and their mask (B, M); jets with fewer objects keep them all."""
    p = p.copy()
    active = mask.copy()
    b, m = mask.shape
    iu = np.triu_indices(m, k=1)
    for _ in range(max(m - n_axes, 0)):
        todo = active.sum(axis=1) > n_axes
        if not todo.any():
            break
        pt, rap, phi = _rap_phi(p)
        d = np.minimum(pt[:, :, None] ** 2, pt[:, None, :] ** 2) * (
            (rap[:, :, None] - rap[:, None, :]) ** 2 + wrap_phi(phi[:, :, None] - phi[:, None, :]) ** 2)
        d = d[:, iu[0], iu[1]]
        ok = active[:, iu[0]] & active[:, iu[1]]
        d = np.where(ok, d, np.inf)
        k = np.argmin(d, axis=1)
        rows = np.flatnonzero(todo)
        i, j = iu[0][k[rows]], iu[1][k[rows]]
        p[rows, i] += p[rows, j]
        p[rows, j] = 0.0
        active[rows, j] = False
    return p, active


def nsubjettiness(pt, eta, phi, mask, n_axes: int, r0: float = NSUB_R0) -> np.ndarray:
    """tau_N (beta = 1), normalised by sum(pT) * R0; 0 for jets with <= N objects."""
    p = _four_vectors(pt, eta, phi, mask)
    axes, amask = exclusive_kt_axes(p, mask, n_axes)
    _, arap, aphi = _rap_phi(axes)
    dr = np.hypot(eta[:, :, None] - arap[:, None, :], wrap_phi(phi[:, :, None] - aphi[:, None, :]))
    dr = np.where(amask[:, None, :], dr, np.inf)
    dmin = dr.min(axis=2) if dr.shape[2] else np.zeros_like(pt)
    dmin = np.where(mask & np.isfinite(dmin), dmin, 0.0)
    w = np.where(mask, pt, 0.0)
    tau = (w * dmin).sum(axis=1) / np.maximum(w.sum(axis=1) * r0, _TINY)
    return np.where(mask.sum(axis=1) > n_axes, tau, 0.0)


def jet_features(batch: dict[str, np.ndarray], view: str = "candidates",
                 features: Sequence[str] = JET_FEATURES) -> np.ndarray:
    """High-level jet features (B, F) from the trigger view."""
    features = _check(features, JET_FEATURES, "jet")
    objs, mask, pt, eta, phi = _view(batch, view)
    cache: dict[str, np.ndarray] = {}

    def total():
        if "p" not in cache:
            cache["p"] = _four_vectors(pt, eta, phi, mask).sum(axis=1)
        return cache["p"]

    def tau(n):
        key = f"tau{n}"
        if key not in cache:
            cache[key] = nsubjettiness(pt, eta, phi, mask, n)
        return cache[key]

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    funcs = {
        "mass": lambda: np.sqrt(np.maximum(total()[:, 3] ** 2 - (total()[:, :3] ** 2).sum(axis=1), 0.0)),
        "pt": lambda: np.hypot(total()[:, 0], total()[:, 1]),
        "tau21": lambda: ratio(tau(2), tau(1)),
        "tau32": lambda: ratio(tau(3), tau(2)),
        "multiplicity": lambda: mask.sum(axis=1).astype(np.float64),
    }
    return np.stack([funcs[f]() for f in features], axis=-1).astype(np.float32)
