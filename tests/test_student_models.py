"""Student builders: layer names, permutation invariance, padding, bits, and hls4ml bit-exactness."""

from __future__ import annotations

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.inputs import InputSpec, quantize_fixed

STUDENT_PRESETS = ("deepsets", "deepsets-logpt", "deepsets-max", "deepsets-towers", "mlp", "dense-student")


def _randomise(model, seed=0):
    """Trained-looking weights: kernels ~U(-0.5, 0.5), biases ~U(-1, 1) (QKeras clips to the grid)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        scale = 0.5 if len(w.shape) > 1 else 1.0
        w.assign((rng.uniform(-1, 1, w.shape) * scale).astype("float32"))
    return model


def _inputs(shape, n, seed=1, real=None):
    """Inputs on the ap_fixed<16,6> grid; with ``real`` objects per jet the rest are zero rows."""
    x = quantize_fixed(np.random.default_rng(seed).normal(0, 1, (n,) + tuple(shape)), 16, 6)
    if real is not None:
        x[:, real:, ...] = 0.0
    return x


def test_deepsets_layer_names_and_logits():
    from fpgatag.nn.students import build_deepsets, phi_layer_names

    m = build_deepsets((16, 7), 2, phi=(8, 8), rho=(8,), bits=6)
    names = [layer.name for layer in m.layers]
    assert names == ["inputs", "phi1", "phi1_relu", "phi2", "phi2_relu", "pool", "rho1", "rho1_relu", "logits"]
    assert phi_layer_names(m) == ["phi1", "phi1_relu", "phi2", "phi2_relu"]
    assert type(m.get_layer("logits")).__name__ == "QDense"
    assert m.get_layer("logits").get_config()["activation"] == "linear"
    assert not any("softmax" in str(layer.get_config()) for layer in m.layers)


@pytest.mark.parametrize("pool", ["mean", "max"])
def test_deepsets_permutation_invariant(pool):
    from fpgatag.nn.students import build_deepsets

    m = _randomise(build_deepsets((16, 5), 2, phi=(16, 8), rho=(8,), pool=pool, bits=8))
    x = _inputs((16, 5), 64, real=11)
    perm = np.random.default_rng(7).permutation(16)
    y, yp = m.predict(x, verbose=0), m.predict(x[:, perm], verbose=0)
    np.testing.assert_array_equal(y, yp)  # exact: quantized values sum exactly in float32
    assert np.std(y[:, 1]) > 0  # not a constant model


def test_deepsets_padding_handled_as_in_firmware():
    """Zero (padded) rows go through phi and the mean runs over all N rows, as hls4ml computes it."""
    import tensorflow as tf

    from fpgatag.nn.students import build_deepsets

    m = _randomise(build_deepsets((8, 4), 2, phi=(8,), rho=(8,), pool="mean", bits=8), seed=3)
    x = _inputs((8, 4), 16, real=5)
    phi = tf.keras.Model(m.input, m.get_layer("phi1_relu").output).predict(x, verbose=0)
    pooled = tf.keras.Model(m.input, m.get_layer("pool").output).predict(x, verbose=0)
    np.testing.assert_allclose(pooled, phi.mean(axis=1), rtol=0, atol=1e-6)
    assert np.any(phi[:, 5:] != 0)  # phi(0) = relu(bias) is not zero: padding is not ignored
    # ... so the pool is not the mean over the real objects only
    assert not np.allclose(pooled, phi[:, :5].mean(axis=1), atol=1e-3)


@pytest.mark.parametrize("bits", [2, 3, 17, 32, 8.5, "8"])
def test_bits_out_of_range(bits):
    from fpgatag.nn.students import build_deepsets, build_mlp

    with pytest.raises(FpgatagError, match="bits"):
        build_deepsets((8, 4), 2, bits=bits)
    with pytest.raises(FpgatagError, match="bits"):
        build_mlp((5,), 2, bits=bits)


def test_bad_deepsets_options():
    from fpgatag.nn.students import build_deepsets

    with pytest.raises(FpgatagError, match="sum"):
        build_deepsets((8, 4), 2, pool="sum")
    with pytest.raises(FpgatagError, match="bit-exact"):
        build_deepsets((8, 4), 2, phi_layer="dense")
    with pytest.raises(FpgatagError, match="power of two"):
        build_deepsets((12, 4), 2, pool="mean")
    build_deepsets((12, 4), 2, pool="max")  # max is exact for any N
    with pytest.raises(FpgatagError, match="n_objects, n_features"):
        build_deepsets((64,), 2)


def test_presets_are_registered_students():
    from fpgatag.nn.presets import get_builder, list_presets, load_preset

    students = list_presets("student")
    for name in STUDENT_PRESETS:
        assert name in students
        preset = load_preset(name, role="student")
        spec = InputSpec.from_dict(preset["inputs"])
        assert spec.precision == (16, 6)
        assert not spec.kind.endswith("particles")
        get_builder(preset["builder"])(spec.shape, 2, **preset["params"])
    with pytest.raises(FpgatagError, match="unknown student preset"):
        load_preset("no-such-student", role="student")


def _hls_predict(model, spec, x, out_dir):
    import hls4ml

    from fpgatag.nn.students import hls_precision_overrides

    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", default_precision="fixed<16,6>",
                                               backend="Vitis")
    for layer, prec in hls_precision_overrides(model, spec).items():
        cfg["LayerName"][layer]["Precision"].update(prec)
    hls = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, backend="Vitis",
                                                     io_type="io_parallel", output_dir=str(out_dir))
    hls.compile()
    return hls.predict(np.ascontiguousarray(x)).reshape(len(x), -1)


@pytest.mark.slow
@pytest.mark.parametrize("name", STUDENT_PRESETS)
def test_preset_hls4ml_bit_exact(name, tmp_path):
    """Each preset converts with hls4ml 1.3.0 (Vitis, io_parallel) and its C simulation equals Keras bit for bit."""
    from fpgatag.nn.presets import get_builder, load_preset

    preset = load_preset(name, role="student")
    spec = InputSpec.from_dict(preset["inputs"])
    from fpgatag.nn.io import load_model, save_model

    built = _randomise(get_builder(preset["builder"])(spec.shape, 2, **preset["params"]))
    x = _inputs(spec.shape, 300, real=10 if len(spec.shape) == 2 else None)
    save_model(built, tmp_path / "model", inputs=spec)
    model = load_model(tmp_path / "model")  # what `fpgatag synth` converts: the saved model
    y_keras = model.predict(x, verbose=0)
    np.testing.assert_array_equal(y_keras, built.predict(x, verbose=0))
    y_hls = _hls_predict(model, spec, x, tmp_path / "hls")
    assert np.std(y_keras[:, 0]) > 0
    np.testing.assert_array_equal(y_hls, y_keras)


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 16])
def test_deepsets_bits_hls4ml(bits, tmp_path):
    """4 bits (like 8, in the preset test) is bit-exact; at 16 bits Keras' float32 cannot hold the 16x16-bit products
    exactly, so the C simulation may differ by one LSB of the last activation per layer."""
    from fpgatag.nn.students import build_deepsets

    spec = InputSpec(kind="trigger", features=["a", "b", "c", "d"], n_objects=8, input_bits=16, input_integer_bits=6)
    model = _randomise(build_deepsets((8, 4), 2, phi=(8, 8), rho=(8,), bits=bits), seed=bits)
    x = _inputs((8, 4), 300, real=5)
    y_keras = model.predict(x, verbose=0)
    y_hls = _hls_predict(model, spec, x, tmp_path / "hls")
    if bits < 16:
        np.testing.assert_array_equal(y_hls, y_keras)
    else:
        np.testing.assert_allclose(y_hls, y_keras, rtol=0, atol=2.0 ** -8)
