"""Feature builders: shapes, masks, frames, N-subjettiness against FastJet, bad names."""

from __future__ import annotations

import numpy as np
import pytest

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError
from fpgatag.data import features as F
from fpgatag.data.io import open_jets


@pytest.fixture(scope="module")
def batch(jets_file):
    with open_jets(jets_file) as src:
        idx = np.sort(np.random.default_rng(1).choice(src.n_jets, min(600, src.n_jets), replace=False))
        return src.read(indices=idx)


@pytest.fixture(scope="module")
def B(batch):
    return len(batch["label"])


def test_particle_features(batch, B):
    x, mask = F.particle_features(batch, n_particles=50)
    assert x.shape == (B, 50, len(F.PARTICLE_FEATURES)) and x.dtype == np.float32
    np.testing.assert_array_equal(mask.sum(axis=1), np.minimum(batch["n_particles"], 50))
    assert not x[~mask].any()
    real = x[mask]
    i = {f: k for k, f in enumerate(F.PARTICLE_FEATURES)}
    # constituents of an R = 0.8 anti-kt jet; it clusters in rapidity, so soft massive hadrons
    # (a 0.2 GeV proton, say) can lie far out in pseudorapidity, and a particle clustered into a
    # subjet that merged late can end up beyond R of the final axis: far particles are rare and soft
    dr = real[:, i["dr"]]
    assert np.quantile(dr, 0.97) < 0.8
    far = dr > 0.9
    assert far.mean() < 0.01 and (np.exp(real[far, i["log_pt_rel"]]) < 0.05).all()
    assert (real[:, i["log_pt_rel"]] < 0.01).all()
    # exactly one particle type per real particle, and charge agrees with the type
    types = real[:, i["is_electron"]:i["is_neutral_hadron"] + 1]
    np.testing.assert_array_equal(types.sum(axis=1), 1)
    assert (real[real[:, i["is_neutral_hadron"]] == 1, i["charge"]] == 0).all()
    assert (real[real[:, i["is_charged_hadron"]] == 1, i["charge"]] != 0).all()
    # padding beyond the stored particles, and a feature subset in the asked order
    x2, m2 = F.particle_features(batch, n_particles=250, features=["dr", "deta"])
    assert x2.shape == (B, 250, 2) and not m2[:, 200:].any()
    np.testing.assert_array_equal(x2[:, :50, 1], x[..., i["deta"]])


def test_trigger_features(batch, B):
    for view in ("candidates", "towers"):
        x, mask = F.trigger_features(batch, view=view, n_objects=8)
        assert x.shape == (B, 8, len(F.TRIGGER_FEATURES))
        assert not x[~mask].any()
        i = {f: k for k, f in enumerate(F.TRIGGER_FEATURES)}
        real = x[mask]
        assert (real[:, i["pt"]] > 0).all()
        assert np.quantile(real[:, i["dr"]], 0.99) < 0.8 and real[:, i["dr"]].max() < 1.6
        assert (real[:, i["pt_rel"]] <= 1.0 + 1e-6).all()
        assert ((real[:, i["e_em_frac"]] >= 0) & (real[:, i["e_em_frac"]] <= 1 + 1e-6)).all()
        # the pT-weighted centroid of all stored objects is the axis: weighted deta sums to ~0
        xa, ma = F.trigger_features(batch, view=view, n_objects=16, features=["pt", "deta", "dphi"])
        np.testing.assert_allclose((xa[..., 0] * xa[..., 1]).sum(1) / xa[..., 0].sum(1), 0, atol=1e-4)
        np.testing.assert_allclose((xa[..., 0] * xa[..., 2]).sum(1) / xa[..., 0].sum(1), 0, atol=1e-4)
    xt, _ = F.trigger_features(batch, view="towers", features=["charge", "pid"])
    assert not xt.any()  # towers have no charge or type


def test_jet_features_physics(batch, B):
    jf = F.jet_features(batch, view="candidates")
    assert jf.shape == (B, len(F.JET_FEATURES)) and np.isfinite(jf).all()
    i = {f: k for k, f in enumerate(F.JET_FEATURES)}
    top, qcd = batch["label"] == 1, batch["label"] == 0
    assert np.median(jf[top, i["mass"]]) > np.median(jf[qcd, i["mass"]]) + 40
    assert np.median(jf[top, i["tau32"]]) < np.median(jf[qcd, i["tau32"]])
    np.testing.assert_array_equal(jf[:, i["multiplicity"]], batch["n_candidates"])
    assert ((jf[:, i["tau21"]] >= 0) & (jf[:, i["tau21"]] <= 1.5)).all()


def test_exclusive_kt_axes_match_fastjet(batch):
    import fastjet

    x, mask = F.trigger_features(batch, view="candidates", n_objects=16, features=["pt"])
    c = batch["candidates"][:30].astype(np.float64)
    m = mask[:30]
    pt, eta, phi = c[..., 0] * m, c[..., 1], c[..., 2]
    p4 = F._four_vectors(pt, eta, phi, m)
    kt = fastjet.JetDefinition(fastjet.kt_algorithm, 1000.0)
    for n_axes in (2, 3):
        axes, amask = F.exclusive_kt_axes(p4, m, n_axes)
        for j in range(30):
            pj = [fastjet.PseudoJet(*map(float, v)) for v in p4[j][m[j]]]
            ref = fastjet.ClusterSequence(pj, kt).exclusive_jets(n_axes)
            ref = sorted((r.px(), r.py(), r.pz(), r.E()) for r in ref)
            ours = sorted(map(tuple, axes[j][amask[j]]))
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6)


def test_unknown_names():
    b = {}
    with pytest.raises(FpgatagError, match="particle feature 'log_ptt' is unknown"):
        F.particle_features(b, features=["deta", "log_ptt"])
    with pytest.raises(FpgatagError, match="trigger feature 'eta' is unknown"):
        F.trigger_features(b, features=["eta"])
    with pytest.raises(FpgatagError, match="jet feature 'tau43' is unknown"):
        F.jet_features(b, features=["tau43"])
    with pytest.raises(FpgatagError, match="trigger view 'pixels'"):
        F.trigger_features({"pixels": None}, view="pixels")


def test_views_are_quantized(batch):
    from fpgatag.data.views import ViewSettings

    s = ViewSettings()
    c = batch["candidates"]
    real = np.arange(16)[None, :] < batch["n_candidates"][:, None]
    for col, lsb in ((0, s.pt_lsb), (1, s.angle_lsb), (2, s.angle_lsb)):
        v = c[..., col][real] / lsb
        np.testing.assert_allclose(v, np.round(v), atol=2e-3)
    t = batch["towers"]
    treal = np.arange(16)[None, :] < batch["n_towers"][:, None]
    assert (t[..., 0][treal] >= s.tower_threshold).all()
    assert np.all(np.diff(t[..., 0], axis=1) <= 0)
    np.testing.assert_allclose(t[..., 0][treal], (t[..., 3] + t[..., 4])[treal] / np.cosh(t[..., 1][treal]), rtol=1e-4)
    # pid codes are valid candidate types
    assert set(np.unique(c[..., 4][real]).astype(int)) <= set(range(len(schema.CANDIDATE_TYPES)))
