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


# --- uncertainties ----------------------------------------------------------------------------


def test_delong_by_hand():
    # signal 0.9, 0.4; background 0.5, 0.1, 0.4 (one tie). Structural components by hand:
    # V10 = [1, 0.5] (0.4 beats 0.1, ties 0.4, loses to 0.5), V01 = [0.5, 1, 0.75]
    # var = var(V10)/2 + var(V01)/3 = 0.125/2 + 0.0625/3 = 1/12
    y = np.array([1, 1, 0, 0, 0])
    s = np.array([0.9, 0.4, 0.5, 0.1, 0.4])
    a, err = metrics.auc_delong(y, s)
    assert a == pytest.approx(0.75) and a == pytest.approx(roc_auc_score(y, s))
    assert err == pytest.approx(np.sqrt(1 / 12))


def test_delong_agrees_with_bootstrap(scored):
    y, s = scored
    _, err = metrics.auc_delong(y, s)
    boot = [roc_auc_score(y[i], s[i]) for i in metrics.bootstrap_indices(y, 200, seed=3)]
    assert np.std(boot, ddof=1) == pytest.approx(err, rel=0.2)


def test_clopper_pearson_against_beta_and_binomial():
    from scipy.stats import beta, binom

    low, high = metrics.clopper_pearson(3, 10)
    a = (1 - metrics.CL) / 2
    assert low == pytest.approx(beta.ppf(a, 3, 8)) and high == pytest.approx(beta.ppf(1 - a, 4, 7))
    # the defining property: P(X >= 3 | low) = P(X <= 3 | high) = (1 - CL) / 2
    assert binom.sf(2, 10, low) == pytest.approx(a) and binom.cdf(3, 10, high) == pytest.approx(a)
    # k = 0 and k = n in closed form: 1 - a^(1/n) and a^(1/n)
    assert metrics.clopper_pearson(0, 10) == pytest.approx((0.0, 1 - a ** 0.1))
    assert metrics.clopper_pearson(10, 10) == pytest.approx((a ** 0.1, 1.0))


def test_rejection_interval_by_hand():
    # the 4 + 4 example above: one background jet of 4 passes at eps_S = 0.5
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.4, 0.3, 0.85, 0.2, 0.1, 0.05])
    m = metrics.classification_metrics(y, s)
    low, high = metrics.clopper_pearson(1, 4)
    assert m["n_background_passing_50"] == 1 and not m["rejection_at_50_saturated"]
    assert m["rejection_at_50_interval"] == pytest.approx([1 / high, 1 / low])
    assert m["rejection_at_50_interval"][0] < m["rejection_at_50"] == 4.0 < m["rejection_at_50_interval"][1]
    assert "1 bkg jet passes" in metrics.format_rejection(m, "50")


def test_saturated_rejection_is_a_labelled_lower_bound():
    y = np.array([1, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.1, 0.2])
    m = metrics.classification_metrics(y, s)
    a = (1 - metrics.CL) / 2
    assert m["rejection_at_50_saturated"] and m["n_background_passing_50"] == 0
    low, high = m["rejection_at_50_interval"]
    assert high is None and low == pytest.approx(1 / (1 - a ** 0.5))
    text = metrics.format_rejection(m, "50")
    assert text.startswith(f"> {low:.3g}") and "lower bound" in text and "no bkg jet passes" in text


def test_metrics_carry_uncertainties(scored):
    y, s = scored
    m = metrics.classification_metrics(y, s)
    assert m["auc_err"] == pytest.approx(metrics.auc_delong(y, s)[1])
    for tag in ("30", "50"):
        low, high = m[f"rejection_at_{tag}_interval"]
        assert low < m[f"rejection_at_{tag}"] < high
        k = m[f"n_background_passing_{tag}"]
        assert k == round(m["n_background"] / m[f"rejection_at_{tag}"])
    assert "+-" in metrics.format_auc(m)


