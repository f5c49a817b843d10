"""Binary classification metrics, computed with scikit-learn.

The course took ``argmax`` over a single logit column, which is always 0, so
its reported accuracy was only the share of negatives. Here the prediction is
``sigmoid(logit) > 0.5`` and every number comes from ``sklearn.metrics``.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score, roc_auc_score


def majority_baseline(labels) -> float:
    """Accuracy of always answering the most common class."""
    labels = np.asarray(labels).ravel()
    if labels.size == 0:
        return float("nan")
    share = float(np.mean(labels == 1))
    return max(share, 1.0 - share)


def binary_metrics(labels, probs, threshold: float = 0.5) -> dict:
    """Accuracy, AUC, sensitivity, specificity and the confusion matrix.

    ``labels`` are 0/1, ``probs`` the predicted probabilities of class 1.
    AUC is ``nan`` when only one class is present. The confusion matrix is
    ``[[TN, FP], [FN, TP]]`` (rows: true class 0, 1).
    """
    labels = np.asarray(labels).astype(int).ravel()
    probs = np.asarray(probs, dtype=float).ravel()
    preds = (probs > threshold).astype(int)
    both = len(np.unique(labels)) == 2
    return {
        "n": int(labels.size),
        "accuracy": float(accuracy_score(labels, preds)),
        "auc": float(roc_auc_score(labels, probs)) if both else float("nan"),
        "sensitivity": float(recall_score(labels, preds, pos_label=1, zero_division=0)),
        "specificity": float(recall_score(labels, preds, pos_label=0, zero_division=0)),
        "confusion_matrix": confusion_matrix(labels, preds, labels=[0, 1]).tolist(),
        "majority_baseline": majority_baseline(labels),
        "constant_prediction": bool(len(np.unique(preds)) == 1),
        "predicted_class": int(preds[0]) if len(np.unique(preds)) == 1 else None,
    }
