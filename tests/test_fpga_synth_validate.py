"""Firmware end to end: synth writes an HLS project, g++ C simulation is bit-exact, bad input is refused.

Real QKeras models, real hls4ml conversion and real g++ compilation (no vendor tools needed).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError, ToolNotFoundError
from fpgatag.fpga.examples import inputs_for, mlp
from fpgatag.nn.inputs import quantize_fixed

IN_PREC = (10, 4)
FEATURES = ("pt", "deta", "dphi", "pt_rel", "log_pt", "dr", "charge", "pid")   # fpgatag.data trigger features


def deep_sets(n_objects, n_features, phi, rho, n_classes=2, bits=8, seed=0):
    """The shipped Deep Sets builder (QConv1D phi), seeded Keras initial weights."""
    import tensorflow as tf

    from fpgatag.nn.students import build_deepsets

    tf.keras.utils.set_random_seed(seed)
    return build_deepsets((n_objects, n_features), n_classes, phi=phi, rho=rho, bits=bits)


@pytest.fixture(scope="module")
def ds_dir(tmp_path_factory):
    """A saved Deep Sets run directory (model.json, model.h5, inputs.json), as the student stage writes it."""
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.io import save_model

    d = tmp_path_factory.mktemp("ds_run")
    spec = InputSpec(kind="trigger", features=list(FEATURES), n_objects=16,
                     input_bits=IN_PREC[0], input_integer_bits=IN_PREC[1])
    save_model(deep_sets(16, 8, (16, 16), (16,), 2, bits=8, seed=3), d, spec)
    return d


def test_deep_sets_synth_writes_project_and_estimate(ds_dir, tmp_path):
    from fpgatag.fpga.synth import synth

    out = tmp_path / "hls_projects" / "ds"
    est = synth(ds_dir, part="xcvu9p", output_dir=out, run_synthesis=True)   # no vendor tool here
    for f in ("firmware/myproject.cpp", "firmware/parameters.h", "build_prj.tcl", "estimate.json", "report.md"):
        assert (out / f).is_file(), f
    on_disk = json.loads((out / "estimate.json").read_text())
    assert on_disk["source"] == "estimate" and on_disk["part"] == "xcvu9p-flga2104-2L-e"
    assert "not run" in on_disk["synthesis"]
    assert est["ii"] == 1                               # fully parallel over the 16 objects
    assert est["input_precision"] == list(IN_PREC)
    assert any(w["layer"] == "pool" and w["n"] == 16 for w in est["widened"])
    params = (out / "firmware" / "parameters.h").read_text()
    assert "n_partitions = 1;" in params
    defines = (out / "firmware" / "defines.h").read_text()
    assert f"ap_fixed<{IN_PREC[0]},{IN_PREC[1]}> input_t" in defines
    report = (out / "report.md").read_text()
    assert "| dsp" in report and "phi1" in report
    assert f"OutputDir: {out.resolve()}" in (out / "hls4ml_config.yml").read_text()


def test_full_h5_model_file(tmp_path):
    from fpgatag.fpga.synth import synth

    model = mlp(8, (8,), 2, bits=8, seed=2)
    model.save(str(tmp_path / "student.h5"))
    est = synth(tmp_path / "student.h5", part="xczu9eg", output_dir=tmp_path / "p", clock_period=4.0)
    assert (tmp_path / "p" / "firmware" / "myproject.cpp").is_file()
    assert est["part"] == "xczu9eg-ffvb1156-2-e" and est["clock_ns"] == 4.0 and est["fraction"]["dsp"] is not None


@pytest.mark.slow
def test_deep_sets_csim_is_bit_exact(ds_dir, tmp_path):
    from fpgatag.fpga import csim
    from fpgatag.fpga.convert import convert, load_any_model
    from fpgatag.fpga.validate import validate

    loaded = load_any_model(ds_dir)
    x = quantize_fixed(inputs_for(loaded.model, 3000, seed=1, scale=6.0), *IN_PREC)
    hls_model, _, _ = convert(loaded.model, tmp_path / "prj", input_precision=loaded.input_precision)
    hls_model.compile()
    y_keras = loaded.model.predict(x, verbose=0)
    y_hls = csim.run_batch(csim.build_shim(hls_model), x, 2, workers=2)
    np.testing.assert_array_equal(y_hls, y_keras)
    np.testing.assert_array_equal(y_hls[:200], np.asarray(hls_model.predict(x[:200])).reshape(200, 2))

    npy = tmp_path / "x.npy"
    np.save(npy, x)
    labels = (x[:, 0, 0] > 0).astype(int)
    np.save(tmp_path / "x_labels.npy", labels)
    res = validate(ds_dir, npy, n=1000, output=tmp_path / "out")
    assert res["n"] == 1000 and res["bit_exact_fraction"] == 1.0 and res["max_abs_diff"] == 0.0
    assert res["argmax_agreement"] == 1.0 and res["passed"]
    assert res["auc_keras"] == res["auc_hls"] and 0.0 <= res["auc_hls"] <= 1.0
    assert json.loads((tmp_path / "out" / "validate.json").read_text())["bit_exact_fraction"] == 1.0


def test_mlp_bit_exact_and_profile(tmp_path):
    from fpgatag.fpga.validate import validate

    model = mlp(16, (32, 16), 3, bits=6, seed=5)
    x = inputs_for(model, 2000, seed=2, scale=8.0)
    res = validate(model, x, n=2000, profile=True, profile_n=200, input_precision=(12, 5))
    assert res["bit_exact_fraction"] == 1.0 and res["passed"]
    names = [r["layer"] for r in res["profile"]]
    assert "dense1" in names and "logits" in names
    assert all(r["status"] == "ok" for r in res["profile"])


def test_profile_names_the_overflowing_layer(tmp_path):
    """A float Keras model whose relu output exceeds hls4ml's default ap_fixed<16,6>: profile names it."""
    import tensorflow as tf

    from fpgatag.fpga.validate import validate

    inp = tf.keras.Input((4,), name="x")
    h = tf.keras.layers.Dense(8, name="big", kernel_initializer=tf.keras.initializers.Constant(8.0))(inp)
    h = tf.keras.layers.Activation("relu", name="act")(h)
    out = tf.keras.layers.Dense(2, name="logits")(h)
    model = tf.keras.Model(inp, out)
    x = np.abs(inputs_for(model, 300, seed=4, scale=4.0))
    res = validate(model, x, n=300, profile=True, profile_n=100, min_bit_exact=0.0, min_argmax=0.0)
    bad = {r["layer"]: r["status"] for r in res["profile"] if r["status"] in ("overflows", "saturates")}
    assert bad, res["profile"]
    assert res["problem_layers"] == list(bad)
    assert res["bit_exact_fraction"] < 1.0