def test_paired_gain_bootstrap_by_hand(scored):
    y, s = scored[0][:1500], scored[1][:1500]
    rng = np.random.default_rng(0)
    d, sc = s + 0.3 * rng.normal(size=s.size), s + 0.6 * rng.normal(size=s.size)
    g = metrics.paired_gain(y, [d], [sc], n_boot=50, seed=5)
    idx = metrics.bootstrap_indices(y, 50, seed=5)
    assert all((y[i] == 1).sum() == (y == 1).sum() for i in idx)  # stratified: class counts fixed
    by_hand = [roc_auc_score(y[i], d[i]) - roc_auc_score(y[i], sc[i]) for i in idx]
    assert g["auc_gain"] == pytest.approx(roc_auc_score(y, d) - roc_auc_score(y, sc))
    fpr, tpr = metrics._roc_fast(y.astype(bool), d)  # the bootstrap's ROC is sklearn's
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, d, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert g["auc_gain_err_jets"] == pytest.approx(np.std(by_hand, ddof=1))
    r = [metrics.rejection_at(y, x, 0.5)[0] for x in (d, sc)]
    assert g["rejection_gain"] == pytest.approx(r[0] / r[1] - 1)
    assert g == metrics.paired_gain(y, [d], [sc], n_boot=50, seed=5)  # fixed seed: reproducible
    # pairing: the error of the difference is well below the unpaired sum of the two AUC errors
    unpaired = np.hypot(metrics.auc_delong(y, d)[1], metrics.auc_delong(y, sc)[1])
    assert g["auc_gain_err_jets"] < 0.7 * unpaired
    assert "auc_gain_err_seeds" not in g  # one seed each: no seed spread to quote


def test_paired_accuracy_gain_five_classes():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, size=800)
    wrong = lambda p: np.where(rng.random(y.size) < p, (y + rng.integers(1, 5, size=y.size)) % 5, y)  # noqa: E731
    d, sc = [wrong(0.35) for _ in range(3)], [wrong(0.45) for _ in range(3)]
    g = metrics.paired_accuracy_gain(y, d, sc, n_boot=300, seed=7)
    acc = lambda p: np.mean(p == y)  # noqa: E731
    assert g["gain"] == pytest.approx(np.mean([acc(p) for p in d]) - np.mean([acc(p) for p in sc]))
    assert g["gain_per_seed"] == pytest.approx([acc(a) - acc(b) for a, b in zip(d, sc)])
    idx = metrics.class_bootstrap_indices(y, 300, seed=7)
    assert all(np.array_equal(np.bincount(y[i], minlength=5), np.bincount(y, minlength=5)) for i in idx)
    diff = np.mean([p == y for p in d], axis=0) - np.mean([p == y for p in sc], axis=0)
    assert g["gain_err_jets"] == pytest.approx(np.std(diff[idx].mean(axis=1), ddof=1))
    # the bootstrap estimates the paired standard error sd(diff) / sqrt(n)
    assert g["gain_err_jets"] == pytest.approx(np.std(diff, ddof=1) / np.sqrt(y.size), rel=0.2)
    se = np.hypot(np.std([acc(p) for p in d], ddof=1), np.std([acc(p) for p in sc], ddof=1)) / np.sqrt(3)
    assert g["gain_err_seeds"] == pytest.approx(se) and g["gain_err"] == pytest.approx(np.hypot(se, g["gain_err_jets"]))
    assert g["gain"] > 0.05 and g["significant"]
    # probabilities give the same figures as their argmax
    probs = [np.eye(5)[p] * 0.6 + 0.08 for p in d]
    assert metrics.paired_accuracy_gain(y, probs, sc, n_boot=300, seed=7) == g
    # the same predictions on both sides: no gain, no error, not significant
    same = metrics.paired_accuracy_gain(y, d[:1], d[:1], n_boot=50, seed=7)
    assert same["gain"] == 0 and same["gain_err"] == 0 and not same["significant"]
    with pytest.raises(ValueError, match="predictions for 800 jets"):
        metrics.paired_accuracy_gain(y, [d[0][:10]], sc)


def test_paired_gain_seed_spread(scored):
    y, s = scored[0][:1500], scored[1][:1500]
    rng = np.random.default_rng(1)
    d = [s + 0.3 * rng.normal(size=s.size) for _ in range(3)]
    sc = [s + 0.6 * rng.normal(size=s.size) for _ in range(3)]
    g = metrics.paired_gain(y, d, sc, teacher=s, n_boot=20, seed=5)
    ad, as_ = [roc_auc_score(y, x) for x in d], [roc_auc_score(y, x) for x in sc]
    se = np.hypot(np.std(ad, ddof=1), np.std(as_, ddof=1)) / np.sqrt(3)
    assert g["auc_gain_err_seeds"] == pytest.approx(se)
    assert g["auc_gain_err"] == pytest.approx(np.hypot(se, g["auc_gain_err_jets"]))
    assert g["auc_gain"] > 0 and g["auc_gain_significant"] and 0 < g["gap_closed"] < 1
