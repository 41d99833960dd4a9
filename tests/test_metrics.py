import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve as sk_roc_curve

from fpgatag.core import metrics


@pytest.fixture
def scored():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 5000)
    s = rng.normal(size=5000) + 1.2 * y
    s[:200] = np.round(s[:200], 1)  # ties
    return y, s


def test_roc_matches_sklearn(scored):
    y, s = scored
    fpr, tpr, thr = metrics.roc_curve(y, s)
    sfpr, stpr, sthr = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sfpr)
    np.testing.assert_allclose(tpr, stpr)
    np.testing.assert_allclose(thr[1:], sthr[1:])


def test_auc_matches_sklearn(scored):
    y, s = scored
    assert metrics.auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_rejection_by_hand():
    # 4 signal, 4 background; at eps_S = 0.5 (two signal above threshold) one background passes
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.4, 0.3, 0.85, 0.2, 0.1, 0.05])
    rej, sat = metrics.rejection_at(y, s, 0.5)
    assert rej == pytest.approx(4.0) and not sat


def test_rejection_saturates_when_no_background_passes():
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.1, 0.2])
    rej, sat = metrics.rejection_at(y, s, 0.5)
    assert sat and rej == 2.0


def test_classification_metrics_keys_and_accuracy(scored):
    y, s = scored
    p = 1 / (1 + np.exp(-s))
    probs = np.stack([1 - p, p], axis=1)
    m = metrics.classification_metrics(y, probs)
    for key in metrics.REQUIRED_KEYS:
        assert key in m
    assert m["accuracy"] == pytest.approx(np.mean((p > 0.5) == y))  # ties (p = 0.5) go to class 0
    assert m["auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["n_test"] == 5000
    assert m["rejection_at_30"] > m["rejection_at_50"] > 1


def test_roc_needs_both_classes():
    with pytest.raises(ValueError):
        metrics.roc_curve(np.ones(4), np.arange(4.0))
