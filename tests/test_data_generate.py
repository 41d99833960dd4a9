"""The generator: physics of the shared dataset, determinism, shards, the process registry."""

from __future__ import annotations

import numpy as np
import pytest

from fpgatag.core import schema
from fpgatag.core.errors import FpgatagError
from fpgatag.data.generate import GeneratorSettings, generate, plan_chunks, split_settings
from fpgatag.data.io import open_jets
from fpgatag.data.merge import merge
from fpgatag.data.views import ViewSettings

MASS = schema.col("jet", "mass")
TINY = dict(jets_per_class=20, seed=7, settings={"chunk_jets": 10})


def _content(path):
    with open_jets(path) as src:
        return src.read()


def _assert_same(a, b):
    for key in schema.BATCH_KEYS:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_physics_of_generated_jets(jets_file):
    with open_jets(jets_file) as src:
        b = src.read(keys=["label", "uid", "jet", "n_particles", "particles", "n_towers"])
    qcd, top = b["label"] == 0, b["label"] == 1
    assert qcd.sum() == top.sum() == src.n_jets // 2
    assert len(np.unique(b["uid"])) == src.n_jets
    pt, eta = b["jet"][:, 0], b["jet"][:, 1]
    assert pt.min() >= 550 and pt.max() < 650 and np.abs(eta).max() < 2
    assert 150 <= np.median(b["jet"][top, MASS]) <= 200
    assert np.median(b["jet"][qcd, MASS]) < 120
    assert b["n_particles"][top].mean() > b["n_particles"][qcd].mean()
    # constituents are pT ordered and zero padded; no neutrinos
    p = b["particles"]
    assert np.all(np.diff(p[..., 0], axis=1) <= 0)
    pad = np.arange(p.shape[1])[None, :] >= b["n_particles"][:, None]
    assert not p[pad].any()
    assert not np.isin(np.abs(p[..., schema.col("particles", "pdgid")]), (12, 14, 16)).any()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("gen") / "tiny.h5", workers=1, **TINY)


def test_same_seed_same_content_any_workers(tiny, tmp_path):
    again = generate(tmp_path / "again.h5", workers=2, **TINY)
    _assert_same(_content(tiny), _content(again))
    other = generate(tmp_path / "other.h5", workers=1, **{**TINY, "seed": 8, "jets_per_class": 10})
    assert not np.array_equal(_content(other)["particles"], _content(tiny)["particles"][:10])


def test_shards_disjoint_and_merge_to_whole(tiny, tmp_path):
    shards = [generate(tmp_path / f"s{i}.h5", shard=(i, 2), workers=1, **TINY) for i in range(2)]
    u0, u1 = (_content(s)["uid"] for s in shards)
    assert len(u0) == len(u1) == 20
    assert not np.intersect1d(u0, u1).size
    merged = merge(tmp_path / "sub" / "merged.h5", shards)  # virtual datasets, relative paths
    _assert_same(_content(merged), _content(tiny))
    copied = merge(tmp_path / "copied.h5", shards, copy=True)
    _assert_same(_content(copied), _content(tiny))
    shards[1].rename(tmp_path / "moved.h5")  # a virtual file must not read zeros for a lost shard
    with pytest.raises(FpgatagError, match="s1.h5 of this merged file is missing"):
        open_jets(merged)
    (tmp_path / "moved.h5").rename(shards[1])
    with pytest.raises(FpgatagError, match="overlap"):
        merge(tmp_path / "bad.h5", [shards[0], shards[0]])
    assert not (tmp_path / "bad.h5").exists()


def test_plan_is_independent_of_workers_and_sharded_deterministically():
    gen, views = GeneratorSettings(chunk_jets=100), ViewSettings()
    whole = plan_chunks(("qcd", "top"), 1000, 1, None, gen, views)
    parts = [plan_chunks(("qcd", "top"), 1000, 1, (i, 3), gen, views) for i in range(3)]
    assert [t for p in parts for t in p] == whole
    assert sum(t.n_jets for t in whole) == 2000
    assert GeneratorSettings().pthat_min == pytest.approx(330.0)


@pytest.mark.parametrize("bad, match", [
    (dict(processes=("qcd", "higgsino")), "unknown process.*qcd, top, w, z, quark, gluon"),
    (dict(settings={"pt_min": 650, "pt_max": 550}), "empty pT window"),
    (dict(settings={"bogus": 1}), "unknown setting"),
    (dict(shard=(3, 2)), "shard"),
    (dict(jets_per_class=5, shard=(1, 2)), "shard 1/2: this shard is empty"),
])
def test_bad_arguments(tmp_path, bad, match):
    out = tmp_path / "x.h5"
    with pytest.raises(FpgatagError, match=match):
        generate(out, **{"jets_per_class": 5, **bad})
    assert not out.exists()


def test_settings_routing():
    gen, views = split_settings({"pthat_min": 500, "n_towers": 8, "mpi": False})
    assert gen.pthat_min == 500 and not gen.mpi and views.n_towers == 8


