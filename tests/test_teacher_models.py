"""Teacher architectures on random tensors: sizes, names, invariances, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from fpgatag.core.errors import FpgatagError
from fpgatag.nn import io as nio
from fpgatag.nn.inputs import InputSpec
from fpgatag.nn.presets import get_builder, load_preset

# The paper's top-tagging inputs: 7 features per particle (deta, dphi, log pT, log E, log pT/pTjet,
# log E/Ejet, dR). Its Table 3 quotes 366k (ParticleNet) and 26k (ParticleNet-Lite) parameters.
PAPER_FEATURES = 7


def build(preset: str, n_particles: int, n_features: int, n_classes: int = 2):
    p = load_preset(preset, role="teacher")
    return get_builder(p["builder"])((n_particles, n_features), n_classes, **p["params"])


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize("preset,paper", [("particlenet", 366_000), ("particlenet-lite", 26_000)])
def test_parameter_counts_match_paper(preset, paper):
    model = build(preset, 100, PAPER_FEATURES)
    assert trainable(model) == pytest.approx(paper, rel=0.02)


def test_parameter_count_exact_lite():
    # worked out by hand: input BN 2F; block (C_in -> 32,32,32): 2*C_in*32 + 32*32*2 + BN 3*64 + sc C_in*32 + 64
    f = PAPER_FEATURES
    b0 = 2 * f * 32 + 2 * 32 * 32 + 3 * 64 + f * 32 + 64
    b1 = 2 * 32 * 64 + 2 * 64 * 64 + 3 * 128 + 32 * 64 + 128
    head = (64 * 128 + 128) + (128 * 2 + 2)
    assert trainable(build("particlenet-lite", 100, f)) == 2 * f + b0 + b1 + head


def test_layer_names_are_deterministic():
    a = [layer.name for layer in build("particlenet-lite", 20, 13).layers]
    b = [layer.name for layer in build("particlenet-lite", 20, 13).layers]
    assert a == b
    for name in ("fts_bn", "edgeconv0_knn", "edgeconv0_conv0", "edgeconv0_conv1", "edgeconv1_sc_conv", "pool", "fc0", "logits", "probs"):
        assert name in a
    dense = build("dense-teacher", 50, 13)
    assert [layer.name for layer in dense.layers][-2:] == ["logits", "probs"]


def _jets(rng, n_real, n_particles, n_features=13):
    x = np.zeros((len(n_real), n_particles, n_features), np.float32)
    for i, n in enumerate(n_real):
        x[i, :n] = rng.normal(size=(n, n_features))
    return x


def _randomise_bn(model, rng):
    """Non-trivial moving statistics, so inference-mode batch norm does something."""
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([g * rng.uniform(0.5, 1.5, g.shape), b + rng.normal(0, 0.2, b.shape),
                               m + rng.normal(0, 0.3, m.shape), v * rng.uniform(0.5, 2, v.shape)])


@pytest.fixture(scope="module")
def lite():
    rng = np.random.default_rng(7)
    model = build("particlenet-lite", 30, 13)
    _randomise_bn(model, rng)
    return model


def test_permutation_invariance(lite):
    rng = np.random.default_rng(1)
    n_real = [1, 3, 7, 8, 12, 20, 29, 30]  # fewer and more particles than k + 1 = 8
    x = _jets(rng, n_real, 30)
    y0 = lite.predict(x, verbose=0)
    # permute every row, padding included (real particles need not come first)
    perm = np.stack([rng.permutation(30) for _ in n_real])
    y1 = lite.predict(np.take_along_axis(x, perm[..., None], axis=1), verbose=0)
    np.testing.assert_allclose(y1, y0, atol=1e-5)
    assert np.abs(y0[:, 1] - y0[:, 1].mean()).max() > 1e-4  # outputs do depend on the jet


def test_padding_invariance(lite):
    rng = np.random.default_rng(2)
    n_real = [2, 5, 9, 17, 30]
    x = _jets(rng, n_real, 30)
    y0 = lite.predict(x, verbose=0)
    wider = build("particlenet-lite", 75, 13)
    wider.set_weights(lite.get_weights())
    xpad = np.concatenate([x, np.zeros((len(n_real), 45, 13), np.float32)], axis=1)
    np.testing.assert_allclose(wider.predict(xpad, verbose=0), y0, atol=1e-5)


def test_padding_is_never_a_neighbour(lite):
    """Padded particles are excluded from the neighbours of real ones, even with fewer than k + 1."""
    rng = np.random.default_rng(3)
    x = _jets(rng, [4], 30)
    knn = lite.get_layer("edgeconv0_knn")
    _, nmask = knn([x[:, :, :2], np.any(x != 0, -1, keepdims=True).astype(np.float32)])
    # 4 real particles, k = 7: each real particle has exactly 3 real neighbours
    assert np.asarray(nmask)[0, :4, :, 0].sum(axis=1).tolist() == [3, 3, 3, 3]


def test_save_load_predict_identical(tmp_path, lite):
    rng = np.random.default_rng(4)
    x = _jets(rng, [3, 10, 30, 25], 30)
    spec = InputSpec(kind="particles", n_objects=30, features=["f%d" % i for i in range(13)])
    nio.save_model(lite, tmp_path / "m", inputs=spec)
    again = nio.load_model(tmp_path / "m")
    np.testing.assert_array_equal(again.predict(x, verbose=0), lite.predict(x, verbose=0))
    assert [layer.name for layer in again.layers] == [layer.name for layer in lite.layers]
    assert nio.load_inputs(tmp_path / "m").n_objects == 30


def test_dense_teacher_save_load(tmp_path):
    model = build("dense-teacher", 50, 13)
    x = np.random.default_rng(5).normal(size=(6, 50, 13)).astype(np.float32)
    nio.save_model(model, tmp_path / "d")
    np.testing.assert_array_equal(nio.load_model(tmp_path / "d").predict(x, verbose=0), model.predict(x, verbose=0))


def test_mixed_precision_outputs_float32():
    policy = tf.keras.mixed_precision.global_policy()
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build("particlenet-lite", 20, 13)
    finally:
        tf.keras.mixed_precision.set_global_policy(policy)
    x = _jets(np.random.default_rng(6), [5, 20], 20)
    out = model(x, training=False)
    assert out.dtype == tf.float32 and np.allclose(np.asarray(out).sum(axis=1), 1.0, atol=1e-3)


def test_builder_rejects_bad_shapes():
    with pytest.raises(FpgatagError, match="more particles"):
        build("particlenet", 10, 13)
    with pytest.raises(FpgatagError, match="particles, features"):
        get_builder("particlenet")((100,), 2)
    with pytest.raises(FpgatagError, match="unknown"):
        load_preset("particlenet-huge", role="teacher")


def test_edge_projection_equals_convolution_of_edges():
    """EdgeConvProjection == a 1x1 convolution (Dense) over the concatenated edges (x_i, x_j - x_i)."""
    from fpgatag.nn.layers import EdgeConvProjection

    rng = np.random.default_rng(8)
    fts = rng.normal(size=(3, 12, 5)).astype(np.float32)
    idx = rng.integers(0, 12, size=(3, 12, 4)).astype(np.int32)
    layer = EdgeConvProjection(6)
    out = np.asarray(layer([fts, idx]))
    nbr = np.take_along_axis(fts[:, None, :, :], idx[..., None].astype(np.int64), axis=2)   # (3, 12, 4, 5)
    centre = np.broadcast_to(fts[:, :, None, :], nbr.shape)
    edges = np.concatenate([centre, nbr - centre], axis=-1)
    np.testing.assert_allclose(out, edges @ layer.kernel.numpy(), rtol=1e-5, atol=1e-5)
