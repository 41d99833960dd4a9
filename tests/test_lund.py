"""Lund trees (fpgatag.data.lund): the declustering of a hand-built jet, invariance under the order of
the constituents, the generate/views hooks and the file group, and the error for a file without trees."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fpgatag.core import schema
from fpgatag.data.lund import LUND_COLUMNS, LundSettings, jet_tree, lund_features, lund_trees

ROOT = Path(__file__).resolve().parents[1]
C = {name: i for i, name in enumerate(LUND_COLUMNS)}


def massless(pt, y, phi):
    return np.array([pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(y), pt * math.cosh(y)])


def rap_phi_pt(p):
    return 0.5 * math.log((p[3] + p[2]) / (p[3] - p[2])), math.atan2(p[1], p[0]), math.hypot(p[0], p[1])


def test_hand_declustered_jet():
    # A, B: two 100 GeV particles 0.1 apart in rapidity; C, D: a soft pair 0.05 apart in phi, about
    # 0.4 away. C/A merges C+D (0.05), then A+B (0.1), then the two pairs: root = (AB, CD),
    # then AB -> A, B on the primary (harder) branch and CD -> C, D on the secondary one.
    a, b = massless(100, -0.05, 0.0), massless(100, 0.05, 0.0)
    c, d = massless(20, 0.0, 0.4), massless(5, 0.0, 0.45)
    nodes, edges = jet_tree(np.stack([a, b, c, d]))
    assert nodes.shape == (3, len(LUND_COLUMNS)) and edges.shape == (3, 3)

    ab, cd = a + b, c + d
    y_ab, phi_ab, pt_ab = rap_phi_pt(ab)
    y_cd, phi_cd, pt_cd = rap_phi_pt(cd)
    assert pt_ab == pytest.approx(200) and y_ab == pytest.approx(0, abs=1e-12)
    delta = math.hypot(y_ab - y_cd, phi_ab - phi_cd)
    assert delta == pytest.approx(0.4, abs=0.02)          # the pair's axis sits between 0.4 and 0.45
    root = nodes[0]
    assert root[C["delta"]] == pytest.approx(delta)
    assert root[C["kt"]] == pytest.approx(pt_cd * delta)
    assert root[C["z"]] == pytest.approx(pt_cd / (pt_ab + pt_cd))
    tot = ab + cd
    assert root[C["m"]] == pytest.approx(math.sqrt(tot[3] ** 2 - tot[0] ** 2 - tot[1] ** 2 - tot[2] ** 2))
    assert root[C["psi"]] == pytest.approx(math.atan((y_ab - y_cd) / (phi_ab - phi_cd)), abs=1e-9)

    prim = nodes[1]  # A, B: equal pT, 0.1 apart in rapidity, same phi
    assert prim[C["delta"]] == pytest.approx(0.1)
    assert prim[C["kt"]] == pytest.approx(10.0)
    assert prim[C["z"]] == pytest.approx(0.5)
    assert prim[C["m"]] == pytest.approx(math.sqrt(2 * 100 * 100 * (math.cosh(0.1) - 1)))
    assert abs(prim[C["psi"]]) == pytest.approx(math.pi / 2)  # same phi: psi = atan(+-inf)

    sec = nodes[2]   # C (20 GeV), D (5 GeV): same rapidity, 0.05 apart in phi
    assert sec[C["delta"]] == pytest.approx(0.05)
    assert sec[C["kt"]] == pytest.approx(5 * 0.05)
    assert sec[C["z"]] == pytest.approx(5 / 25)
    assert sec[C["psi"]] == pytest.approx(0.0)

    assert edges.tolist() == [[-1, 1, 2], [0, -1, -1], [0, -1, -1]]
    assert nodes[:, C["primary"]].tolist() == [1.0, 1.0, 0.0]


def random_jets(n_jets, n_max, seed):
    rng = np.random.default_rng(seed)
    parts = np.zeros((n_jets, n_max, len(schema.PARTICLE_COLUMNS)), np.float32)
    counts = rng.integers(5, n_max, n_jets)
    for j, k in enumerate(counts):
        pt = np.sort(rng.exponential(10, k) + 0.5)[::-1]
        y, phi = rng.normal(0, 0.25, k), rng.normal(0, 0.25, k)
        four = np.stack([massless(*v) for v in zip(pt, y, phi)])
        for col, vals in (("pt", pt), ("eta", y), ("phi", phi), ("px", four[:, 0]), ("py", four[:, 1]),
                          ("pz", four[:, 2]), ("e", four[:, 3])):
            parts[j, :k, schema.PARTICLE_COLUMNS.index(col)] = vals
    return parts, counts.astype(np.int16)


def test_tree_does_not_depend_on_constituent_order():
    parts, counts = random_jets(6, 40, seed=3)
    ref = lund_trees(parts, counts, LundSettings(max_nodes=39))
    assert ref["n_lund"].tolist() == (counts - 1).tolist()
    rng = np.random.default_rng(4)
    shuffled = parts.copy()
    for j, k in enumerate(counts):
        shuffled[j, :k] = parts[j, rng.permutation(k)]
    again = lund_trees(shuffled, counts, LundSettings(max_nodes=39))
    np.testing.assert_array_equal(again["lund_edges"], ref["lund_edges"])
    np.testing.assert_allclose(again["lund"], ref["lund"], rtol=1e-5, atol=1e-6)
    # the model features: padded nodes zero, neighbours beyond the kept nodes dropped
    batch = {**ref}
    x, mask = lund_features(batch, n_nodes=8)
    assert x.shape == (6, 8, 8) and mask.sum() == int(np.minimum(counts - 1, 8).sum())
    assert x[..., 5:].max() <= 8 and not x[~mask].any()


def fpgatag(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fpgatag.cli.main", *map(str, args)], capture_output=True,
                          text=True, env=env)


@pytest.mark.slow
def test_generate_views_and_missing_trees(tmp_path):
    """generate --lund stores the trees; views --lund rebuilds the same trees from the particles of a file
    without them; a Lund preset on a file without trees fails in one line naming the group and the fix."""
    from fpgatag.data.generate import generate
    from fpgatag.data.io import open_jets, write_jets

    with_lund = generate(tmp_path / "lund.h5", jets_per_class=8, seed=5, settings={"chunk_jets": 8},
                         lund=LundSettings())
    with open_jets(with_lund) as src:
        assert src.has_lund
        full = src.read(keys=[*schema.BATCH_KEYS, "lund", "lund_edges", "n_lund"])
        assert (full["n_lund"] == full["n_particles"] - 1).all()
        plain_batch = {k: full[k] for k in schema.BATCH_KEYS}
        attrs = {"classes": src.classes}
    plain = write_jets(tmp_path / "plain.h5", plain_batch, attrs)

    out = tmp_path / "out"
    out.mkdir()
    res = fpgatag("train-teacher", "--data", plain, "--model", "lundnet-5", "-o", out / "run", "--epochs", "1")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if "error" in ln]
    assert len(lines) == 1 and "/lund" in lines[0] and "fpgatag views" in lines[0] and "--lund" in lines[0], res.stderr
    assert not list(out.iterdir())

    res = fpgatag("views", plain, "-o", tmp_path / "rebuilt.h5", "--lund")
    assert res.returncode == 0, res.stderr
    with open_jets(tmp_path / "rebuilt.h5") as src:
        rebuilt = src.read(keys=["lund", "lund_edges", "n_lund", "towers"])
    for key in ("lund_edges", "n_lund"):
        np.testing.assert_array_equal(rebuilt[key], full[key])
    np.testing.assert_allclose(rebuilt["lund"], full["lund"], rtol=1e-6)
    np.testing.assert_array_equal(rebuilt["towers"], full["towers"])  # same view settings, same views


def test_public_dataset_reader_builds_the_trees(tmp_path):
    """A Top Tagging file (E, PX, PY, PZ columns) has no trees: the reader builds them from its particles."""
    import pandas as pd

    from fpgatag.data.io import open_jets

    parts, counts = random_jets(5, 30, seed=7)
    c = {k: schema.PARTICLE_COLUMNS.index(k) for k in ("e", "px", "py", "pz")}
    data = {f"{name}_{i}": (parts[:, i, c[key]] if i < parts.shape[1] else np.zeros(5)).astype(np.float32)
            for i in range(200) for name, key in (("E", "e"), ("PX", "px"), ("PY", "py"), ("PZ", "pz"))}
    data["is_signal_new"] = np.array([0, 1, 0, 1, 0])
    path = tmp_path / "test.h5"
    pd.DataFrame(data).to_hdf(path, key="table")
    with open_jets(path) as src:
        assert src.format == "toptagging"
        b = src.read(keys=["particles", "n_particles", "lund", "lund_edges", "n_lund"])
    ref = lund_trees(b["particles"], b["n_particles"], LundSettings(max_nodes=199))
    assert (b["n_lund"] == counts - 1).all()
    for key in ("lund", "lund_edges", "n_lund"):
        np.testing.assert_array_equal(b[key], ref[key])


@pytest.mark.slow
@pytest.mark.parametrize("copy", [False, True])
def test_merge_keeps_the_trees(tmp_path, copy):
    """merge joins the /lund group of shards (virtual or copied) exactly; a shard without trees is refused."""
    from fpgatag.core.errors import FpgatagError
    from fpgatag.data.generate import generate
    from fpgatag.data.io import open_jets
    from fpgatag.data.merge import merge

    shards = [generate(tmp_path / f"s{i}.h5", jets_per_class=8, seed=5, shard=(i, 2),
                       settings={"chunk_jets": 4}, lund=LundSettings(max_nodes=39)) for i in range(2)]
    merged = merge(tmp_path / "m.h5", shards, copy=copy)
    keys = ["uid", "lund", "lund_edges", "n_lund"]
    parts = []
    for p in shards:
        with open_jets(p) as src:
            parts.append(src.read(keys=keys))
    with open_jets(merged) as src:
        assert src.has_lund
        got = src.read(keys=keys)
    for key in keys:
        np.testing.assert_array_equal(got[key], np.concatenate([b[key] for b in parts]))
    plain = generate(tmp_path / "plain.h5", jets_per_class=8, seed=5, shard=(1, 2), settings={"chunk_jets": 4})
    with pytest.raises(FpgatagError, match="no Lund trees"):
        merge(tmp_path / "bad.h5", [shards[0], plain], copy=copy)
    assert not (tmp_path / "bad.h5").exists()