@pytest.mark.slow
def test_other_processes(tmp_path):
    """W, Z, light-quark and gluon jets through the same interface (few jets: sanity only)."""
    out = generate(tmp_path / "wz.h5", processes=("w", "z", "quark", "gluon"), jets_per_class=12, seed=3)
    with open_jets(out) as src:
        assert src.classes == ["w", "z", "quark", "gluon"]
        b = src.read()
    m = b["jet"][:, MASS]
    assert 60 < np.median(m[b["label"] == 0]) < 100
    assert 70 < np.median(m[b["label"] == 1]) < 110
    assert np.median(m[b["label"] == 2]) < 120
    assert len(np.unique(b["uid"])) == 48


def test_classes_alternate_in_file(tiny):
    labels = _content(tiny)["label"]
    np.testing.assert_array_equal(labels, np.tile([0, 1], 20))


def test_merge_compares_view_settings_as_values(tmp_path):
    """Files written by the CLI and by the Python API store pi/720 with other last digits: same setting."""
    import json

    import h5py

    from fpgatag.data.merge import _same_settings

    shards = [generate(tmp_path / f"s{i}.h5", shard=(i, 2), workers=1, **TINY) for i in range(2)]
    with h5py.File(shards[1], "r+") as f:
        views = json.loads(f.attrs["views"])
        views["angle_lsb"] = float(repr(views["angle_lsb"])[:-1])  # one digit fewer, same value to 1e-15
        f.attrs["views"] = json.dumps(views)
    assert merge(tmp_path / "m.h5", shards).is_file()
    with h5py.File(shards[1], "r+") as f:
        views["n_candidates"] = 8
        f.attrs["views"] = json.dumps(views)
    with pytest.raises(FpgatagError, match="trigger-view settings"):
        merge(tmp_path / "m2.h5", shards)
    assert _same_settings({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}) and not _same_settings({"a": 1}, {"a": 2})


# ----------------------------------------------------------------------------------------------
# Speed levers: every window jet of an event, the parton-level veto, the opt-in fast preset


def _batch(process="qcd", n_events=60, seed=11, hooks=None, **settings):
    from fpgatag.data.generate import make_pythia, pythia_settings
    from fpgatag.data.processes import get_process

    gen = GeneratorSettings(**settings)
    pythia = make_pythia(pythia_settings(get_process(process), gen, seed), hooks)
    return pythia, gen, pythia.nextBatch(n_events)


def _window_jets_one_by_one(batch, gen):
    """Window jets per event from FastJet's single-event interface on the final visible particles
    (an independent path to the same selection)."""
    import awkward as ak
    import fastjet

    prt = batch.prt
    jets = []
    for ev in range(len(prt)):
        p = prt[ev]
        final = (ak.to_numpy(p.status) > 0) & ~np.isin(np.abs(ak.to_numpy(p.id)), (12, 14, 16))
        cols = np.stack([ak.to_numpy(getattr(p.p, c)) for c in ("px", "py", "pz", "e")], axis=1)[final]
        four = [fastjet.PseudoJet(*map(float, row)) for row in cols]
        cs = fastjet.ClusterSequence(four, fastjet.JetDefinition(fastjet.antikt_algorithm, gen.jet_r))
        jets += [(ev, j.pt()) for j in cs.inclusive_jets(gen.pt_min)
                 if j.pt() < gen.pt_max and abs(j.eta()) < gen.eta_max]
    return sorted(jets)


def test_every_window_jet_of_an_event_is_kept_with_distinct_uids():
    from fpgatag.data.generate import ChunkTask, _Charges, process_events, run_chunk

    # a hard pTHat cut puts both leading jets of most events in the window
    pythia, gen, batch = _batch(pthat_min=560.0, pthat_max=620.0, parton_veto=0.0)
    out = process_events(batch, get_proc("qcd"), gen, _Charges(pythia))
    got = sorted(zip(out["_event"].tolist(), out["jet"][:, 0].tolist()))
    want = _window_jets_one_by_one(batch, gen)
    assert [e for e, _ in got] == [e for e, _ in want]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], rtol=1e-3)
    assert np.bincount(out["_event"]).max() == 2  # events with two window jets exist and keep both
    task = ChunkTask("qcd", 0, 3, 40, 5, {**gen.to_dict(), "chunk_jets": 40}, ViewSettings().to_dict())
    res = run_chunk(task)
    assert len(np.unique(res["uid"])) == 40 and "_event" not in res


def get_proc(name):
    from fpgatag.data.processes import get_process

    return get_process(name)


