"""Student builders: layer names, permutation invariance, padding, bits, and hls4ml bit-exactness."""

from __future__ import annotations

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError
from fpgatag.nn.inputs import InputSpec, quantize_fixed


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


# Builders whose C simulation cannot be bit-exact, and why (tests/test_recurrent.py measures them in LSBs):
# hls4ml's tanh/sigmoid are lookup tables, QKeras uses the real functions (docs/recurrent.md).
NOT_BIT_EXACT = {"gru": "table tanh/sigmoid", "lstm": "table tanh/sigmoid"}


def _student_presets(bit_exact: bool | None = None) -> list[str]:
    """The student presets shipped in the presets folder (``bit_exact``: only those whose builder
    can be bit-exact, or only those that cannot)."""
    from fpgatag.nn.presets import list_presets, load_preset

    names = list_presets("student")
    if bit_exact is None:
        return names
    return [n for n in names if (load_preset(n)["builder"] not in NOT_BIT_EXACT) == bit_exact]


def test_presets_are_registered_students():
    from fpgatag.nn.presets import get_builder, load_preset

    students = _student_presets()
    assert {"deepsets", "deepsets-l1", "mlp", "dense-student", "gru", "lstm"} <= set(students)
    for name in students:
        preset = load_preset(name, role="student")
        spec = InputSpec.from_dict(preset["inputs"])
        assert spec.precision == (16, 6)
        assert not spec.kind.endswith("particles")
        get_builder(preset["builder"])(spec.shape, 2, **preset["params"])
    with pytest.raises(FpgatagError, match="unknown student preset"):
        load_preset("no-such-student", role="student")
    # the only students not in the bit-exactness test below are the recurrent ones
    assert {load_preset(n)["builder"] for n in _student_presets(bit_exact=False)} <= set(NOT_BIT_EXACT)


def _validate_saved(model, spec, x, run_dir, **kw):
    """``fpgatag validate``'s path: the saved run directory, converted and C-simulated by fpga.validate."""
    from fpgatag.fpga.validate import validate
    from fpgatag.nn.io import load_model, save_model

    save_model(model, run_dir, inputs=spec)
    saved = load_model(run_dir)  # what `fpgatag synth`/`validate` convert: the saved model
    y_keras = saved.predict(x, verbose=0)
    np.testing.assert_array_equal(y_keras, model.predict(x, verbose=0))
    assert np.std(y_keras[:, 0]) > 0
    return validate(run_dir, x, n=len(x), **kw)


@pytest.mark.slow
@pytest.mark.parametrize("name", _student_presets(bit_exact=True))
def test_every_student_preset_is_bit_exact(name, tmp_path):
    """Each shipped student preset converts with hls4ml 1.3.0 (Vitis, io_parallel) and its C simulation
    equals Keras bit for bit, through the same path as `fpgatag validate RUN_DIR`."""
    from fpgatag.nn.presets import get_builder, load_preset

    preset = load_preset(name, role="student")
    spec = InputSpec.from_dict(preset["inputs"])
    built = _randomise(get_builder(preset["builder"])(spec.shape, 2, **preset["params"]))
    x = _inputs(spec.shape, 300, real=10 if len(spec.shape) == 2 else None)
    res = _validate_saved(built, spec, x, tmp_path / "run")
    assert res["n"] == 300 and res["bit_exact_fraction"] == 1.0 and res["max_abs_diff"] == 0.0 and res["passed"]


@pytest.mark.slow
@pytest.mark.parametrize("bits", [4, 16])
def test_deepsets_bits_hls4ml(bits, tmp_path):
    """4 bits (like 8, in the preset test) is bit-exact; at 16 bits Keras' float32 cannot hold the 16x16-bit products
    exactly, so the C simulation may differ by one LSB of the last activation per layer."""
    from fpgatag.nn.students import build_deepsets

    spec = InputSpec(kind="trigger", features=["a", "b", "c", "d"], n_objects=8, input_bits=16, input_integer_bits=6)
    model = _randomise(build_deepsets((8, 4), 2, phi=(8, 8), rho=(8,), bits=bits), seed=bits)
    x = _inputs((8, 4), 300, real=5)
    res = _validate_saved(model, spec, x, tmp_path / "run", min_bit_exact=0.0, min_argmax=0.0)
    if bits < 16:
        assert res["bit_exact_fraction"] == 1.0 and res["max_abs_diff"] == 0.0
    else:
        assert res["max_abs_diff"] <= 2.0 ** -8
