"""The Level-1 benchmark's inputs in the hls4ml LHC jet dataset's own terms (Zenodo 3602260).

Three inputs, named as the dataset names them, built from a batch's stored particles and jet
four-vector (``particles``, ``n_particles``, ``jet``):

* ``constituents_16`` (B, N, 16): the N highest-pT constituents, pT ordered, zero padded, with the
  dataset's 16 particle features (``CONSTITUENT_16``). ``rel`` means relative to the jet axis (the
  four-vector sum of all constituents): a ratio for energies and momenta (``erel = E / E_jet``,
  ``ptrel = pT / pT_jet``), a difference for angles (``etarel = eta - eta_jet``,
  ``phirel = phi - phi_jet`` wrapped into [-pi, pi), ``costhetarel = cos(theta - theta_jet)``).
  ``etarot, phirot`` are ``(etarel, phirel)`` rotated about the jet axis so that the jet's principal
  axis (the pT-weighted second moments of all its constituents) points along ``phirot``, the sign
  chosen so that the pT-weighted third moment along ``phirot`` is >= 0 (the jet-image
  preprocessing). ``deltaR = sqrt(etarel^2 + phirel^2)``, ``costheta = pz / |p|``.
* ``constituents_3`` (B, N, 3): ``j1_pt, j1_etarel, j1_phirel``, the three columns of the set above.
* ``jet_features`` (B, 16): the dataset's high-level features (``JET_FEATURES``): ``j_zlogz`` =
  sum z ln z (z = pT_i / sum pT, all constituents), ``j_multiplicity`` = number of constituents, and
  on the mMDT-groomed jet (Cambridge/Aachen declustering, drop the softer branch while
  min(pT1, pT2) / (pT1 + pT2) <= z_cut = 0.1, beta = 0; a jet declustered down to one particle keeps
  that particle) its mass and energy-correlation-function ratios with pT_R weights and rapidity-azimuth
  angles theta_ij (normalised ECFs, z_i = pT_i / sum pT of the groomed jet)::

      e2(b)  = sum_{i<j} z_i z_j theta_ij^b          e3(b) = sum_{i<j<k} z_i z_j z_k (theta_ij theta_ik theta_jk)^b
      1e3(b) = sum z_i z_j z_k min(theta)^b           2e3(b) = sum z_i z_j z_k (smallest * second smallest theta)^b
      C1(b) = e2(b)     C2(b) = e3(b) / e2(b)^2     D2(b) = e3(b) / e2(b)^3
      D2(a, b) = e3(a) / e2(b)^(3a/b)               M2(b) = 1e3(b) / e2(b)     N2(b) = 2e3(b) / e2(b)^2

  (the EnergyCorrelator definitions of Larkoski, Salam, Thaler; Larkoski, Moult, Neill; Moult,
  Necib, Thaler), each 0 where its denominator is 0 (a groomed jet of one particle).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from fpgatag.core import schema
from fpgatag.core.config import Settings, check_int_in

CONSTITUENT_16 = ("j1_px", "j1_py", "j1_pz", "j1_e", "j1_erel", "j1_pt", "j1_ptrel", "j1_eta", "j1_etarel",
                  "j1_etarot", "j1_phi", "j1_phirel", "j1_phirot", "j1_deltaR", "j1_costheta", "j1_costhetarel")
CONSTITUENT_3 = ("j1_pt", "j1_etarel", "j1_phirel")
JET_FEATURES = ("j_zlogz", "j_c1_b0_mmdt", "j_c1_b1_mmdt", "j_c1_b2_mmdt", "j_c2_b1_mmdt", "j_c2_b2_mmdt",
                "j_d2_b1_mmdt", "j_d2_b2_mmdt", "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt",
                "j_m2_b2_mmdt", "j_n2_b1_mmdt", "j_n2_b2_mmdt", "j_mass_mmdt", "j_multiplicity")
# batch key -> HDF5 dataset of a native file (group /hls4ml) and feature names (the `names` attribute)
HLS4ML_KEYS = {"constituents_3": "hls4ml/constituents_3", "constituents_16": "hls4ml/constituents_16",
               "n_constituents": "hls4ml/n", "jet_features": "hls4ml/jet_features"}
HLS4ML_NAMES = {"constituents_3": CONSTITUENT_3, "constituents_16": CONSTITUENT_16, "jet_features": JET_FEATURES}
HLS4ML_DTYPES = {"constituents_3": np.float32, "constituents_16": np.float32, "n_constituents": np.int16,
                 "jet_features": np.float32}
HLS4ML_GROUP = "hls4ml"
HOW_TO_ADD = "fpgatag views FILE -o OUT --hls4ml-inputs"
MAX_CONSTITUENTS = 150   # what the public dataset keeps per jet

_P = {name: i for i, name in enumerate(schema.PARTICLE_COLUMNS)}
_J = {name: i for i, name in enumerate(schema.JET_COLUMNS)}
_TINY = 1e-12


@dataclass
class Hls4mlSettings(Settings):
    WHERE: ClassVar[str] = "hls4ml"

    n_constituents: int = MAX_CONSTITUENTS  # hardest constituents stored (the benchmark reads the first N)
    z_cut: float = 0.1                      # mMDT symmetry cut
    recluster_r: float = 1000.0             # C/A radius of the reclustering (large: one jet)

    def __post_init__(self) -> None:
        check_int_in("n_constituents", self.n_constituents, 1, schema.MAX_PARTICLES)
        if not 0 < self.z_cut < 0.5:
            raise ValueError(f"z_cut must be in (0, 0.5), got {self.z_cut}")
        if self.recluster_r <= 0:
            raise ValueError(f"recluster_r must be > 0, got {self.recluster_r}")



def _wrap(x: np.ndarray) -> np.ndarray:
    return (x + np.pi) % (2 * np.pi) - np.pi


def _rotation(pt: np.ndarray, x: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cos t, sin t) per jet of the rotation that turns the pT-weighted principal axis of (x, y) onto +y,
    the sign fixed by a non-negative third moment along y."""
    w = np.where(mask, pt, 0.0)
    sw = np.maximum(w.sum(axis=1), _TINY)
    cxx, cyy, cxy = ((w * a * b).sum(axis=1) / sw for a, b in ((x, x), (y, y), (x, y)))
    alpha = 0.5 * np.arctan2(2 * cxy, cxx - cyy)   # direction of the larger eigenvalue
    t = np.pi / 2 - alpha
    c, s = np.cos(t), np.sin(t)
    v = s[:, None] * x + c[:, None] * y
    flip = np.where((w * v ** 3).sum(axis=1) < 0, -1.0, 1.0)
    return c * flip, s * flip