def test_parton_veto_only_stops_events_without_a_window_jet():
    """Audit mode records the decision of every event; no accepted jet comes from an event it would stop."""
    from fpgatag.data.generate import _Charges, parton_veto_hook, process_events

    gen0 = GeneratorSettings()
    hook = parton_veto_hook(gen0, apply=False)
    pythia, gen, batch = _batch("top", n_events=150, seed=5, hooks=hook)
    assert len(hook.decisions) == len(hook.leading_shower) == len(batch)
    would_veto = np.asarray(hook.decisions)
    threshold = gen0.parton_veto * gen0.pt_min
    in_shower = np.asarray(hook.leading_shower) < threshold
    assert 0.2 < would_veto.mean() < 0.95 and 0.1 < in_shower.mean() <= would_veto.mean()
    assert np.isfinite(hook.leading_shower).all()  # the in-shower check ran for every event
    out = process_events(batch, get_proc("top"), gen, _Charges(pythia))
    assert out["jet"].shape[0] > 0 and not would_veto[out["_event"]].any()
    # applied, the veto stops events in the shower or before hadronization; the file counts them as generated
    from fpgatag.data.generate import ChunkTask, run_chunk

    res = run_chunk(ChunkTask("top", 1, 0, 10, 9, {**gen0.to_dict(), "chunk_jets": 10}, ViewSettings().to_dict()))
    events, vetoed, in_shower = (int(v) for v in res["_events"])
    assert 0 < in_shower <= vetoed < events


def test_fast_preset_is_opt_in_recorded_and_refuses_contradictions(tmp_path):
    from fpgatag.data.generate import pythia_settings

    assert GeneratorSettings().physics == "default" and GeneratorSettings().mpi is True
    fast = GeneratorSettings(physics="fast")
    assert fast.mpi is False and fast.pthat_min == pytest.approx(0.7 * fast.pt_min)
    assert "PartonLevel:MPI = off" in pythia_settings(get_proc("qcd"), fast, 1)
    assert GeneratorSettings(**fast.to_dict()) == fast  # the recorded settings rebuild the same preset
    for bad, match in [({"physics": "fast", "mpi": True}, "sets mpi"),
                       ({"physics": "fast", "pthat_min": 400.0}, "sets pthat_min"),
                       ({"physics": "turbo"}, "unknown preset"),
                       ({"parton_veto": 1.0}, "parton_veto")]:
        with pytest.raises(FpgatagError, match=match):
            split_settings(bad)
    out = generate(tmp_path / "fast.h5", jets_per_class=5, seed=2, settings={"physics": "fast", "chunk_jets": 5})
    with open_jets(out) as src:
        g = src.attrs["generator"]
    assert g["physics"] == "fast" and g["mpi"] is False and g["pthat_min"] == pytest.approx(385.0)


def test_hls4ml_lhc_preset_sets_the_dataset_physics_and_refuses_contradictions():
    from fpgatag.core.errors import ArgumentError
    from fpgatag.data.generate import check_job, preset_processes, pythia_settings
    from fpgatag.data.processes import get_process as get_proc

    g = GeneratorSettings(physics="hls4ml-lhc")
    assert (g.ecm, g.jet_r, g.pt_min, g.pt_max, g.eta_max) == (13000.0, 0.8, 800.0, 1200.0, 2.5)
    assert g.mpi is True and g.pthat_min == pytest.approx(480.0)
    assert "Beams:eCM = 13000.0" in pythia_settings(get_proc("w"), g, 1)
    assert GeneratorSettings(**g.to_dict()) == g                         # the recorded settings rebuild it
    assert GeneratorSettings(physics="hls4ml-lhc", pthat_min=400.0).pthat_min == 400.0   # not a preset value
    # the dataset's label order (one-hot j_g, j_q, j_w, j_z, j_t); the other presets keep qcd, top
    assert preset_processes("hls4ml-lhc") == ("gluon", "quark", "w", "z", "top")
    assert preset_processes("default") == preset_processes("fast") == ("qcd", "top")
    d = GeneratorSettings()
    assert (d.ecm, d.pt_min, d.pt_max, d.eta_max) == (14000.0, 550.0, 650.0, 2.0)
    for bad, match in [({"physics": "hls4ml-lhc", "pt_min": 550.0}, "sets pt_min = 800"),
                       ({"physics": "hls4ml-lhc", "ecm": 14000.0}, "sets ecm = 13000"),
                       ({"physics": "hls4ml-lhc", "eta_max": 2.0}, "sets eta_max")]:
        with pytest.raises(FpgatagError, match=match):
            split_settings(bad)
    # the library names its arguments (the command line renames them to its flags)
    for args, name in [(((), 10, 1, 1, None), "processes"), ((("w",), 0, 1, 1, None), "jets_per_class"),
                       ((("w",), 10, 1, 0, None), "workers"), ((("w",), 10, 1, 1, (2, 2)), "shard"),
                       ((("w",), 10, 1, 1, (1, 2)), "shard"), ((("nope",), 10, 1, 1, None), "process"),
                       ((("w",), 10, 1 << 24, 1, None), "seed")]:
        with pytest.raises(ArgumentError, match=f"^{name}[ :]") as exc:
            check_job(*args, settings=None)
        assert exc.value.argument == name and "--" not in str(exc.value).split(":")[0]
