"""Recurrent students: the GRU preset trained, taken through synth (non-static) and validate by the
CLI; the LSTM compiled in C simulation (it only compiles with the recurrent type rule); the
estimator says it does not cost recurrent layers; the models round-trip through model.json."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.mark.slow
def test_lstm_round_trips_and_runs_in_c_simulation(tmp_path):
    from fpgatag.fpga.validate import validate
    from fpgatag.nn.inputs import quantize_fixed
    from fpgatag.nn.io import load_model, save_model
    from fpgatag.nn.presets import get_builder

    net = get_builder("lstm")((6, 3), 2, units=4, dense=[4], bits=8)
    rng = np.random.default_rng(3)
    for w in net.weights:
        w.assign(rng.normal(0.0, 0.3, w.shape).astype(np.float32))
    save_model(net, tmp_path / "lstm")
    back = load_model(tmp_path / "lstm")
    x = quantize_fixed(rng.normal(0.0, 1.0, (200, 6, 3)), 16, 6)
    np.testing.assert_array_equal(back.predict(x, verbose=0), net.predict(x, verbose=0))
    res = validate(back, x, n=len(x), input_precision=(16, 6), min_bit_exact=0.0, min_argmax=0.0)
    assert res["passed"]
    # lookup-table tanh/sigmoid in firmware vs real functions in QKeras: close, stated in LSBs
    assert res["max_diff_lsb"] == pytest.approx(res["max_abs_diff"] / res["output_lsb"])
    assert res["argmax_agreement"] > 0.9 and res["max_abs_diff"] < 0.5


@pytest.mark.slow
def test_gru_student_train_synth_validate(jets_file, tmp_path, capsys):
    from fpgatag.cli.main import main

    run = tmp_path / "gru"
    assert main(["train-student", "--data", str(jets_file), "--student", "gru", "--epochs", "2",
                 "-o", str(run), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["student"] == "gru" and m["n_objects"] == 16 and 0.5 < m["auc"] <= 1.0
    prj = tmp_path / "hls" / "gru"
    assert main(["synth", str(run), "-o", str(prj), "--recurrent", "non-static"]) == 0
    out = capsys.readouterr().out
    assert "not estimated: recurrent layer(s) rnn have no cost model" in out
    est = json.loads((prj / "estimate.json").read_text())
    assert est["recurrent"] == [{"layer": "rnn", "class": "QGRU", "type": "fixed<16,6>", "static": False, "table_size": 1024}]
    assert "use_static = false" in (prj / "firmware" / "parameters.h").read_text()
    assert "recurrent" in (prj / "report.md").read_text()
    assert main(["validate", str(run), "--data", str(jets_file), "--n", "200", "--json", "--min-bit-exact", "0",
                 "--min-argmax", "0.9"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["n"] > 100 and v["max_diff_lsb"] is not None and v["output_lsb"] > 0
