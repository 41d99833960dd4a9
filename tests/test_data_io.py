"""Schema round trips, streaming reads, and each public-format reader on a file written in exactly
the public layout (built from jets of the shared generated dataset)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError
from fpgatag.data.io import open_jets, write_jets

N = 40  # jets taken from the shared dataset for these tests


@pytest.fixture(scope="module")
def batch(jets_file):
    with open_jets(jets_file) as src:
        idx = np.sort(np.random.default_rng(0).choice(src.n_jets, N, replace=False))
        return src.read(indices=idx)


def test_native_attrs_and_schema(jets_file):
    with open_jets(jets_file) as src:
        assert src.format == "native"
        assert src.classes == ["qcd", "top"]
        assert src.attrs["schema_version"] == schema.SCHEMA_VERSION
        assert src.attrs["seed"] == 1234
        assert src.attrs["generator"]["pt_min"] == 550.0
        assert src.attrs["views"]["n_towers"] == 16
        assert "versions" in src.attrs["provenance"]
        b = src.read(0, 10)
        assert schema.check_batch(b) == 10
        for key in schema.BATCH_KEYS:
            assert b[key].dtype == schema.DTYPES[key], key
        with h5py.File(jets_file) as f:
            assert json.loads(f["particles/data"].attrs["columns"]) == list(schema.PARTICLE_COLUMNS)


def test_round_trip_and_streaming(tmp_path, batch):
    out = write_jets(tmp_path / "rt.h5", batch, {"classes": ["qcd", "top"], "views": {}})
    with open_jets(out) as src:
        assert src.n_jets == N
        back = src.read()
        for key in schema.BATCH_KEYS:
            np.testing.assert_array_equal(back[key], batch[key], err_msg=key)
        # streaming in odd batches gives the same rows
        parts = list(src.iter_batches(batch_size=7, keys=["uid", "particles"]))
        assert [len(p["uid"]) for p in parts] == [7] * 5 + [5]
        assert set(parts[0]) == {"uid", "particles"}
        np.testing.assert_array_equal(np.concatenate([p["particles"] for p in parts]), batch["particles"])
        # indices (sorted) and ranges
        idx = np.array([1, 5, 6, 30, 39])
        sub = src.read(indices=idx)
        np.testing.assert_array_equal(sub["uid"], batch["uid"][idx])
        np.testing.assert_array_equal(src.read(10, 20)["towers"], batch["towers"][10:20])
        np.testing.assert_array_equal(src.uids(), batch["uid"])
        np.testing.assert_array_equal(src.labels(), batch["label"])
        with pytest.raises(FpgatagError, match="unknown batch key"):
            src.read(keys=["nope"])
        with pytest.raises(FpgatagError, match="sorted"):
            src.read(indices=np.array([5, 1]))


def test_native_wrong_columns(tmp_path, batch):
    out = write_jets(tmp_path / "cols.h5", batch, {"classes": ["qcd", "top"]})
    with h5py.File(out, "a") as f:
        f["trigger/towers"].attrs["columns"] = json.dumps(["a", "b", "c", "d", "e"])
    with pytest.raises(FpgatagError, match="trigger/towers"):
        open_jets(out)


# ---- public layouts ----------------------------------------------------------------------------

def _four_vectors(batch):
    p = batch["particles"]
    c = {k: schema.PARTICLE_COLUMNS.index(k) for k in ("e", "px", "py", "pz")}
    return {k: p[..., i] for k, i in c.items()}


def _check_reader(src, batch, classes, labels, check_ids=False):
    assert src.n_jets == N
    assert src.classes == classes
    b = src.read()
    assert schema.check_batch(b) == N
    np.testing.assert_array_equal(b["label"], labels)
    np.testing.assert_array_equal(b["uid"], np.arange(N))
    np.testing.assert_array_equal(b["n_particles"], batch["n_particles"])
    cols = slice(0, 7) if not check_ids else slice(0, 9)
    np.testing.assert_allclose(b["particles"][..., cols], batch["particles"][..., cols], rtol=2e-4, atol=2e-3)
    full = batch["n_particles"] < 200  # the generator's jet also counts constituents beyond 200
    np.testing.assert_allclose(b["jet"][full], batch["jet"][full], rtol=1e-3, atol=0.05)
    # the trigger view is derived with the generator's code: candidates agree to one LSB
    assert np.abs(b["candidates"][..., 0] - batch["candidates"][..., 0]).max() <= 0.25 + 1e-6
    np.testing.assert_array_equal(b["n_candidates"], batch["n_candidates"])
    assert (b["n_towers"] > 0).all()
    # reading a slice and indices agrees with the full read
    np.testing.assert_array_equal(src.read(5, 9)["particles"], b["particles"][5:9])
    np.testing.assert_array_equal(src.read(indices=np.array([0, 17, 33]))["towers"], b["towers"][[0, 17, 33]])
    return b


def test_toptagging_reader(tmp_path, batch):
    import pandas as pd

    fv = _four_vectors(batch)
    data = {}
    for i in range(200):
        for name, key in (("E", "e"), ("PX", "px"), ("PY", "py"), ("PZ", "pz")):
            data[f"{name}_{i}"] = fv[key][:, i].astype(np.float32)
    for name in ("truthE", "truthPX", "truthPY", "truthPZ"):
        data[name] = np.zeros(N, dtype=np.float32)
    data["ttv"] = np.zeros(N, dtype=np.int64)
    data["is_signal_new"] = batch["label"].astype(np.int64)
    path = tmp_path / "train.h5"
    pd.DataFrame(data).to_hdf(path, key="table")
    with open_jets(path) as src:
        assert src.format == "toptagging"
        _check_reader(src, batch, ["qcd", "top"], batch["label"])


HLS4ML_CONSTITUENTS = ("j1_px", "j1_py", "j1_pz", "j1_e", "j1_erel", "j1_pt", "j1_ptrel", "j1_eta", "j1_etarel",
                       "j1_etarot", "j1_phi", "j1_phirel", "j1_phirot", "j1_deltaR", "j1_costheta", "j1_costhetarel")
HLS4ML_JETS = ("j_ptfrac", "j_pt", "j_eta", "j_mass", "j_tau1_b1", "j_tau2_b1", "j_tau3_b1", "j_multiplicity",
               "j_g", "j_q", "j_w", "j_z", "j_t", "j_undef", "j_index")


def test_hls4ml_reader(tmp_path, batch):
    fv = _four_vectors(batch)
    p = batch["particles"][:, :150]
    cons = np.zeros((N, 150, len(HLS4ML_CONSTITUENTS)), dtype=np.float32)
    cons[..., 0], cons[..., 1], cons[..., 2], cons[..., 3] = (fv[k][:, :150] for k in ("px", "py", "pz", "e"))
    cons[..., 5] = p[..., 0]
    cons[..., 7] = p[..., 1]
    cons[..., 10] = p[..., 2]
    jets = np.zeros((N, len(HLS4ML_JETS)), dtype=np.float32)
    # hls4ml classes are (gluon, quark, w, z, top): put qcd jets in "quark" and top jets in "top"
    labels = np.where(batch["label"] == 1, 4, 1)
    jets[np.arange(N), HLS4ML_JETS.index("j_g") + labels] = 1
    path = tmp_path / "jetImage_0_150p.h5"
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = cons
        f["jets"] = jets
        f["jetFeatureNames"] = np.array([n.encode() for n in HLS4ML_JETS])
        # the real files name one more particle feature than there are columns
        f["particleFeatureNames"] = np.array([n.encode() for n in HLS4ML_CONSTITUENTS + ("j1_pdgid",)])
        f["jetImage"] = np.zeros((N, 2, 2), dtype=np.float32)
    keep = batch["n_particles"] <= 150
    sub = {k: v[keep] for k, v in batch.items()}
    with open_jets(path) as src:
        assert src.format == "hls4ml"
        b = src.read()
        np.testing.assert_array_equal(b["label"], labels)
        assert src.classes == ["gluon", "quark", "w", "z", "top"]
        np.testing.assert_allclose(b["particles"][keep][..., :7], sub["particles"][..., :7], rtol=2e-4, atol=2e-3)
        np.testing.assert_array_equal(b["n_particles"][keep], sub["n_particles"])
        assert (b["particles"][..., 8] == 0).all()  # no particle identification in this dataset


def test_jetclass_reader(tmp_path, batch):
    import awkward as ak
    import uproot

    n = batch["n_particles"].astype(np.int64)
    p = batch["particles"]
    rows = np.concatenate([p[i, :n[i]] for i in range(N)])
    col = {c: rows[:, i] for i, c in enumerate(schema.PARTICLE_COLUMNS)}
    apdg = np.abs(col["pdgid"])
    charged = col["charge"] != 0
    flags = {
        "isElectron": apdg == 11, "isMuon": apdg == 13, "isPhoton": apdg == 22,
        "isChargedHadron": charged & ~np.isin(apdg, (11, 13)),
        "isNeutralHadron": ~charged & (apdg != 22),
    }
    fields = {"px": col["px"], "py": col["py"], "pz": col["pz"], "energy": col["e"],
              "deta": col["eta"], "dphi": col["phi"], "charge": col["charge"]}
    fields.update({k: v.astype(np.float32) for k, v in flags.items()})
    part = ak.unflatten(ak.zip({k: np.asarray(v, dtype=np.float32) for k, v in fields.items()}), n)
    label_names = ["label_QCD", "label_Hbb", "label_Tbqq", "label_Wqq"]
    onehot = np.zeros((N, 4), dtype=np.float32)
    onehot[np.arange(N), np.where(batch["label"] == 1, 2, 0)] = 1
    branches = {"part": part, "jet_pt": batch["jet"][:, 0], "jet_eta": batch["jet"][:, 1],
                "jet_nparticles": n.astype(np.float32)}
    branches.update({name: onehot[:, i] for i, name in enumerate(label_names)})
    path = tmp_path / "TTBar_000.root"
    with uproot.recreate(path) as f:
        types = {k: (v.type.content if k == "part" else v.dtype) for k, v in branches.items()}
        tree = f.mktree("tree", types)
        tree.extend(branches)
    with open_jets(path) as src:
        assert src.format == "jetclass"
        # JetClass uses representative PDG ids (211, 130) for hadrons: compare the type code instead
        b = _check_reader(src, batch, ["qcd", "hbb", "top", "w"], np.where(batch["label"] == 1, 2, 0))
        np.testing.assert_array_equal(b["candidates"][..., 4], batch["candidates"][..., 4])
        np.testing.assert_array_equal(b["particles"][..., 7], batch["particles"][..., 7])


@pytest.mark.parametrize("layout", ["empty_h5", "unknown_keys", "toptagging_no_label", "hls4ml_no_labels",
                                    "jetclass_no_tree"])
def test_wrong_layouts(tmp_path, layout):
    path = tmp_path / ("x.root" if layout.startswith("jetclass") else "x.h5")
    if layout == "empty_h5":
        h5py.File(path, "w").close()
    elif layout == "unknown_keys":
        with h5py.File(path, "w") as f:
            f["foo"] = np.zeros(3)
    elif layout == "toptagging_no_label":
        import pandas as pd

        pd.DataFrame({"E_0": np.ones(3), "PX_0": np.ones(3), "PY_0": np.ones(3), "PZ_0": np.ones(3)}).to_hdf(path, key="table")
    elif layout == "hls4ml_no_labels":
        with h5py.File(path, "w") as f:
            f["jetConstituentList"] = np.zeros((2, 3, 4), dtype=np.float32)
            f["jets"] = np.zeros((2, 2), dtype=np.float32)
            f["jetFeatureNames"] = np.array([b"j_pt", b"j_eta"])
            f["particleFeatureNames"] = np.array([b"j1_px", b"j1_py", b"j1_pz", b"j1_e"])
    else:
        import uproot

        with uproot.recreate(path) as f:
            t = f.mktree("events", {"x": np.float32})
            t.extend({"x": np.zeros(2, dtype=np.float32)})
    expect = {"empty_h5": "unknown layout", "unknown_keys": "unknown layout", "toptagging_no_label": "is_signal_new",
              "hls4ml_no_labels": "j_g", "jetclass_no_tree": "TTree 'tree'"}[layout]
    with pytest.raises(FpgatagError, match=expect) as info:
        open_jets(path)
    assert str(path) in str(info.value)
