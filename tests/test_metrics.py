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
