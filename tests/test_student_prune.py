"""Magnitude pruning of students: target sparsity in the saved weights, bit-exact firmware, L1 budget.

Real TensorFlow + tfmot training on the shared generated dataset, real hls4ml conversion, real g++
C simulation, and the firmware estimator of fpgatag.fpga.estimate on the trained weights.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError

L1_PRESET = "deepsets-l1"
L1_LATENCY_NS = 50.0
L1_MAX_FRACTION = 0.05


@pytest.fixture(scope="module")
def l1_run(jets_file, tmp_path_factory):
    """The deepsets-l1 preset trained briefly (its own sparsity) on the shared dataset."""
    from fpgatag.train.distill import train_student

    out = tmp_path_factory.mktemp("prune") / "l1"
    metrics = train_student(jets_file, student=L1_PRESET, out_dir=out, epochs=8, max_jets=1200, seed=2)
    return out, metrics


def test_pruned_run_has_target_sparsity_and_no_wrappers(l1_run):
    from fpgatag.nn.io import load_model
    from fpgatag.nn.presets import load_preset
    from fpgatag.nn.students import weight_sparsity

    run, metrics = l1_run
    target = load_preset(L1_PRESET)["training"]["sparsity"]
    assert metrics["target_sparsity"] == target and metrics["bits"] == load_preset(L1_PRESET)["params"]["bits"]
    assert metrics["pruned_layers"] == ["phi1", "phi2", "rho1"]          # logits is not pruned
    assert "prune_low_magnitude" not in (run / "model.json").read_text()
    model = load_model(run)                                              # the plain QKeras model loads
    saved = weight_sparsity(model, metrics["pruned_layers"])
    for name, layer in saved["layers"].items():                          # every pruned layer at the target
        assert layer["sparsity"] == pytest.approx(target, abs=1.0 / layer["n"] + 1e-9), name
        assert layer["quantized_sparsity"] >= layer["sparsity"]
    assert saved["sparsity"] == pytest.approx(metrics["sparsity"])
    assert weight_sparsity(model, ["logits"])["sparsity"] < 0.5          # untouched output layer
    on_disk = json.loads((run / "metrics.json").read_text())
    assert on_disk["sparsity"] == metrics["sparsity"] and on_disk["pruning_epochs"] >= 1
    assert metrics["auc"] > 0.6                                          # it still learned something


@pytest.mark.slow
def test_pruned_run_is_bit_exact_in_csim(l1_run, jets_file, tmp_path):
    from fpgatag.fpga.validate import validate

    run, _ = l1_run
    res = validate(run, jets_file, n=300, output=tmp_path / "v")
    assert res["n"] > 100
    assert res["bit_exact_fraction"] == 1.0 and res["max_abs_diff"] == 0.0 and res["passed"]


def test_l1_preset_fits_the_trigger_budget_on_a_vu9p(l1_run, tmp_path):
    """<= 50 ns at II = 1 and every resource <= 5 % of a VU9P, estimated on the trained, pruned weights."""
    from fpgatag.fpga.synth import synth

    run, _ = l1_run
    est = synth(run, part="xcvu9p", output_dir=tmp_path / "prj")
    assert est["part"].startswith("xcvu9p")
    assert est["ii"] == 1
    assert 0 < est["latency_ns"] <= L1_LATENCY_NS
    for figure, fraction in est["fraction"].items():
        assert fraction is not None and fraction <= L1_MAX_FRACTION, (figure, fraction)
    assert est["lut"] > 0                                                # a real design, not an empty one


def test_unpruned_deepsets_does_not_fit(tmp_path):
    """The check above can fail: the 8-bit phi 32-32 preset without pruning is far over 5 % of the LUTs."""
    from fpgatag.fpga.examples import deep_sets
    from fpgatag.fpga.synth import synth

    est = synth(deep_sets(16, 7, (32, 32), (32,), 2, bits=8, seed=1, l1_like=True), part="xcvu9p",
                output_dir=tmp_path / "prj")
    assert est["fraction"]["lut"] > L1_MAX_FRACTION


def test_bad_sparsity_is_refused_before_training(jets_file, tmp_path, capsys):
    from fpgatag.cli.main import main
    from fpgatag.train.distill import train_student

    with pytest.raises(FpgatagError, match="sparsity"):
        train_student(jets_file, student="deepsets", out_dir=tmp_path / "r", sparsity=1.0, epochs=1)
    with pytest.raises(SystemExit) as stop:  # argparse refuses the option with one line, exit 2
        main(["train-student", "--data", str(jets_file), "--sparsity", "-0.5", "-o", str(tmp_path / "r2")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--sparsity" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists() and not (tmp_path / "r2").exists()


def test_prune_model_keeps_weights_and_strip_restores_layers():
    """Wrapping keeps the trained weights; stripping gives back the same layer names with exact zeros."""
    import tensorflow as tf

    from fpgatag.nn.students import build_deepsets, prunable_layer_names, weight_sparsity
    from fpgatag.train.distill import prune_model, strip_pruned

    tf.keras.utils.set_random_seed(0)
    net = build_deepsets((16, 7), 2, phi=(8, 8), rho=(8,), bits=6)
    names = prunable_layer_names(net)
    before = {n: net.get_layer(n).get_weights()[0].copy() for n in names}
    pruned = prune_model(net, 0.5, ramp_epochs=1, steps_per_epoch=1, names=names)
    assert [layer.name for layer in pruned.layers if layer.name.startswith("prune_low_magnitude")]
    for n in names:
        np.testing.assert_array_equal(pruned.get_layer(f"prune_low_magnitude_{n}").layer.get_weights()[0], before[n])
    pruned.compile(optimizer="adam", loss=tf.keras.losses.MeanSquaredError())
    import tensorflow_model_optimization as tfmot

    x = np.random.default_rng(0).normal(size=(64, 16, 7)).astype(np.float32)
    pruned.fit(x, np.zeros((64, 2), np.float32), epochs=1, batch_size=64, verbose=0,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    plain = strip_pruned(pruned)
    assert [layer.name for layer in plain.layers] == [layer.name for layer in net.layers]
    assert weight_sparsity(plain, names)["sparsity"] == pytest.approx(0.5, abs=0.02)
