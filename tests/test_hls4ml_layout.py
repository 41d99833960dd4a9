"""The Level-1 benchmark's inputs in the hls4ml LHC jet dataset's terms: each feature family against a
hand computation on a small jet, the public file's layout read like a native file, `views --hls4ml-inputs`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.data import hls4ml as H
from fpgatag.data.io import open_jets
from fpgatag.data.readers import from_four_vectors

ROOT = Path(__file__).resolve().parents[1]


def fpgatag(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fpgatag.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env)


def _four(pt, eta, phi, m=0.0):
    """(px, py, pz, E) of a particle of mass m."""
    px, py, pz = pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta)
    return np.array([px, py, pz, math.sqrt(px * px + py * py + pz * pz + m * m)])


# three hard particles close together and a soft one far out: mMDT drops the soft one, keeps the three
HARD = [(400.0, 0.0, 0.0), (300.0, 0.1, 0.05), (200.0, -0.05, 0.15)]
SOFT = (5.0, 0.5, -0.5)


def _jet(parts=HARD + [SOFT]):
    return np.stack([_four(*p) for p in parts])


def test_mmdt_drops_the_soft_wide_branch_and_keeps_a_balanced_split():
    assert H.mmdt_constituents(_jet()).tolist() == [0, 1, 2]
    # z = 5 / 905 < 0.1 is dropped; with a 150 GeV particle (z = 150 / 1050 > 0.1) the jet stays whole
    assert H.mmdt_constituents(_jet(HARD + [(150.0, 0.5, -0.5)])).tolist() == [0, 1, 2, 3]
    # C/A first joins the two closest (dR 0.05); the third, at dR 0.4 with z = 40 / 840 < 0.1, is dropped and
    # the balanced pair (z = 0.5) is kept
    two = _jet([(400.0, 0.0, 0.0), (400.0, 0.05, 0.0), (40.0, 0.4, 0.0)])
    assert H.mmdt_constituents(two).tolist() == [0, 1]
    assert H.mmdt_constituents(_jet([HARD[0]])).tolist() == [0]


def test_jet_features_against_a_hand_computation():
    f = dict(zip(H.JET_FEATURES, H.one_jet_features(_jet())))
    # ungroomed: multiplicity and sum z ln z over all four
    pts = [p[0] for p in HARD + [SOFT]]
    assert f["j_multiplicity"] == 4
    assert f["j_zlogz"] == pytest.approx(sum(p / 905 * math.log(p / 905) for p in pts), rel=1e-9)
    # groomed jet = the three hard particles: z = 4/9, 3/9, 2/9 and the pairwise distances (massless: y = eta)
    z1, z2, z3 = 4 / 9, 3 / 9, 2 / 9
    t12, t13, t23 = math.hypot(0.1, 0.05), math.hypot(0.05, 0.15), math.hypot(0.15, 0.10)
    m = _jet(HARD).sum(axis=0)
    assert f["j_mass_mmdt"] == pytest.approx(math.sqrt(m[3] ** 2 - m[0] ** 2 - m[1] ** 2 - m[2] ** 2), rel=1e-9)
    assert f["j_c1_b0_mmdt"] == pytest.approx(z1 * z2 + z1 * z3 + z2 * z3, rel=1e-6)
    for b in (1, 2):
        e2 = z1 * z2 * t12 ** b + z1 * z3 * t13 ** b + z2 * z3 * t23 ** b
        e3 = z1 * z2 * z3 * (t12 * t13 * t23) ** b
        lo, mid = sorted([t12, t13, t23])[:2]
        e3_1, e3_2 = z1 * z2 * z3 * lo ** b, z1 * z2 * z3 * (lo * mid) ** b
        assert f[f"j_c1_b{b}_mmdt"] == pytest.approx(e2, rel=1e-6)
        assert f[f"j_c2_b{b}_mmdt"] == pytest.approx(e3 / e2 ** 2, rel=1e-5)
        assert f[f"j_d2_b{b}_mmdt"] == pytest.approx(e3 / e2 ** 3, rel=1e-5)
        assert f[f"j_m2_b{b}_mmdt"] == pytest.approx(e3_1 / e2, rel=1e-5)
        assert f[f"j_n2_b{b}_mmdt"] == pytest.approx(e3_2 / e2 ** 2, rel=1e-5)
        e3_a1 = z1 * z2 * z3 * t12 * t13 * t23
        assert f[f"j_d2_a1_b{b}_mmdt"] == pytest.approx(e3_a1 / e2 ** (3 / b), rel=1e-5)
    # a groomed jet of one particle: every ratio is 0, the mass is the particle's
    one = dict(zip(H.JET_FEATURES, H.one_jet_features(_jet([HARD[0]]))))
    assert one["j_c1_b1_mmdt"] == 0 and one["j_d2_b1_mmdt"] == 0 and one["j_multiplicity"] == 1


def test_constituent_features_against_a_hand_computation():
    # a jet stretched along eta (its principal axis), near phi = pi so that phi_rel must wrap
    parts = [(300.0, 1.0, math.pi - 0.01), (200.0, 1.2, -math.pi + 0.01), (100.0, 0.7, math.pi - 0.01)]
    four = np.stack([_four(*p) for p in parts])[None]
    particles, n, jet = from_four_vectors(four[..., 3], four[..., 0], four[..., 1], four[..., 2])
    c16, nc = H.constituent_features({"particles": particles, "n_particles": n, "jet": jet}, n_constituents=4)
    assert c16.shape == (1, 4, 16) and nc.tolist() == [3] and not c16[0, 3].any()
    x = {name: c16[0, :3, i].astype(np.float64) for i, name in enumerate(H.CONSTITUENT_16)}
    jpx, jpy, jpz, je = four[0].sum(axis=0)
    jpt = math.hypot(jpx, jpy)
    jeta, jphi = math.asinh(jpz / jpt), math.atan2(jpy, jpx)
    np.testing.assert_allclose(x["j1_pt"], [300, 200, 100], rtol=1e-6)
    np.testing.assert_allclose(x["j1_ptrel"], np.array([300, 200, 100]) / jpt, rtol=1e-5)
    np.testing.assert_allclose(x["j1_erel"], four[0, :, 3] / je, rtol=1e-5)
    np.testing.assert_allclose(x["j1_etarel"], [1.0 - jeta, 1.2 - jeta, 0.7 - jeta], atol=1e-5)
    dphi = [(p[2] - jphi + math.pi) % (2 * math.pi) - math.pi for p in parts]
    np.testing.assert_allclose(x["j1_phirel"], dphi, atol=1e-5)
    assert np.abs(x["j1_phirel"]).max() < 0.05          # wrapped, not 2 pi apart
    np.testing.assert_allclose(x["j1_deltaR"], np.hypot(x["j1_etarel"], x["j1_phirel"]), atol=1e-6)
    np.testing.assert_allclose(x["j1_costheta"], four[0, :, 2] / np.linalg.norm(four[0, :, :3], axis=1), atol=1e-6)
    theta = [2 * math.atan(math.exp(-p[1])) for p in parts]
    np.testing.assert_allclose(x["j1_costhetarel"], np.cos(np.array(theta) - 2 * math.atan(math.exp(-jeta))), atol=1e-6)
    # the rotation keeps distances, puts the principal axis (here about eta) on phirot, third moment >= 0
    np.testing.assert_allclose(np.hypot(x["j1_etarot"], x["j1_phirot"]), x["j1_deltaR"], atol=1e-5)
    assert np.abs(x["j1_etarot"]).max() < 0.03 < np.abs(x["j1_phirot"]).max()
    assert (x["j1_pt"] * x["j1_phirot"] ** 3).sum() >= 0
    c3 = H.three_features(c16)
    np.testing.assert_array_equal(c3[0, :3], np.stack([x["j1_pt"], x["j1_etarel"], x["j1_phirel"]], axis=1))


PARTICLE_NAMES = list(H.CONSTITUENT_16) + ["j1_pdgid"]   # the public files list one name more than columns
LABELS = ["j_g", "j_q", "j_w", "j_z", "j_t"]


def _public_file(path, n_jets=6, seed=0):
    """A small file in the public dataset's own layout: its dataset and feature names, 150 constituents
    per jet in a scrambled order (the reader sorts by pT), jet features among other columns."""
    import h5py

    rng = np.random.default_rng(seed)
    four = np.zeros((n_jets, 150, 4))
    for j in range(n_jets):
        k = rng.integers(3, 12)
        for i in range(k):
            four[j, i] = _four(rng.uniform(1, 300), rng.normal(0, 0.2), rng.normal(0, 0.2), 0.14)
    particles, n, jet = from_four_vectors(four[..., 3], four[..., 0], four[..., 1], four[..., 2], max_particles=150)
    c16, _ = H.constituent_features({"particles": particles, "n_particles": n, "jet": jet}, 150)
    scrambled = c16[:, rng.permutation(150)]
    jet_names = ["j_ptfrac", "j_pt", "j_eta", "j_mass"] + list(H.JET_FEATURES[::-1]) + LABELS + ["j_undef", "j_index"]
    jets = rng.normal(size=(n_jets, len(jet_names))).astype(np.float32)
    labels = np.arange(n_jets) % 5
    for i, name in enumerate(LABELS):
        jets[:, jet_names.index(name)] = labels == i
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = scrambled
        f["particleFeatureNames"] = np.array([s.encode() for s in PARTICLE_NAMES])
        f["jets"] = jets
        f["jetFeatureNames"] = np.array([s.encode() for s in jet_names])
    return c16, jets[:, [jet_names.index(nm) for nm in H.JET_FEATURES]], labels


KEYS = ["label", "constituents_3", "constituents_16", "n_constituents", "jet_features"]


def test_public_layout_reads_like_a_native_file(tmp_path):
    path = tmp_path / "jetImage_0_150p_0_10000.h5"
    c16, jf, labels = _public_file(path)
    with open_jets(path) as src:
        assert src.format == "hls4ml" and src.classes == ["gluon", "quark", "w", "z", "top"]
        b = src.read(keys=KEYS)
    np.testing.assert_array_equal(b["label"], labels)
    np.testing.assert_array_equal(b["constituents_16"], c16)     # pT order restored, padding last
    np.testing.assert_array_equal(b["constituents_3"], H.three_features(c16))
    np.testing.assert_array_equal(b["jet_features"], jf)          # picked by name, not position
    assert b["constituents_16"].shape == (6, 150, 16) and (b["n_constituents"] >= 3).all()

    out = tmp_path / "native.h5"
    res = fpgatag("views", path, "-o", out, "--hls4ml-inputs")
    assert res.returncode == 0, res.stderr
    with open_jets(out) as nat:
        assert nat.format == "native" and nat.attrs["hls4ml"]["n_constituents"] == 150
        nb = nat.read(keys=KEYS)
        names = {k: json.loads(nat.f[p].attrs["names"]) for k, p in H.HLS4ML_KEYS.items() if k in H.HLS4ML_NAMES}
    assert names == {k: list(v) for k, v in H.HLS4ML_NAMES.items()}
    assert {k: nb[k].shape for k in KEYS} == {k: b[k].shape for k in KEYS}
    np.testing.assert_array_equal(nb["n_constituents"], b["n_constituents"])
    # rebuilt from the four-vectors, the constituent features reproduce the file's columns
    np.testing.assert_allclose(nb["constituents_16"], b["constituents_16"], rtol=2e-4, atol=2e-4)
    # the first N of the stored 150 are the features built with N
    small = H.constituent_features(open_jets(out).read(keys=["particles", "n_particles", "jet"]), 8)[0]
    np.testing.assert_array_equal(nb["constituents_16"][:, :8], small)


def test_native_file_without_the_group_refuses_the_keys(tmp_path):
    from fpgatag.data.reviews import remake_views

    bad = tmp_path / "jetImage_bad.h5"
    _public_file(bad)
    plain = remake_views(bad, tmp_path / "plain.h5", {"n_candidates": 8})
    with open_jets(plain) as src:
        with pytest.raises(FpgatagError, match=r"/hls4ml.*--hls4ml-inputs"):
            src.read(0, 2, keys=["constituents_3"])
    import h5py

    with h5py.File(bad, "r+") as f:
        del f["particleFeatureNames"]
        f["particleFeatureNames"] = np.array([s.encode() for s in PARTICLE_NAMES if s != "j1_etarot"])
    with open_jets(bad) as src:
        with pytest.raises(FpgatagError, match="j1_etarot"):
            src.read(0, 2, keys=["constituents_16"])


def test_merge_keeps_the_benchmark_inputs_and_refuses_a_mix(tmp_path):
    import h5py

    from fpgatag.data.merge import merge
    from fpgatag.data.reviews import remake_views

    shards = []
    for i in range(2):
        _public_file(tmp_path / f"p{i}.h5", seed=i)
        shards.append(remake_views(tmp_path / f"p{i}.h5", tmp_path / f"n{i}.h5", {},
                                   hls4ml=H.Hls4mlSettings(n_constituents=32)))
        with h5py.File(shards[-1], "r+") as f:   # two "shards" of one job: their uids must differ
            f["jets/uid"][...] = f["jets/uid"][...] + 100 * i
    parts = [open_jets(s).read(keys=KEYS) for s in shards]
    for copy in (False, True):
        with open_jets(merge(tmp_path / f"m{copy}.h5", shards, copy=copy)) as src:
            b = src.read(keys=KEYS)
        for k in KEYS:
            np.testing.assert_array_equal(b[k], np.concatenate([p[k] for p in parts]), err_msg=k)
    bare = remake_views(tmp_path / "p0.h5", tmp_path / "bare.h5", {})
    with h5py.File(bare, "r+") as f:
        f["jets/uid"][...] = f["jets/uid"][...] + 1000
    with pytest.raises(FpgatagError, match=r"bare.h5: .*no benchmark inputs"):
        merge(tmp_path / "mix.h5", [shards[0], bare])
    short = remake_views(tmp_path / "p1.h5", tmp_path / "short.h5", {}, hls4ml=H.Hls4mlSettings(n_constituents=16))
    with h5py.File(short, "r+") as f:
        f["jets/uid"][...] = f["jets/uid"][...] + 2000
    with pytest.raises(FpgatagError, match=r"benchmark inputs of different sizes \(\[16, 32\] constituents\); "
                                           r"rebuild them with the same --hls4ml-constituents"):
        merge(tmp_path / "sizes.h5", [shards[0], short])
    assert not (tmp_path / "sizes.h5").exists() and not (tmp_path / "mix.h5").exists()
