"""The distillation loss against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fpgatag.core.errors import FpgatagError


def test_loss_equals_hand_computation():
    from fpgatag.train.losses import DistillationLoss, pack_targets

    # student logits [0, ln 3] -> p = [1/4, 3/4]; label 1
    # teacher logits [0, 2 ln 3] at T = 2 -> [0, ln 3] -> q = [1/4, 3/4]
    # student at T = 2 -> [0, ln 3 / 2] -> r = [1/(1+sqrt3), sqrt3/(1+sqrt3)]
    s = np.array([[0.0, math.log(3.0)]], np.float32)
    t = np.array([[0.0, 2.0 * math.log(3.0)]], np.float32)
    alpha, temp = 0.3, 2.0
    ce = -math.log(0.75)
    r0, r1 = 1 / (1 + math.sqrt(3)), math.sqrt(3) / (1 + math.sqrt(3))
    kl = 0.25 * math.log(0.25 / r0) + 0.75 * math.log(0.75 / r1)
    expected = alpha * ce + (1 - alpha) * temp**2 * kl
    loss = DistillationLoss(alpha=alpha, temperature=temp, n_classes=2)
    got = float(loss(pack_targets(np.array([1]), 2, t), s).numpy())
    assert got == pytest.approx(expected, rel=1e-5)
    assert kl > 0  # the soft term is really there


def test_loss_reduces_to_cross_entropy_at_alpha_1():
    import tensorflow as tf

    from fpgatag.train.losses import DistillationLoss, distillation_loss_numpy, pack_targets

    rng = np.random.default_rng(3)
    s = rng.normal(0, 2, (64, 3)).astype(np.float32)
    t = rng.normal(0, 2, (64, 3)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    ce = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, s).numpy()
    got = DistillationLoss(alpha=1.0, temperature=5.0, n_classes=3)(pack_targets(y, 3, t), s).numpy()
    assert got == pytest.approx(float(ce), rel=1e-5)
    # and the TF loss matches the float64 reference for a mixed alpha
    mixed = DistillationLoss(alpha=0.4, temperature=3.0, n_classes=3)(pack_targets(y, 3, t), s).numpy()
    ref = distillation_loss_numpy(np.eye(3)[y], t, s, 0.4, 3.0).mean()
    assert mixed == pytest.approx(ref, rel=1e-4)
    assert abs(mixed - ce) > 1e-3


def test_loss_is_zero_kl_when_student_matches_teacher():
    from fpgatag.train.losses import distillation_loss_numpy

    t = np.array([[1.0, -2.0], [0.5, 0.25]])
    assert np.allclose(distillation_loss_numpy(np.eye(2)[[0, 1]], t, t, 0.0, 4.0), 0.0)


@pytest.mark.parametrize("alpha,temp", [(-0.1, 2.0), (1.5, 2.0), (0.5, 0.0)])
def test_bad_alpha_temperature(alpha, temp):
    from fpgatag.train.losses import DistillationLoss

    with pytest.raises(FpgatagError):
        DistillationLoss(alpha=alpha, temperature=temp)


def test_pack_targets_checks_shape():
    from fpgatag.train.losses import pack_targets

    with pytest.raises(FpgatagError, match="teacher logits"):
        pack_targets(np.array([0, 1]), 2, np.zeros((3, 2)))
