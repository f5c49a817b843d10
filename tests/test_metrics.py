import math

import numpy as np
import pytest

from palm_utils.metrics import binary_metrics, majority_baseline


def test_metrics_against_hand_computed_values():
    labels = [1, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    probs = [0.9, 0.8, 0.4, 0.7, 0.2, 0.6, 0.1, 0.55, 0.3, 0.45]
    # predictions (> 0.5):  1 1 0 1 0 1 0 1 0 0  -> TP 4, FN 2, TN 3, FP 1
    m = binary_metrics(labels, probs)
    assert m["confusion_matrix"] == [[3, 1], [2, 4]]
    assert m["accuracy"] == pytest.approx(7 / 10)
    assert m["sensitivity"] == pytest.approx(4 / 6)
    assert m["specificity"] == pytest.approx(3 / 4)
    # AUC by counting positive/negative pairs ranked correctly: 21 of 24.
    assert m["auc"] == pytest.approx(21 / 24)
    assert m["majority_baseline"] == pytest.approx(0.6)
    assert m["constant_prediction"] is False and m["n"] == 10


def test_constant_prediction_flagged():
    m = binary_metrics([1, 0, 1, 1], [0.2, 0.3, 0.1, 0.4])
    assert m["constant_prediction"] is True and m["predicted_class"] == 0
    assert m["accuracy"] == pytest.approx(0.25) and m["sensitivity"] == 0.0
    assert m["specificity"] == 1.0


def test_single_class_auc_is_nan():
    assert math.isnan(binary_metrics([1, 1], [0.7, 0.2])["auc"])


def test_majority_baseline_of_palm_validation():
    assert majority_baseline(np.r_[np.ones(211), np.zeros(189)]) == pytest.approx(0.5275)


# ---- 95 % intervals ---------------------------------------------------------

from statistics import NormalDist

from sklearn.metrics import roc_auc_score

from palm_utils import metrics
from palm_utils.metrics import bootstrap_ci, format_ci, wilson_interval


def _palm_like(n_pos=211, n_neg=189, wrong=22, seed=0):
    """400 validation images as in PALM (211 positives), a model with about
    0.945 accuracy whose scores have ties (rounded to 0.01)."""
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    probs = np.where(labels == 1, rng.uniform(0.55, 1.0, labels.size), rng.uniform(0.0, 0.45, labels.size))
    flip = rng.choice(labels.size, wrong, replace=False)
    probs[flip] = 1 - probs[flip]
    return labels, np.round(probs, 2)


def test_interval_contains_the_point_estimate():
    labels, probs = _palm_like()
    m = binary_metrics(labels, probs)
    assert m["accuracy"] == pytest.approx(1 - 22 / 400)
    for key in ("accuracy", "auc"):
        low, high = m[f"{key}_ci"]
        assert low < m[key] < high, key
    assert m["ci_method"] == "percentile bootstrap, 2000 resamples, seed 2024"


def test_accuracy_interval_width_matches_the_binomial():
    """For acc p over n images the 95 % interval is about p +- 1.96 sqrt(p(1-p)/n):
    p = 0.945, n = 400 gives a width of 0.0447 (+-2.2 points)."""
    labels, probs = _palm_like()
    p, n = 1 - 22 / 400, 400
    expected = 2 * NormalDist().inv_cdf(0.975) * np.sqrt(p * (1 - p) / n)
    assert expected == pytest.approx(0.0447, abs=5e-4)
    low, high = binary_metrics(labels, probs)["accuracy_ci"]
    assert high - low == pytest.approx(expected, rel=0.15)
    # and not just any width: 100 images would give twice as wide an interval
    lo100, hi100 = bootstrap_ci(labels[::4], probs[::4])["accuracy"]
    assert (hi100 - lo100) > 1.5 * (high - low)
    w_low, w_high = wilson_interval(p, n)
    assert (w_low, w_high) == pytest.approx((low, high), abs=0.006)


def test_same_seed_same_interval_other_seed_other_interval():
    labels, probs = _palm_like()
    a = bootstrap_ci(labels, probs, seed=7)
    assert bootstrap_ci(labels, probs, seed=7) == a
    b = bootstrap_ci(labels, probs, seed=8)
    assert b != a
    assert b["auc"] == pytest.approx(a["auc"], abs=0.01)  # different draws, same answer


def test_bootstrap_equals_a_plain_loop_with_the_same_draws():
    """The vectorised AUC (draw counts, tie groups, integer sums) equals
    sklearn's roc_auc_score on each explicit resample."""
    labels, probs = _palm_like(n_pos=30, n_neg=20, wrong=5)
    resamples, seed = 300, 3
    order = np.argsort(probs, kind="stable")
    y, p = labels[order], probs[order]
    idx = np.random.default_rng(seed).integers(0, y.size, size=(resamples, y.size))
    accs = [np.mean((p[i] > 0.5) == y[i]) for i in idx]
    aucs = [roc_auc_score(y[i], p[i]) for i in idx if len(np.unique(y[i])) == 2]
    got = bootstrap_ci(labels, probs, resamples=resamples, seed=seed)
    assert got["accuracy"] == pytest.approx(tuple(np.percentile(accs, [2.5, 97.5])), abs=1e-12)
    assert got["auc"] == pytest.approx(tuple(np.percentile(aucs, [2.5, 97.5])), abs=1e-12)


def test_weighted_auc_with_ties_and_repeats():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 60)
    probs = np.round(rng.random(60), 1)  # many ties
    order = np.argsort(probs, kind="stable")
    y, p = labels[order], probs[order]
    starts = np.flatnonzero(np.r_[True, np.diff(p) != 0])
    counts = rng.integers(0, 4, (5, 60))
    got = metrics._weighted_auc(counts, y, starts)
    for row, auc in zip(counts, got):
        expanded = np.repeat(np.arange(60), row)
        assert auc == pytest.approx(roc_auc_score(y[expanded], p[expanded]), abs=1e-12)


