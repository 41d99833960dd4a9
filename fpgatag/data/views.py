"""The trigger view: what a Level-1 trigger could see of a jet, computed from its particles.

Two coarse views are built from the full-resolution constituents (``particles``, pT ordered):

* **Towers** (calorimeter-like): particles are summed on an eta-phi grid (default 0.087 x 2pi/72),
  photons and electrons into the EM energy, hadrons into the hadronic energy (muons leave only a
  minimum-ionising deposit and are left out). Each energy is smeared with its own resolution
  ``sigma/E = a/sqrt(E) (+) c`` (EM 10%/sqrt(E) + 1%, HAD 50%/sqrt(E) + 5% by default), towers below
  the ET threshold (0.5 GeV) are dropped and the N most energetic (16) are kept, ET ordered. A tower's
  eta and phi are the centre of its cell.
* **L1 particle candidates**: the N hardest particles (16), pT quantized to 0.25 GeV LSB (saturating
  at ``pt_bits``), eta and phi to pi/720 (~0.00436), charge, and a type code ``pid`` (index into
  ``schema.CANDIDATE_TYPES``).

The smearing noise is a pure function of (jet uid, tower cell, energy kind, ``smear_seed``), so a
jet's towers are the same whichever batch it is read in and whatever reader derives them.
Particles with ``pdgid == 0`` (public datasets without particle identification) count as hadronic
deposits and as neutral-hadron candidates when their charge is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fpgatag.core import schema
from fpgatag.core.config import Settings, check_int_in

_P = {name: i for i, name in enumerate(schema.PARTICLE_COLUMNS)}
NEUTRINOS = (12, 14, 16)


@dataclass
class ViewSettings(Settings):
    WHERE: ClassVar[str] = "views"

    tower_eta_size: float = 0.087       # tower size in eta
    tower_phi_bins: int = 72            # phi cells over 2pi (2pi/72 = 0.0873)
    em_stochastic: float = 0.10         # EM resolution a/sqrt(E) with E in GeV
    em_constant: float = 0.01           # EM constant term c
    had_stochastic: float = 0.50
    had_constant: float = 0.05
    tower_threshold: float = 0.5        # keep towers with ET >= this (GeV)
    n_towers: int = 16                  # most energetic towers kept
    n_candidates: int = 16              # hardest particles kept as L1 candidates
    pt_lsb: float = 0.25                # candidate pT LSB (GeV)
    pt_bits: int = 16                   # candidate pT word width (saturates at (2^bits - 1) * LSB)
    angle_lsb: float = math.pi / 720    # candidate eta/phi LSB (rad), ~0.00436
    smear_seed: int = 0                 # mixed with each jet's uid for the smearing noise

    def __post_init__(self) -> None:
        for name in ("n_towers", "n_candidates"):
            check_int_in(name, getattr(self, name), 1, 256)
        if self.tower_eta_size <= 0 or self.tower_phi_bins < 1:
            raise ValueError("tower_eta_size must be > 0 and tower_phi_bins >= 1")
        if self.pt_lsb <= 0 or self.angle_lsb <= 0 or not 1 <= self.pt_bits <= 32:
            raise ValueError("pt_lsb and angle_lsb must be > 0 and pt_bits in 1..32")
        for name in ("em_stochastic", "em_constant", "had_stochastic", "had_constant", "tower_threshold"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")



def candidate_type(pdgid: np.ndarray, charge: np.ndarray) -> np.ndarray:
    """L1 candidate type code (index into ``schema.CANDIDATE_TYPES``) per particle."""
    a = np.abs(pdgid.astype(np.int64))
    out = np.where(charge != 0, 3, 4)  # charged / neutral hadron
    out = np.where(a == 22, 0, out)
    out = np.where(a == 11, 1, out)
    out = np.where(a == 13, 2, out)
    return out.astype(np.float32)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def hash_normal(keys: np.ndarray) -> np.ndarray:
    """Standard normal numbers that are a pure function of uint64 ``keys`` (Box-Muller)."""
    h1 = _splitmix64(keys)
    h2 = _splitmix64(h1 ^ np.uint64(0xD6E8FEB86659FD93))
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    u2 = (h2 >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def make_candidates(particles: np.ndarray, n: np.ndarray, s: ViewSettings) -> tuple[np.ndarray, np.ndarray]:
    """L1 candidates (B, n_candidates, 5) and their counts from pT-ordered particles."""
    nc = s.n_candidates
    b, p, _ = particles.shape
    k = min(nc, p)
    part = particles[:, :k, :]
    real = np.arange(k)[None, :] < np.asarray(n)[:, None]
    pt_max = (2 ** s.pt_bits - 1) * s.pt_lsb
    pt = np.minimum(np.round(part[..., _P["pt"]] / s.pt_lsb) * s.pt_lsb, pt_max)
    real &= pt > 0
    out = np.zeros((b, nc, 5), dtype=np.float32)
    out[:, :k, 0] = pt
    out[:, :k, 1] = np.round(part[..., _P["eta"]] / s.angle_lsb) * s.angle_lsb
    out[:, :k, 2] = np.round(part[..., _P["phi"]] / s.angle_lsb) * s.angle_lsb
    out[:, :k, 3] = part[..., _P["charge"]]
    out[:, :k, 4] = candidate_type(part[..., _P["pdgid"]], part[..., _P["charge"]])
    # pT order is kept, so dropping zero-pT candidates only removes a tail: keep rows before it
    count = real.sum(axis=1).astype(np.int16)
    keep = np.arange(nc)[None, :] < count[:, None]
    out[~keep] = 0.0
    return out, count


def make_towers(particles: np.ndarray, n: np.ndarray, uid: np.ndarray, s: ViewSettings) -> tuple[np.ndarray, np.ndarray]:
    """Calorimeter towers (B, n_towers, 5) = (et, eta, phi, e_em, e_had) and their counts."""
    b, p, _ = particles.shape
    nt = s.n_towers
    out = np.zeros((b, nt, 5), dtype=np.float32)
    counts = np.zeros(b, dtype=np.int16)
    if b == 0:
        return out, counts
    real = np.arange(p)[None, :] < np.asarray(n)[:, None]
    apdg = np.abs(particles[..., _P["pdgid"]]).astype(np.int64)
    real &= (apdg != 13) & ~np.isin(apdg, NEUTRINOS) & (particles[..., _P["e"]] > 0)
    jet_i, part_i = np.nonzero(real)
    if jet_i.size == 0:
        return out, counts
    sel = particles[jet_i, part_i]
    eta = sel[:, _P["eta"]].astype(np.float64)
    phi = np.mod(sel[:, _P["phi"]].astype(np.float64), 2 * np.pi)
    dphi = 2 * np.pi / s.tower_phi_bins
    ieta = np.floor(eta / s.tower_eta_size).astype(np.int64)
    iphi = np.minimum(np.floor(phi / dphi).astype(np.int64), s.tower_phi_bins - 1)
    is_em = np.isin(apdg[jet_i, part_i], (11, 22))
    e = sel[:, _P["e"]].astype(np.float64)
    cell = ((ieta + (1 << 15)) << 16) | iphi  # < 2^32
    key = (jet_i.astype(np.int64) << 32) | cell
    ukey, inv = np.unique(key, return_inverse=True)
    e_em = np.bincount(inv, weights=np.where(is_em, e, 0.0), minlength=ukey.size)
    e_had = np.bincount(inv, weights=np.where(is_em, 0.0, e), minlength=ukey.size)
    tjet = (ukey >> 32).astype(np.int64)
    tcell = ukey & 0xFFFFFFFF
    t_ieta = (tcell >> 16) - (1 << 15)
    t_iphi = tcell & 0xFFFF
    # smearing: noise keyed by (uid, cell, kind, seed)
    base = (np.asarray(uid).astype(np.int64)[tjet].astype(np.uint64) * np.uint64(0x100000001B3)) ^ (
        tcell.astype(np.uint64) << np.uint64(2)) ^ (np.uint64(s.smear_seed & 0xFFFFFFFF) << np.uint64(34))
    z_em = hash_normal(base ^ np.uint64(1))
    z_had = hash_normal(base ^ np.uint64(2))
    with np.errstate(divide="ignore", invalid="ignore"):
        r_em = np.sqrt(s.em_stochastic ** 2 / np.maximum(e_em, 1e-12) + s.em_constant ** 2)
        r_had = np.sqrt(s.had_stochastic ** 2 / np.maximum(e_had, 1e-12) + s.had_constant ** 2)
    e_em = np.where(e_em > 0, np.maximum(e_em * (1.0 + r_em * z_em), 0.0), 0.0)
    e_had = np.where(e_had > 0, np.maximum(e_had * (1.0 + r_had * z_had), 0.0), 0.0)
    t_eta = (t_ieta + 0.5) * s.tower_eta_size
    t_phi = (t_iphi + 0.5) * dphi
    t_phi = np.where(t_phi > np.pi, t_phi - 2 * np.pi, t_phi)
    et = (e_em + e_had) / np.cosh(t_eta)
    keep = et >= s.tower_threshold
    tjet, et, t_eta, t_phi, e_em, e_had = (a[keep] for a in (tjet, et, t_eta, t_phi, e_em, e_had))
    order = np.lexsort((-et, tjet))  # by jet, then ET descending
    tjet, et, t_eta, t_phi, e_em, e_had = (a[order] for a in (tjet, et, t_eta, t_phi, e_em, e_had))
    per_jet = np.bincount(tjet, minlength=b)
    first = np.concatenate([[0], np.cumsum(per_jet)[:-1]])
    rank = np.arange(tjet.size) - first[tjet]
    m = rank < nt
    out[tjet[m], rank[m]] = np.stack([et, t_eta, t_phi, e_em, e_had], axis=1)[m]
    counts[:] = np.minimum(per_jet, nt)
    return out, counts


def compute_views(particles: np.ndarray, n: np.ndarray, uid: np.ndarray, s: ViewSettings) -> dict[str, np.ndarray]:
    """Both trigger views of a batch, as schema batch entries."""
    towers, n_towers = make_towers(particles, n, uid, s)
    cands, n_cands = make_candidates(particles, n, s)
    return {"towers": towers, "n_towers": n_towers, "candidates": cands, "n_candidates": n_cands}
