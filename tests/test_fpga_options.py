"""One firmware options object: hls4ml's spellings, one default part, and hls4ml configs merged by layer name."""

from __future__ import annotations

import json

import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.fpga.options import DEFAULT_PART, FirmwareOptions


def test_spellings_are_hls4ml_s():
    o = FirmwareOptions.make(backend="vivado", strategy="RESOURCE")
    assert (o.backend, o.strategy, o.part) == ("Vivado", "Resource", DEFAULT_PART)
    assert FirmwareOptions.make(backend="Vitis", strategy="da").strategy == "distributed_arithmetic"
    assert FirmwareOptions().target.full == "xcvu9p-flga2104-2L-e"
    assert FirmwareOptions.make(strategy="Latency").record()["part"] == "xcvu9p-flga2104-2L-e"


@pytest.mark.parametrize("kwargs, words", [
    ({"backend": "quartus"}, ("backend", "Vitis, Vivado")),
    ({"strategy": "fast"}, ("strategy", "Latency")),
    ({"io_type": "io_serial"}, ("io_type", "io_parallel")),
    ({"reuse_factor": 0}, ("reuse_factor",)),
    ({"clock_period": -1.0}, ("clock_period",)),
    ({"part": "xcvu99"}, ("part", "xcvu9p")),
    ({"colour": 1}, ("colour", "unknown option")),
    ({"hls_config": {"Layers": {}}}, ("hls_config", "'Layers'")),
    ({"hls_config": {"HLSConfig": {}, "Board": "x"}}, ("hls_config", "'Board'")),
])
def test_bad_options_are_refused_naming_the_option(kwargs, words):
    with pytest.raises(FpgatagError) as err:
        FirmwareOptions.make(**kwargs)
    assert all(w in str(err.value) for w in words), str(err.value)
    assert "--" not in str(err.value)   # library errors name arguments, not command-line flags


def test_hls4ml_project_keys_set_the_options():
    o = FirmwareOptions.make(hls_config={"Backend": "Vivado", "Part": "xcku115", "ClockPeriod": 4,
                                         "HLSConfig": {"Model": {"Strategy": "resource", "ReuseFactor": 2}}})
    assert (o.backend, o.part, o.clock_period, o.strategy, o.reuse_factor) == ("Vivado", "xcku115", 4.0, "Resource", 2)
    assert o.hls_config == {"Model": {"Strategy": "Resource", "ReuseFactor": 2}}


def test_hls_config_merges_over_fpgatag_s_by_layer_name(tmp_path):
    from fpgatag.fpga.convert import convert_with
    from fpgatag.fpga.examples import mlp

    model = mlp(8, (8,), 2, bits=6, seed=1)
    over = {"LayerName": {"dense1": {"Precision": {"result": "fixed<18,9>"}}}}
    hls_model, cfg, _ = convert_with(model, tmp_path / "a", FirmwareOptions.make(hls_config=over), input_precision=(8, 4))
    layers = {layer.name: layer for layer in hls_model.get_layers()}
    assert str(layers["dense1"].get_output_variable().type.precision).startswith("fixed<18,9")
    assert cfg["LayerName"]["inputs"]["Precision"]["result"] == "fixed<8,4>"   # fpgatag's setting kept
    assert cfg["LayerName"]["dense1"]["ReuseFactor"] == 1
    with pytest.raises(FpgatagError, match="LayerName 'dense7': the model has no such layer; its layers: inputs, dense1"):
        convert_with(model, tmp_path / "b", FirmwareOptions.make(hls_config={"LayerName": {"dense7": {}}}))


def test_synth_cli_reads_hls_config_file(tmp_path, capsys):
    from fpgatag.cli.main import main
    from fpgatag.fpga.examples import mlp

    mlp(8, (8,), 2, bits=6, seed=1).save(str(tmp_path / "m.h5"))
    cfg = tmp_path / "hls.json"
    cfg.write_text(json.dumps({"Model": {"Strategy": "Resource", "ReuseFactor": 4},
                               "LayerName": {"logits": {"ReuseFactor": 2}}}))
    code = main(["synth", str(tmp_path / "m.h5"), "--hls-config", str(cfg), "-o", str(tmp_path / "p"), "--json"])
    est = json.loads(capsys.readouterr().out)
    assert code == 0 and est["strategy"] == "Resource" and est["reuse_factor"] == 4
    assert est["hls_config"]["LayerName"]["logits"]["ReuseFactor"] == 2
    yml = (tmp_path / "p" / "hls4ml_config.yml").read_text()
    assert "Strategy: Resource" in yml
    cfg.write_text(json.dumps({"LayerName": {"nope": {}}}))
    code = main(["synth", str(tmp_path / "m.h5"), "--hls-config", str(cfg), "-o", str(tmp_path / "q")])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and len(errors) == 1 and "LayerName 'nope'" in errors[0] and "Traceback" not in err
    assert not (tmp_path / "q").exists()


def test_outputs_recorded_or_read_from_the_last_layer(tmp_path):
    import numpy as np
    import tensorflow as tf

    from fpgatag.train.runs import model_outputs, probabilities

    inp = tf.keras.Input((3,))
    logits = tf.keras.layers.Dense(2, name="logits")(inp)
    assert model_outputs(tf.keras.Model(inp, logits)) == "logits"
    assert model_outputs(tf.keras.Model(inp, tf.keras.layers.Softmax(name="probs")(logits))) == "probabilities"
    assert model_outputs(tf.keras.Model(inp, tf.keras.layers.Activation("softmax")(logits))) == "probabilities"
    (tmp_path / "metrics.json").write_text(json.dumps({"outputs": "probabilities"}))
    assert model_outputs(tf.keras.Model(inp, logits), tmp_path) == "probabilities"
    p = probabilities(np.array([[0.0, np.log(3.0)]]), "logits")
    np.testing.assert_allclose(p, [[0.25, 0.75]])
    np.testing.assert_allclose(probabilities(p, "probabilities"), p)