def test_large_sets_are_processed_in_chunks(monkeypatch):
    labels, probs = _palm_like()
    whole = bootstrap_ci(labels, probs)
    monkeypatch.setattr(metrics, "_CHUNK_CELLS", 400 * 300)  # 7 chunks of <= 300 resamples
    chunked = bootstrap_ci(labels, probs)
    for key in ("accuracy", "auc"):
        assert chunked[key] == pytest.approx(whole[key], abs=0.01)


def test_bootstrap_resamples_in_one_vectorised_pass(monkeypatch):
    """PALM's 400 images: all 2000 resamples are drawn (and scored) as one
    array, not one resample at a time. (Speed itself is not a test's job.)"""
    labels, probs = _palm_like()
    calls = []
    original = metrics._resample_counts

    def counting(rng, n, size):
        calls.append(size)
        return original(rng, n, size)

    monkeypatch.setattr(metrics, "_resample_counts", counting)
    bootstrap_ci(labels, probs)
    assert calls == [2000]


def test_intervals_of_degenerate_sets():
    one_class = binary_metrics([1, 1, 1], [0.7, 0.2, 0.9])
    assert all(math.isnan(v) for v in one_class["auc_ci"])
    low, high = one_class["accuracy_ci"]
    assert 0 <= low <= high <= 1
    perfect = binary_metrics([0, 1] * 50, [0.1, 0.9] * 50)
    assert perfect["accuracy_ci"] == (1.0, 1.0) and perfect["auc_ci"] == (1.0, 1.0)
    no_ci = binary_metrics([0, 1], [0.2, 0.8], ci=False)
    assert no_ci["accuracy_ci"] is None and no_ci["auc_ci"] is None and no_ci["ci_method"] is None
    with pytest.raises(ValueError, match="3 labels but 2"):
        bootstrap_ci([0, 1, 1], [0.1, 0.2])


def test_wilson_interval_known_values():
    assert wilson_interval(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0.0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(1.0, 400)[1] == pytest.approx(1.0)
    assert all(math.isnan(v) for v in wilson_interval(0.5, 0))


def test_format_ci():
    assert format_ci((0.92249, 0.9661)) == "0.922-0.966"
    assert format_ci(None) == format_ci((float("nan"), float("nan"))) == "–"


# ---- majority baseline of the validation set actually used -------------------

def test_majority_baseline_accepts_counts_datasets_and_dataset_info(tmp_path, monkeypatch):
    from conftest import make_mini_palm

    from palm_utils import quick
    from palm_utils.datasets import find_dataset
    from palm_utils.loaders import PalmDataset, valid_data_loader
    from palm_utils.runtime import paddle

    assert majority_baseline({1: 211, 0: 189}) == pytest.approx(0.5275)
    # 40 validation images alternating 0, 1: half positive
    info = find_dataset(make_mini_palm(tmp_path / "palm", n_valid=40), verbose=False)
    assert info.valid_counts == {0: 20, 1: 20}
    assert majority_baseline(info) == 0.5
    valid_set = PalmDataset.valid(info.valid_dir, info.label_file)
    assert majority_baseline(valid_set) == 0.5
    assert majority_baseline(paddle.io.DataLoader(valid_set, batch_size=10)) == 0.5
    with pytest.raises(TypeError, match="Cannot read labels from function"):
        majority_baseline(lambda: None)  # a reader function that does not say its labels
    # quick mode keeps 10 evenly spread images (every fourth one: all label 0);
    # a loader gives the baseline of the images it reads, the DatasetInfo that
    # of the whole validation set
    monkeypatch.setattr(quick, "LIMITS", quick.Limits())
    quick_labels = PalmDataset.valid(info.valid_dir, info.label_file).labels
    assert len(quick_labels) == quick.LIMITS.valid_images == 10
    reader = valid_data_loader(info.valid_dir, info.label_file)
    assert majority_baseline(reader) == majority_baseline(quick_labels) == 1.0
    assert majority_baseline(info) == 0.5
