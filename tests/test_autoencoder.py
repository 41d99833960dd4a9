"""Autoencoder compression: residuals on known values, compression and AUC figures, the quantized
encoder bit-exact in g++ C simulation (saturating latents included), train-ae end to end, and the
missing-variable error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpgatag.train import ae_metrics as M


def test_relative_residuals_known_example():
    orig = np.array([[100.0, 2.0, 0.0, 50.0], [200.0, -4.0, 1.0, 25.0]])
    reco = np.array([[110.0, 1.0, 1.0, 50.0], [190.0, -5.0, 1.5, 20.0]])
    res, valid = M.relative_residuals(orig, reco)
    np.testing.assert_allclose(res[0, [0, 1, 3]], [0.1, -0.5, 0.0])
    np.testing.assert_allclose(res[1], [-0.05, 0.25, 0.5, -0.2])
    assert np.isnan(res[0, 2]) and not valid[0, 2]            # original zero: no relative residual
    s = M.residual_summary(orig, reco, ["pt", "eta", "phi", "m"])
    assert s["pt"]["n"] == 2 and s["phi"]["n"] == 1
    assert s["pt"]["mean"] == pytest.approx(0.025)
    assert s["pt"]["rms"] == pytest.approx(np.sqrt((0.1 ** 2 + 0.05 ** 2) / 2))
    assert s["pt"]["mean_err"] == pytest.approx(0.075 / np.sqrt(2))      # std / sqrt(N)
    assert s["pt"]["rms_err"] == pytest.approx(s["pt"]["rms"] / 2)       # RMS / sqrt(2 N)


def test_residuals_skip_padded_objects():
    orig = np.array([[[10.0, 1.0], [5.0, 2.0]]])              # (B=1, N=2, F=2)
    reco = np.array([[[11.0, 1.0], [0.0, 0.0]]])
    res, valid = M.relative_residuals(orig, reco, mask=np.array([[True, False]]))
    assert valid.tolist() == [[[True, True], [False, False]]]
    assert res[0, 0, 0] == pytest.approx(0.1) and np.isnan(res[0, 1]).all()


def test_compression_and_auc_figures():
    c = M.compression(4, 16, 3, 8)
    assert (c["input_bits"], c["latent_bits"], c["float32_bits"]) == (64, 24, 128)
    assert c["ratio"] == pytest.approx(64 / 24) and c["ratio_vs_float32"] == pytest.approx(128 / 24)
    perfect = M.auc_with_error(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))
    assert perfect["auc"] == pytest.approx(1.0) and perfect["auc_err"] == pytest.approx(0.0)
    half = M.auc_with_error(np.r_[np.zeros(50), np.ones(50)], np.r_[np.arange(50), np.arange(50)] + 0.0)
    # Hanley-McNeil at A = 0.5 with 50 + 50: sqrt((0.25 + 49 (1/3 - 1/4) * 2) / 2500)
    assert half["auc"] == pytest.approx(0.5)
    assert half["auc_err"] == pytest.approx(np.sqrt((0.25 + 2 * 49 * (1 / 3 - 0.25)) / 2500))


def test_encoder_bit_exact_in_c_simulation_with_saturating_latents():
    from fpgatag.fpga.validate import validate
    from fpgatag.nn.autoencoder import build_autoencoder
    from fpgatag.nn.inputs import quantize_fixed

    enc, _, _ = build_autoencoder(4, 3, encoder=(16, 8), decoder=(8, 16), bits=8, latent_bits=6, latent_integer=2)
    rng = np.random.default_rng(7)
    for w in enc.weights:
        w.assign(rng.normal(0.0, 0.6, w.shape).astype(np.float32))
    x = quantize_fixed(rng.normal(0.0, 2.0, (600, 4)), 16, 6)
    z = enc.predict(x, verbose=0)
    assert np.all(z * 8 == np.round(z * 8)) and np.mean(z == -4) > 0.05   # quantized_bits(6,2): steps of 1/8, saturates at -4
    res = validate(enc, x, n=len(x), input_precision=(16, 6), min_argmax=0.0)
    assert res["bit_exact_fraction"] == 1.0 and res["max_diff_lsb"] == 0.0
    assert res["output_type"].startswith("fixed<6,3")


@pytest.mark.slow
def test_train_ae_end_to_end_then_validate(jets_file, tmp_path, capsys):
    from fpgatag.cli.main import main

    out = tmp_path / "ae"
    assert main(["train-ae", "--data", str(jets_file), "-o", str(out), "--epochs", "3", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["variables"] == ["pt", "eta", "phi", "mass"] and m["compression"]["latent_bits"] == 24
    for name in ("pt", "eta", "phi", "mass"):
        r = m["residuals"][name]
        assert r["n"] > 100 and r["rms_err"] > 0
    assert m["anomaly"]["n_signal"] > 0 and 0.0 < m["anomaly"]["auc_err"] < 0.2
    for f in ("encoder/model.json", "encoder/inputs.json", "decoder/model.h5", "residuals.png", "anomaly.png",
              "loss.png", "reconstruction.npz", "run.json", "history.json"):
        assert (out / f).is_file(), f
    spec = json.loads((out / "encoder" / "inputs.json").read_text())
    assert spec["kind"] == "jet_kin" and len(spec["offset"]) == 4
    assert main(["validate", str(out / "encoder"), "--data", str(jets_file), "--n", "300", "--json",
                 "-o", str(tmp_path / "v.json"), "--min-argmax", "0"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["bit_exact_fraction"] == 1.0 and v["n"] > 100


def test_missing_variable_is_one_line_error(jets_file, tmp_path, capsys):
    from fpgatag.cli.main import main

    out = tmp_path / "ae"
    code = main(["train-ae", "--data", str(jets_file), "-o", str(out), "--variables", "pt,eta,charge"])
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("fpgatag train-ae: error: ")
    err = lines[0]
    assert "Traceback" not in err and "'charge'" in err and str(jets_file) in err and "pt, eta, phi, mass, e" in err
    assert not out.exists()
