"""LundNet (fpgatag.nn.lundnet) and transfer between teachers (train-teacher --init-from / --freeze):
padding nodes change nothing, the parameter count is the published architecture's, frozen blocks keep
the source's weights exactly while the dense layers learn, fine-tuning moves every block."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest

from fpgatag.core import schema
from fpgatag.data.lund import LundSettings, lund_trees
from fpgatag.data.views import ViewSettings, compute_views

TINY_LUND = {"conv_channels": [[8, 8], [16, 16]], "fc": [[16, 0.1]], "fusion": True, "graph_columns": [-3, -2, -1]}
TINY_PN = {"k": 4, "conv_channels": [[8, 8, 8], [16, 16, 16]], "fc": [[16, 0.1]], "coordinates": [0, 1]}
TRAINING = {"optimizer": "adam", "lr": 0.003, "schedule": "constant", "batch_size": 64, "epochs": 1}


def synthetic_jets(n_per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Toy jets: class 0 one prong, class 1 three prongs (massless particles around each prong axis)."""
    rng = np.random.default_rng(seed)
    n, p = 2 * n_per_class, 24
    parts = np.zeros((n, p, len(schema.PARTICLE_COLUMNS)), np.float32)
    counts = rng.integers(8, p, n).astype(np.int16)
    label = np.tile([0, 1], n_per_class).astype(np.int8)
    col = {c: i for i, c in enumerate(schema.PARTICLE_COLUMNS)}
    for j in range(n):
        k = int(counts[j])
        prongs = rng.normal(0, 0.3, (3 if label[j] else 1, 2))
        which = rng.integers(0, len(prongs), k)
        eta = prongs[which, 0] + rng.normal(0, 0.05, k)
        phi = prongs[which, 1] + rng.normal(0, 0.05, k)
        pt = np.sort(rng.exponential(20, k) + 1)[::-1]
        vals = {"pt": pt, "eta": eta, "phi": phi, "px": pt * np.cos(phi), "py": pt * np.sin(phi),
                "pz": pt * np.sinh(eta), "e": pt * np.cosh(eta), "charge": np.ones(k), "pdgid": np.full(k, 211.0)}
        for name, v in vals.items():
            parts[j, :k, col[name]] = v
    px, py, pz, e = (parts[..., col[c]].sum(1) for c in ("px", "py", "pz", "e"))
    pt = np.hypot(px, py)
    jet = np.stack([pt, np.arcsinh(pz / pt), np.arctan2(py, px), np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0)), e], 1)
    batch = {"label": label, "uid": np.arange(n, dtype=np.int64) + 1000, "jet": jet.astype(np.float32),
             "particles": parts, "n_particles": counts}
    batch.update(compute_views(parts, counts, batch["uid"], ViewSettings()))
    batch.update(lund_trees(parts, counts, LundSettings(max_nodes=p - 1)))
    return batch


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory) -> Path:
    from fpgatag.data.io import write_jets

    path = tmp_path_factory.mktemp("toy") / "toy.h5"
    return write_jets(path, synthetic_jets(100, seed=1), {"classes": ["qcd", "top"]})


def preset(tmp_path: Path, name: str, builder: str, params: dict, inputs: dict) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"description": "test", "role": "teacher", "builder": builder, "params": params,
                                "inputs": inputs, "training": TRAINING}))
    return path


def lund_preset(tmp_path):
    return preset(tmp_path, "tiny-lund", "lundnet", TINY_LUND,
                  {"kind": "lund", "n_objects": 24, "features": ["log_kt", "log_delta", "log_z", "log_m", "psi",
                                                                 "parent", "harder", "softer"]})


@pytest.fixture(scope="module")
def lund_source(tmp_path_factory, toy_file) -> Path:
    """A tiny LundNet teacher trained for two epochs on the toy jets (the source of the transfers)."""
    from fpgatag.train.teacher import train_teacher

    d = tmp_path_factory.mktemp("lund_source")
    train_teacher(toy_file, model=str(lund_preset(d)), out_dir=d / "run", epochs=2)
    return d / "run"


