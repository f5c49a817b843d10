"""Evaluation on the validation set, one way in three steps:

- :func:`collect_predictions` runs the model over a loader and returns its
  :class:`Predictions` (probability and label per image, summed loss);
- :func:`metrics_from` turns predictions into the metrics dict (accuracy,
  AUC and their intervals, sensitivity, ...);
- :func:`evaluate_model` is the two together, what ``train_pm`` calls after
  every epoch; :func:`evaluation` (the course's name) loads a parameters file
  first and prints :func:`format_result`.

Unlike the course's version, this reads the *validation* set, calls
``model(images)`` so it works for every network, and predicts with
``sigmoid(logit) > 0.5`` instead of ``argmax`` over one column.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checkpoint import load_params
from .metrics import binary_metrics, format_ci, format_estimate
from .loaders import default_valid_loader
from .runtime import paddle

F = paddle.nn.functional


def iterate(loader):
    """Batches from a course-style reader function or any iterable
    (``paddle.io.DataLoader``), as Paddle tensors ``(images, labels)``."""
    batches = loader() if callable(loader) and not hasattr(loader, "__iter__") else loader
    for images, labels in batches:
        if not isinstance(images, paddle.Tensor):
            images, labels = paddle.to_tensor(images), paddle.to_tensor(labels)
        yield images, labels.astype("float32").reshape([-1, 1])


def main_logits(output):
    """The main head's logits: models with auxiliary heads (GoogLeNet) return
    a tuple in training mode, main head first."""
    return output[0] if isinstance(output, (tuple, list)) else output


@dataclass
class Predictions:
    """What a model said about each image of a loader, in loader order."""

    probs: np.ndarray    # sigmoid of the main logit
    labels: np.ndarray   # the true 0/1 labels
    loss_sum: float      # summed binary cross-entropy


@paddle.no_grad()
def collect_predictions(model, loader) -> Predictions:
    """Run ``model`` (in eval mode) over ``loader``: probability, label and
    loss of every image (empty arrays when the loader yields nothing)."""
    model.eval()
    loss, probs, labels = 0.0, [], []
    for images, target in iterate(loader):
        logits = main_logits(model(images)).astype("float32")
        loss += F.binary_cross_entropy_with_logits(logits, target, reduction="sum").item()
        probs.append(F.sigmoid(logits).numpy().ravel())
        labels.append(target.numpy().ravel())
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype="float32")  # noqa: E731
    return Predictions(cat(probs), cat(labels), loss)


def metrics_from(predictions: Predictions, keep_predictions: bool = False, ci: bool = True) -> dict:
    """:func:`~palm_utils.metrics.binary_metrics` of ``predictions`` (with
    95 % bootstrap intervals ``accuracy_ci`` / ``auc_ci`` unless ``ci=False``)
    plus the mean ``loss``. ``keep_predictions=True`` adds ``predictions``,
    the per-image record of :func:`prediction_record`."""
    labels, probs = predictions.labels, predictions.probs
    if len(labels) == 0:
        raise ValueError("The validation loader yielded no batches.")
    result = binary_metrics(labels, probs, ci=ci)
    result["loss"] = predictions.loss_sum / len(labels)
    if keep_predictions:
        result["predictions"] = prediction_record(labels, probs)
    return result


def evaluate_model(model, loader, keep_predictions: bool = False, ci: bool = True) -> dict:
    """The metrics of ``model`` on ``loader``: :func:`metrics_from` of
    :func:`collect_predictions` (about 20 ms of bootstrap for 400 images on
    top of the forward passes). Leaves the model in eval mode."""
    return metrics_from(collect_predictions(model, loader), keep_predictions, ci)


def prediction_record(labels, probs) -> dict:
    """Labels (int) and probabilities as JSON-ready lists. Nine significant
    digits keep every float32 probability exact, so the AUC recomputed from
    the record equals the one measured."""
    return {"labels": [int(v) for v in np.asarray(labels).ravel()],
            "probs": [float(f"{v:.9g}") for v in np.asarray(probs, dtype=float).ravel()]}


def _interval(ci):
    return None if ci is None else [float(ci[0]), float(ci[1])]


def validation_row(result: dict) -> dict:
    """The ``val_*`` values ``train_pm`` records for an epoch, from a
    :func:`metrics_from` result: ``val_loss``, ``val_acc``, ``val_auc``,
    ``val_acc_ci``, ``val_auc_ci``, plus ``predictions`` when the result has
    them (the loop keeps those of the best epoch as ``best_predictions``
    instead of storing them in every row)."""
    row = {"val_loss": result["loss"], "val_acc": result["accuracy"], "val_auc": result["auc"],
           "val_acc_ci": _interval(result.get("accuracy_ci")),
           "val_auc_ci": _interval(result.get("auc_ci"))}
    if "predictions" in result:
        row["predictions"] = result["predictions"]
    return row


def format_result(result: dict) -> str:
    """Human-readable lines for a :func:`metrics_from` result."""
    (tn, fp), (fn, tp) = result["confusion_matrix"]
    lines = [
        f"Validation ({result['n']} images): loss {result['loss']:.4f}",
        f"  accuracy {format_estimate(result['accuracy'], result.get('accuracy_ci'))}  "
        f"AUC {format_estimate(result['auc'], result.get('auc_ci'))}",
        f"  sensitivity {result['sensitivity']:.4f}  specificity {result['specificity']:.4f}  "
        f"confusion [[TN {tn}, FP {fp}], [FN {fn}, TP {tp}]]",
        f"  majority-class baseline: {result['majority_baseline']:.4f}",
    ]
    if result.get("ci_method") and format_ci(result.get("accuracy_ci")) != "–":
        lines.append(f"  95 % CI: {result['ci_method']} over the {result['n']} images")
    if result["constant_prediction"]:
        lines.append(
            f"  WARNING: every prediction is class {result['predicted_class']}: at threshold "
            "0.5 the model gives all images the same answer, so its accuracy is only the "
            "share of that class. The AUC shows whether its scores still rank the images."
        )
    return "\n".join(lines)


def evaluation(model, params_file_path, loader=None, verbose: bool = True) -> dict:
    """Load ``params_file_path`` into ``model`` and evaluate it.

    Runs on the validation set found by :func:`~palm_utils.find_dataset`
    (:func:`~palm_utils.loaders.default_valid_loader`) unless ``loader`` is given. Returns a dict with ``loss``, ``accuracy``,
    ``auc``, their 95 % bootstrap intervals ``accuracy_ci`` and ``auc_ci``
    (low, high), ``sensitivity``, ``specificity``, ``confusion_matrix``,
    ``majority_baseline`` and ``constant_prediction``; prints them, and warns
    when every prediction is the same class.
    """
    load_params(model, params_file_path)
    result = evaluate_model(model, loader if loader is not None else default_valid_loader())
    if verbose:
        print(format_result(result))
    return result