def constituent_features(batch: dict[str, np.ndarray], n_constituents: int = MAX_CONSTITUENTS) -> tuple[np.ndarray, np.ndarray]:
    """``constituents_16`` (B, N, 16) in ``CONSTITUENT_16`` order and the real constituents per jet (B,)."""
    part = np.asarray(batch["particles"], dtype=np.float64)
    jet = np.asarray(batch["jet"], dtype=np.float64)
    n = np.asarray(batch["n_particles"]).astype(np.int64)
    mask = (np.arange(part.shape[1])[None, :] < n[:, None]) & (part[..., _P["e"]] > 0)
    pt, eta, phi, e = (part[..., _P[c]] for c in ("pt", "eta", "phi", "e"))
    px, py, pz = (part[..., _P[c]] for c in ("px", "py", "pz"))
    jpt, jeta, jphi, je = (jet[:, _J[c]][:, None] for c in ("pt", "eta", "phi", "e"))
    etarel, phirel = eta - jeta, _wrap(phi - jphi)
    c, s = _rotation(pt, etarel, phirel, mask)
    theta, jtheta = 2 * np.arctan(np.exp(-eta)), 2 * np.arctan(np.exp(-jeta))
    cols = {
        "j1_px": px, "j1_py": py, "j1_pz": pz, "j1_e": e,
        "j1_erel": e / np.maximum(je, _TINY), "j1_pt": pt, "j1_ptrel": pt / np.maximum(jpt, _TINY),
        "j1_eta": eta, "j1_etarel": etarel, "j1_etarot": c[:, None] * etarel - s[:, None] * phirel,
        "j1_phi": phi, "j1_phirel": phirel, "j1_phirot": s[:, None] * etarel + c[:, None] * phirel,
        "j1_deltaR": np.hypot(etarel, phirel), "j1_costheta": pz / np.maximum(np.sqrt(px ** 2 + py ** 2 + pz ** 2), _TINY),
        "j1_costhetarel": np.cos(theta - jtheta),
    }
    x = np.stack([np.where(mask, cols[name], 0.0) for name in CONSTITUENT_16], axis=-1)
    k = min(int(n_constituents), x.shape[1])
    out = np.zeros((x.shape[0], int(n_constituents), len(CONSTITUENT_16)), dtype=np.float32)
    out[:, :k] = x[:, :k]
    return out, np.minimum(mask.sum(axis=1), int(n_constituents)).astype(np.int16)


