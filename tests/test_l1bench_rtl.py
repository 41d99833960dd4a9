"""``fpgatag bench-l1 --rtl``: Yosys netlist counts and Verilator bit-exactness in the benchmark's rows,
the refusals of bad flag combinations and of an N the file does not store, and failures as labelled rows.

The small five-class file (60 jets per class) of tests/test_multiclass.py; N = 8, one seed, a few epochs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_multiclass import _cli, _run, five_class_file  # noqa: F401  (the fixture)

from fpgatag.cli.main import main
from fpgatag.report.l1bench import L1BenchConfig, check_objects, table_rows
from fpgatag.report.l1bench_rtl import MODEL_LABEL, YOSYS_LABEL, rtl_cells

TINY = ["--n", 8, "--seeds", 1, "--teacher", "dense-teacher", "--teacher-epochs", 1, "--epochs", 2, "--no-mlp",
        "--validate-n", 200]


def _refused(capsys, out_dir: Path, *argv) -> str:
    code, out, err = _cli(capsys, "bench-l1", *argv, "-o", out_dir)
    assert code != 0 and out == "" and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out_dir.exists()
    return err


@pytest.mark.parametrize("argv, fragment", [
    (["--rtl", "--no-rtl"], "--rtl and --no-rtl"),
    (["--rtl", "--yosys-jobs", "0"], "--yosys-jobs"),
    (["--yosys-jobs", "2"], "--yosys-jobs: applies to --rtl"),
    (["--no-hls"], "--no-hls: applies to --rtl"),
    (["--yosys-timeout", "10"], "--yosys-timeout: applies to --rtl"),
    (["--rtl", "--yosys-timeout", "0"], "--yosys-timeout"),
])
def test_bad_rtl_flags_are_one_line(capsys, five_class_file, tmp_path, argv, fragment):  # noqa: F811
    err = _refused(capsys, tmp_path / "b", "--data", five_class_file, *argv)
    assert fragment in err


@pytest.fixture(scope="module")
def eight_constituents_file(five_class_file, tmp_path_factory) -> Path:  # noqa: F811
    """The five-class file with the hls4ml inputs holding only the 8 hardest constituents."""
    path = tmp_path_factory.mktemp("hls4ml8") / "five-hls4ml-8.h5"
    assert main(["views", str(five_class_file), "-o", str(path), "--hls4ml-inputs", "--hls4ml-constituents", "8"]) == 0
    return path


def test_n_above_the_stored_constituents_is_refused(capsys, eight_constituents_file, tmp_path):
    err = _refused(capsys, tmp_path / "b", "--data", eight_constituents_file, *TINY[:2], 16, *TINY[2:])
    assert "N=16" in err and "/hls4ml/constituents_3 stores 8" in err and "--hls4ml-constituents 16" in err
    ok = L1BenchConfig(data=eight_constituents_file, n_objects=(8,), student="deepsets-hls4ml")
    from fpgatag.data.io import open_jets

    with open_jets(eight_constituents_file) as src:
        assert check_objects(ok, src) == []


def test_n_above_the_trigger_view_warns(five_class_file, caplog):  # noqa: F811
    from fpgatag.data.io import open_jets

    with open_jets(five_class_file) as src:
        assert check_objects(L1BenchConfig(data=five_class_file, n_objects=(8, 16)), src) == []
        warnings = check_objects(L1BenchConfig(data=five_class_file, n_objects=(8, 32, 64)), src)
    assert warnings == ["N=32, 64: 16 stored per jet in /trigger/candidates, objects 17-64 are zero for every jet "
                        "(`fpgatag views FILE -o OUT --n-candidates 64` stores more)"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == warnings


def test_rtl_row_names_the_source_of_each_figure():
    rtl = {"latency_ns": 25.0, "ii": 1, "lut": 10000.0, "ff": 3000.0, "dsp": 0}
    yosys = rtl_cells({"rtl": rtl, "yosys": {"lut": 8123, "ff": 2900, "dsp": 0},
                       "rtl_validate": {"bit_exact_fraction": 1.0, "n_jets": 250}})
    assert yosys == {"LUT": "8123", "FF": "2900", "DSP": "0", "firmware": f"da4ml RTL; LUT/FF/DSP: {YOSYS_LABEL}",
                     "bit-exact": "100.0 % of 250 jets (RTL sim, Verilator)"}
    failed = rtl_cells({"rtl": rtl, "yosys_failed": "Yosys failed (x)", "rtl_validate_failed": "could not build"})
    from fpgatag.fpga.rtl import NETLIST_FIT

    lut_err, ff_err = NETLIST_FIT["lut_loo_median_abs_err"], NETLIST_FIT["ff_median_abs_err"]   # the fit's errors
    assert failed["LUT"] == f"10000 +- {10000 * lut_err:.0f}" and failed["FF"] == f"3000 +- {3000 * ff_err:.0f}"
    assert failed["firmware"] == f"da4ml RTL; LUT/FF: {MODEL_LABEL} (Yosys failed, yosys_failed.json)"
    assert failed["bit-exact"] == "RTL sim failed (rtlsim_failed.json)"
    assert rtl_cells({"rtl": rtl})["firmware"].endswith("(Yosys not run)")


def _rows(bench: Path) -> dict[str, dict]:
    return {r["kind"]: r for r in json.loads((bench / "bench.json").read_text())["fpgatag"]}


@pytest.mark.slow
def test_bench_l1_rtl_rows_from_yosys_and_verilator(capsys, five_class_file, tmp_path):  # noqa: F811
    """--rtl --no-hls: Yosys counts and Verilator bit-exactness in every student row; --reuse redoes
    nothing; a Yosys run past its timeout falls back to the netlist model, labelled; a student whose
    weights are all zero (its outputs constant) is refused by the RTL flow and keeps its hls4ml figures."""
    b = tmp_path / "bench"
    out = _run(capsys, "bench-l1", "--data", five_class_file, "-o", b, *TINY, "--rtl", "--no-hls", "--alpha", 0.5, "-T", 3)
    result = json.loads((b / "bench.json").read_text())
    distilled = json.loads((b / "n8" / "distilled-s1" / "metrics.json").read_text())
    assert (distilled["alpha"], distilled["temperature"]) == (0.5, 3.0) and result["config"]["alpha"] == 0.5
    assert json.loads((b / "n8" / "scratch-s1" / "metrics.json").read_text())["alpha"] == 1.0   # labels alone
    assert "alpha 0.5 (the weight of the label term), temperature 3.0" in out
    assert not any(s.endswith((" synth", " validate")) for s in result["steps_run"])   # --no-hls
    for kind in ("scratch", "distilled"):
        fw, n_test = _rows(b)[kind]["firmware"], _rows(b)[kind]["n_test"]
        assert "hls" not in fw and "validate" not in fw
        assert fw["yosys"]["lut"] > 0 and fw["yosys"]["ff"] > 0 and fw["yosys"]["dsp"] == 0
        assert fw["rtl"]["lut_source"] == "Yosys netlist" and fw["yosys"]["mode"] == "whole design"
        assert fw["rtl_validate"]["n_jets"] == n_test == 33 and fw["rtl_validate"]["bit_exact_fraction"] == 1.0
        assert fw["rtl_validate"]["simulator"] == "verilator"
    rows = [r for r in table_rows(result) if r["tagger"].startswith("fpgatag Deep Sets")]
    assert len(rows) == 2 and all(r["firmware"] == f"da4ml RTL; LUT/FF/DSP: {YOSYS_LABEL}" for r in rows)
    assert {r["LUT"] for r in rows} == {str(_rows(b)[k]["firmware"]["yosys"]["lut"]) for k in ("scratch", "distilled")}
    assert all(r["bit-exact"] == "100.0 % of 33 jets (RTL sim, Verilator)" for r in rows)
    assert "| FF " in out and "before place and route" in out

    again = json.loads(_run(capsys, "bench-l1", "--data", five_class_file, "-o", b, *TINY, "--rtl", "--no-hls",
                            "--reuse", "--json"))
    assert again["steps_run"] == [] and again["fpgatag"] == result["fpgatag"]

    run = b / "n8" / "distilled-s1"          # its RTL made again, with a Yosys timeout it cannot meet
    from fpgatag.nn.io import load_model, save_model

    shutil.rmtree(run / "rtl")
    third = json.loads(_run(capsys, "bench-l1", "--data", five_class_file, "-o", b, *TINY, "--rtl", "--no-hls",
                            "--reuse", "--yosys-timeout", "0.01", "--json"))
    assert third["steps_run"] == ["n8/distilled-s1 rtl", "n8/distilled-s1 yosys (background)",
                                  "n8/distilled-s1 rtl sim (Verilator)"]
    fw = _rows(b)["distilled"]["firmware"]
    assert "past 0 s" in fw["yosys_failed"] and "yosys" not in fw and fw["rtl"]["lut_source"] == "netlist model"
    assert fw["rtl_validate"]["bit_exact_fraction"] == 1.0
    row = [r for r in table_rows(third) if "distilled" in r["tagger"]][0]
    assert MODEL_LABEL in row["firmware"] and row["bit-exact"] == "100.0 % of 33 jets (RTL sim, Verilator)"
    assert json.loads((run / "rtl" / "yosys_failed.json").read_text())["retry_on_reuse"] is False

    model = load_model(run)                  # all weights zero: every output the constant 0, refused by the RTL flow
    for layer in model.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    save_model(model, run)
    shutil.rmtree(run / "rtl")
    fourth = json.loads(_run(capsys, "bench-l1", "--data", five_class_file, "-o", b, *TINY, "--rtl", "--no-hls",
                             "--reuse", "--json"))
    assert fourth["steps_run"] == ["n8/distilled-s1 rtl", "n8/distilled-s1 synth (RTL refused)"]
    fw = _rows(b)["distilled"]["firmware"]
    assert "constant 0" in fw["rtl"]["reason"] and "yosys" not in fw and "rtl_validate" not in fw
    row = [r for r in table_rows(fourth) if "distilled" in r["tagger"]][0]
    assert "the RTL flow refused the model" in row["firmware"]