def test_padding_nodes_change_nothing():
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.lundnet import build_lundnet

    batch = synthetic_jets(4, seed=2)
    spec = InputSpec(kind="lund", features=["log_kt", "log_delta", "log_z", "parent", "harder", "softer"],
                     n_objects=24).fit(batch)
    x24 = spec.transform(batch)
    spec.n_objects = 64
    x64 = spec.transform(batch)
    assert not x64[:, 24:].any() and np.array_equal(x64[:, :24], x24)
    short, long_ = build_lundnet((24, 6), 2, **TINY_LUND), build_lundnet((64, 6), 2, **TINY_LUND)
    long_.set_weights(short.get_weights())
    np.testing.assert_allclose(long_.predict(x64, verbose=0), short.predict(x24, verbose=0), rtol=1e-5, atol=1e-6)
    # and the graph matters: cutting the tree's edges changes the output
    cut = x24.copy()
    cut[..., 3:] = 0.0
    assert not np.allclose(short.predict(cut, verbose=0), short.predict(x24, verbose=0), atol=1e-4)


def test_parameter_count_is_the_published_lundnet():
    from fpgatag.nn.lundnet import build_lundnet, published_parameter_count
    from fpgatag.nn.presets import load_preset

    for name, n_features in (("lundnet-5", 5), ("lundnet-3", 3)):
        p = load_preset(name, role="teacher")
        model = build_lundnet((p["inputs"]["n_objects"], n_features + 3), 2, **p["params"])
        trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        assert trainable == published_parameter_count(n_features)


def weights(run_dir: Path) -> dict[str, np.ndarray]:
    out = {}
    with h5py.File(run_dir / "model.h5", "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


@pytest.mark.parametrize("kind", ["lund", "particlenet"])
def test_frozen_transfer_keeps_the_edgeconv_blocks(tmp_path, toy_file, lund_source, kind):
    from fpgatag.train.teacher import train_teacher

    if kind == "lund":
        source = lund_source
    else:
        model = preset(tmp_path, "tiny-pn", "particlenet", TINY_PN,
                       {"kind": "particles", "n_objects": 24, "features": ["deta", "dphi", "log_pt", "log_e"]})
        source = tmp_path / "source"
        train_teacher(toy_file, model=str(model), out_dir=source, epochs=2)
    frozen = tmp_path / "frozen"
    m = train_teacher(toy_file, init_from=source, freeze=True, out_dir=frozen, epochs=2, seed=1)
    assert math.isfinite(m["auc"])
    before, after = weights(source), weights(frozen)
    assert set(before) == set(after)
    blocks = [k for k in before if k.startswith(("edgeconv", "fts_bn"))]
    dense = [k for k in before if k.startswith(("fc0", "logits"))]
    assert blocks and dense
    for k in blocks:  # kernels, batch-norm scales and moving statistics alike
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)
    assert all(not np.array_equal(after[k], before[k]) for k in dense)
    rec = json.loads((frozen / "run.json").read_text())["settings"]["transfer"]
    assert rec["method"] == "freeze" and rec["lr_factor"] == 1.0 and rec["frozen_parameters"] > 0
    assert json.loads((frozen / "run.json").read_text())["settings"]["training"]["learning_rate"] == pytest.approx(0.003)

    if kind == "lund":  # fine-tuning: every block moves, at a tenth of the learning rate
        tuned = tmp_path / "tuned"
        train_teacher(toy_file, init_from=source, out_dir=tuned, epochs=1, seed=1)
        moved = weights(tuned)
        assert all(not np.array_equal(moved[k], before[k]) for k in blocks if "kernel" in k)
        run = json.loads((tuned / "run.json").read_text())["settings"]
        assert run["transfer"]["method"] == "fine-tune" and run["training"]["learning_rate"] == pytest.approx(0.0003)


def test_transfer_refuses_another_preset(tmp_path, toy_file, lund_source):
    from fpgatag.core.errors import FpgatagError
    from fpgatag.train.teacher import train_teacher

    with pytest.raises(FpgatagError, match="same preset"):
        train_teacher(toy_file, model="particlenet-lite", init_from=lund_source, out_dir=tmp_path / "x")
    with pytest.raises(FpgatagError, match="init_from"):
        train_teacher(toy_file, model="particlenet-lite", freeze=True, out_dir=tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