def three_features(constituents_16: np.ndarray) -> np.ndarray:
    """``constituents_3`` (pT, eta_rel, phi_rel) picked from ``constituents_16``."""
    return np.ascontiguousarray(constituents_16[..., [CONSTITUENT_16.index(n) for n in CONSTITUENT_3]])


# ----------------------------------------------------------------------------------------------
# Jet-level features


def mmdt_constituents(four: np.ndarray, z_cut: float = 0.1, recluster_r: float = 1000.0) -> np.ndarray:
    """Indices of the constituents (rows of ``four`` = (px, py, pz, E)) that the mMDT-groomed jet keeps
    (C/A declustering, beta = 0: the softer branch is dropped while its pT fraction is <= ``z_cut``)."""
    import fastjet

    if four.shape[0] < 2:
        return np.arange(four.shape[0])
    pjs = []
    for i, row in enumerate(four):
        pj = fastjet.PseudoJet(*map(float, row))
        pj.set_user_index(i)
        pjs.append(pj)
    cs = fastjet.ClusterSequence(pjs, fastjet.JetDefinition(fastjet.cambridge_algorithm, float(recluster_r)))
    jet = max(cs.inclusive_jets(), key=lambda j: j.pt())
    j1, j2 = fastjet.PseudoJet(), fastjet.PseudoJet()
    while jet.has_parents(j1, j2):
        if j2.pt() > j1.pt():
            j1, j2 = j2, j1
        if j2.pt() / max(j1.pt() + j2.pt(), _TINY) > z_cut:
            break
        jet = j1
        j1, j2 = fastjet.PseudoJet(), fastjet.PseudoJet()
    idx = np.sort(np.array([c.user_index() for c in jet.constituents()], dtype=np.int64))
    del cs
    return idx


def energy_correlations(pt: np.ndarray, rap: np.ndarray, phi: np.ndarray) -> dict[str, float]:
    """Normalised ECFs of one jet's constituents: ``e2_b{0,1,2}``, ``e3_b{1,2}``, ``1e3_b{1,2}``, ``2e3_b{1,2}``."""
    z = pt / max(float(pt.sum()), _TINY)
    theta = np.hypot(rap[:, None] - rap[None, :], _wrap(phi[:, None] - phi[None, :]))
    n = z.size
    iu = np.triu_indices(n, k=1)
    zz = z[:, None] * z[None, :]
    out = {"e2_b0": float(zz[iu].sum())}
    for b in (1, 2):
        out[f"e2_b{b}"] = float((zz[iu] * theta[iu] ** b).sum())
        out[f"e3_b{b}"] = out[f"1e3_b{b}"] = out[f"2e3_b{b}"] = 0.0
    for i in range(n - 2):   # triples i < j < k: one vectorised (j, k) block per i
        j, k = np.triu_indices(n - i - 1, k=1)
        j, k = j + i + 1, k + i + 1
        w = z[i] * z[j] * z[k]
        a = np.stack([theta[i, j], theta[i, k], theta[j, k]])
        a.sort(axis=0)
        for b in (1, 2):
            ab = a ** b
            out[f"e3_b{b}"] += float((w * ab[0] * ab[1] * ab[2]).sum())
            out[f"1e3_b{b}"] += float((w * ab[0]).sum())
            out[f"2e3_b{b}"] += float((w * ab[0] * ab[1]).sum())
    return out


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else 0.0