def test_classic_json_weights_model_through_cli(tmp_path, capsys):
    """A model in the classic hls4ml example format (KERAS_x.json + KERAS_x_weights.h5) via the CLI."""
    from fpgatag.cli.main import main

    model = mlp(10, (12,), 4, bits=8, seed=7, name="KERAS_3layer")
    (tmp_path / "KERAS_3layer.json").write_text(model.to_json())
    model.save_weights(str(tmp_path / "KERAS_3layer_weights.h5"), save_format="h5")
    x = quantize_fixed(inputs_for(model, 500, seed=3), 16, 6)
    np.save(tmp_path / "data.npy", x)

    prj = tmp_path / "hls_projects" / "k3"
    assert main(["synth", str(tmp_path / "KERAS_3layer.json"), "--part", "xcku115", "-o", str(prj)]) == 0
    assert (prj / "firmware" / "myproject.cpp").is_file()
    assert json.loads((prj / "estimate.json").read_text())["part"].startswith("xcku115-")
    out = capsys.readouterr().out
    assert "latency_ns" in out and "not run" in out

    # bit-exact, but an impossible threshold makes the command fail (non-zero exit) after writing its result
    vj = tmp_path / "v.json"
    assert main(["validate", str(tmp_path / "KERAS_3layer.json"), "--data", str(tmp_path / "data.npy"),
                 "--n", "500", "--min-bit-exact", "1.01", "-o", str(vj)]) == 1
    res = json.loads(vj.read_text())
    assert res["bit_exact_fraction"] == 1.0 and res["n"] == 500 and not res["passed"]
    captured = capsys.readouterr()
    assert "bit_exact_fraction" in captured.out and "FAILED" in captured.err


# ---- bad input ----
def test_unsupported_layer_is_named_with_its_type(tmp_path):
    import tensorflow as tf

    from fpgatag.fpga.synth import synth

    inp = tf.keras.Input((8,), name="x")
    y = tf.keras.layers.UnitNormalization(name="unit_norm")(inp)
    y = tf.keras.layers.Dense(2, name="logits")(y)
    with pytest.raises(FpgatagError, match=r"unit_norm.*UnitNormalization"):
        synth(tf.keras.Model(inp, y), output_dir=tmp_path / "p")
    assert not (tmp_path / "p").exists()          # nothing half-written