def ecf_ratios(ecf: dict[str, float]) -> dict[str, float]:
    """The dataset's ECF-ratio features (names without the ``j_`` prefix and ``_mmdt`` suffix)."""
    e2, e3 = (lambda b: ecf[f"e2_b{b}"]), (lambda b: ecf[f"e3_b{b}"])
    out = {"c1_b0": ecf["e2_b0"]}
    for b in (1, 2):
        out[f"c1_b{b}"] = e2(b)
        out[f"c2_b{b}"] = _ratio(e3(b), e2(b) ** 2)
        out[f"d2_b{b}"] = _ratio(e3(b), e2(b) ** 3)
        out[f"d2_a1_b{b}"] = _ratio(e3(1), e2(b) ** (3.0 / b))
        out[f"m2_b{b}"] = _ratio(ecf[f"1e3_b{b}"], e2(b))
        out[f"n2_b{b}"] = _ratio(ecf[f"2e3_b{b}"], e2(b) ** 2)
    return out


def _mass(four: np.ndarray) -> float:
    p = four.sum(axis=0)
    return math.sqrt(max(p[3] ** 2 - p[0] ** 2 - p[1] ** 2 - p[2] ** 2, 0.0))


def one_jet_features(four: np.ndarray, z_cut: float = 0.1, recluster_r: float = 1000.0) -> np.ndarray:
    """``JET_FEATURES`` (16,) of one jet from its constituents' four-vectors (n, 4) = (px, py, pz, E)."""
    four = np.asarray(four, dtype=np.float64)
    out = dict.fromkeys(JET_FEATURES, 0.0)
    out["j_multiplicity"] = float(four.shape[0])
    if four.shape[0] == 0:
        return np.array([out[k] for k in JET_FEATURES])
    pt = np.hypot(four[:, 0], four[:, 1])
    z = pt / max(float(pt.sum()), _TINY)
    out["j_zlogz"] = float(np.sum(np.where(z > 0, z * np.log(np.maximum(z, _TINY)), 0.0)))
    g = four[mmdt_constituents(four, z_cut, recluster_r)]
    out["j_mass_mmdt"] = _mass(g)
    gpt = np.hypot(g[:, 0], g[:, 1])
    rap = 0.5 * np.log(np.maximum(g[:, 3] + g[:, 2], _TINY) / np.maximum(g[:, 3] - g[:, 2], _TINY))
    for name, v in ecf_ratios(energy_correlations(gpt, rap, np.arctan2(g[:, 1], g[:, 0]))).items():
        out[f"j_{name}_mmdt"] = v
    return np.array([out[k] for k in JET_FEATURES])


def jet_features(batch: dict[str, np.ndarray], settings: Hls4mlSettings | None = None) -> np.ndarray:
    """``jet_features`` (B, 16) in ``JET_FEATURES`` order from a batch's stored particles."""
    from fpgatag.data.generate import _banner_to_stderr

    s = settings or Hls4mlSettings()
    part = np.asarray(batch["particles"])
    n = np.asarray(batch["n_particles"])
    cols = [_P[c] for c in ("px", "py", "pz", "e")]
    out = np.zeros((part.shape[0], len(JET_FEATURES)), dtype=np.float32)
    with _banner_to_stderr():  # FastJet prints its banner on C stdout at the first clustering
        for j in range(part.shape[0]):
            four = np.asarray(part[j, : int(n[j])][:, cols], dtype=np.float64)
            out[j] = one_jet_features(four[four[:, 3] > 0], s.z_cut, s.recluster_r)
    return out


def hls4ml_inputs(batch: dict[str, np.ndarray], settings: Hls4mlSettings | None = None) -> dict[str, np.ndarray]:
    """All four batch entries of ``HLS4ML_KEYS`` from a batch's particles and jet four-vector."""
    s = settings or Hls4mlSettings()
    c16, n = constituent_features(batch, s.n_constituents)
    return {"constituents_3": three_features(c16), "constituents_16": c16, "n_constituents": n,
            "jet_features": jet_features(batch, s)}