def test_unknown_part_lists_known_parts_cli(ds_dir, tmp_path, capsys):
    from fpgatag.cli.main import main

    assert main(["synth", str(ds_dir), "--part", "xcvu99p", "-o", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "xcvu99p" in err and "xcvu9p" in err and "xczu9eg" in err and "Traceback" not in err


def test_missing_gxx_is_a_clear_error(ds_dir, tmp_path, monkeypatch):
    from fpgatag.fpga.validate import validate

    monkeypatch.setenv("PATH", str(tmp_path))     # a PATH without g++
    with pytest.raises(ToolNotFoundError, match="g\\+\\+"):
        validate(ds_dir, np.zeros((4, 16, 8), np.float32))


def test_non_model_files_are_refused(tmp_path, capsys):
    import h5py

    from fpgatag.cli.main import main
    from fpgatag.fpga.convert import load_any_model

    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(FpgatagError, match="notes.txt"):
        load_any_model(txt)
    bad_json = tmp_path / "cfg.json"
    bad_json.write_text(json.dumps({"epochs": 3}))
    with pytest.raises(FpgatagError, match="cfg.json"):
        load_any_model(bad_json)
    h5 = tmp_path / "data.h5"
    with h5py.File(h5, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(FpgatagError, match="data.h5"):
        load_any_model(h5)
    assert main(["synth", str(txt), "-o", str(tmp_path / "p")]) == 2
    assert "notes.txt" in capsys.readouterr().err


@pytest.mark.slow
def test_validate_on_the_test_split_of_a_jets_file(jets_file, tmp_path, capsys):
    """A run directory + a generated jets file: inputs prepared by inputs.json on the uid-keyed test split."""
    from fpgatag.cli.main import main
    from fpgatag.core.splits import split_indices
    from fpgatag.data.io import open_jets
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.io import save_model

    with open_jets(jets_file) as src:
        n_test = len(split_indices(src.uids())["test"])
        spec = InputSpec(kind="trigger", features=list(FEATURES), n_objects=16, input_bits=IN_PREC[0],
                         input_integer_bits=IN_PREC[1]).fit(src.read(0, 300))
    run = tmp_path / "run"
    save_model(deep_sets(16, 8, (8,), (8,), 2, bits=8, seed=11), run, spec)
    assert main(["validate", str(run), "--data", str(jets_file), "--n", "400"]) == 0
    res = json.loads((run / "validate.json").read_text())
    assert res["n"] == min(400, n_test)
    assert res["bit_exact_fraction"] == 1.0 and res["auc_keras"] is not None and res["auc_keras"] == res["auc_hls"]
    assert "auc_hls" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.skipif(__import__("fpgatag.fpga.vendor", fromlist=["find_tool"]).find_tool("Vitis") is None,
                    reason="second tier: needs vitis-run or vitis_hls on PATH")
def test_vitis_c_synthesis_when_the_tool_exists(tmp_path):
    """Where Vitis HLS is installed, C synthesis runs and its report becomes the headline figures."""
    from fpgatag.fpga.synth import synth

    est = synth(mlp(8, (8,), 2, bits=6, seed=1), part="xcvu9p", output_dir=tmp_path / "p", run_synthesis=True)
    assert est["source"] == "vitis" and est["csynth"]["part"].startswith("xcvu9p")
    assert (tmp_path / "p" / "vendor_build.log").is_file()
    # the estimate stays beside the real figures, and is within a factor of two for this tiny model
    assert 0.5 <= (est["lut"] + 1) / (est["estimate"]["lut"] + 1) <= 2.0


def test_profile_with_an_engine_is_refused_by_argument_and_by_flag(tmp_path, capsys):
    """Profiles run in this process: the library names its argument, the command line its flag, before any work."""
    from concurrent.futures import ThreadPoolExecutor

    from fpgatag.cli.main import main
    from fpgatag.core.errors import ArgumentError
    from fpgatag.fpga.validate import validate

    with ThreadPoolExecutor(1) as pool, pytest.raises(ArgumentError, match="^profile: per-layer profiles"):
        validate(tmp_path / "never-read", tmp_path / "never-read.h5", profile=True, executor=pool)
    model = tmp_path / "m.json"
    model.write_text("{}")
    data = tmp_path / "jets.npy"
    np.save(data, np.zeros((2, 3), dtype=np.float32))
    assert main(["validate", str(model), "--data", str(data), "--profile", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert capsys.readouterr().err.strip() == ("fpgatag validate: error: --profile: per-layer profiles run in this "
                                              "process, not with --scheduler")
    assert not (tmp_path / "m_validate.json").exists()
