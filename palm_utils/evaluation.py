"""Evaluation on the validation set: :func:`evaluation` (the course's name)
and :func:`evaluate_model`, which ``train_pm`` calls after every epoch.

Unlike the course's version, this reads the *validation* set, calls
``model(images)`` so it works for every network, and predicts with
``sigmoid(logit) > 0.5`` instead of ``argmax`` over one column.
"""
from __future__ import annotations

import numpy as np

from .checkpoint import load_params
from .metrics import binary_metrics, format_ci, format_estimate
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


@paddle.no_grad()
def evaluate_model(model, loader, return_predictions: bool = False, ci: bool = True) -> dict:
    """Loss and :func:`~palm_utils.metrics.binary_metrics` of ``model`` on
    ``loader``, with 95 % bootstrap intervals ``accuracy_ci`` / ``auc_ci``
    (about 20 ms for 400 images; ``ci=False`` skips them). Leaves the model
    in eval mode.

    ``return_predictions=True`` adds ``predictions``: ``{"labels": [...],
    "probs": [...]}`` per image, in loader order, as JSON-ready lists (what
    ``history.json`` keeps of the best epoch, so that intervals can be
    recomputed later; see :func:`validation_row`)."""
    return summarize(*predict(model, loader), return_predictions=return_predictions, ci=ci)


@paddle.no_grad()
def predict(model, loader) -> tuple[float, np.ndarray, np.ndarray]:
    """Summed BCE loss, probabilities and labels of ``model`` on ``loader``
    (in eval mode; empty arrays when the loader yields nothing)."""
    model.eval()
    loss, probs, labels = 0.0, [], []
    for images, target in iterate(loader):
        logits = main_logits(model(images)).astype("float32")
        loss += F.binary_cross_entropy_with_logits(logits, target, reduction="sum").item()
        probs.append(F.sigmoid(logits).numpy().ravel())
        labels.append(target.numpy().ravel())
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype="float32")  # noqa: E731
    return loss, cat(probs), cat(labels)


def summarize(loss: float, probs, labels, return_predictions: bool = False, ci: bool = True) -> dict:
    """:func:`~palm_utils.metrics.binary_metrics` plus the mean loss, from
    :func:`predict`'s summed loss, probabilities and labels."""
    if len(labels) == 0:
        raise ValueError("The validation loader yielded no batches.")
    result = binary_metrics(labels, probs, ci=ci)
    result["loss"] = loss / len(labels)
    if return_predictions:
        result["predictions"] = prediction_record(labels, probs)
    return result


def prediction_record(labels, probs) -> dict:
    """Labels (int) and probabilities as JSON-ready lists. Nine significant
    digits keep every float32 probability exact, so the AUC recomputed from
    the record equals the one measured."""
    return {"labels": [int(v) for v in np.asarray(labels).ravel()],
            "probs": [float(f"{v:.9g}") for v in np.asarray(probs, dtype=float).ravel()]}


def _interval(ci):
    return None if ci is None else [float(ci[0]), float(ci[1])]


def validation_row(result: dict) -> dict:
    """The ``val_*`` values ``train_pm`` records for an epoch, from an
    :func:`evaluate_model` result: ``val_loss``, ``val_acc``, ``val_auc``,
    ``val_acc_ci``, ``val_auc_ci``, plus ``predictions`` when the result has
    them (the loop keeps those of the best epoch as ``best_predictions``
    instead of storing them in every row)."""
    row = {"val_loss": result["loss"], "val_acc": result["accuracy"], "val_auc": result["auc"],
           "val_acc_ci": _interval(result.get("accuracy_ci")),
           "val_auc_ci": _interval(result.get("auc_ci"))}
    if "predictions" in result:
        row["predictions"] = result["predictions"]
    return row


def default_valid_loader(batch_size: int = 10):
    from .datasets.discovery import default_dataset
    from .loaders import valid_data_loader

    info = default_dataset()
    return valid_data_loader(info.valid_dir, info.label_file, batch_size=batch_size)


def describe(result: dict) -> str:
    """Human-readable lines for an evaluation result."""
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

    Runs on the validation set found by :func:`~palm_utils.datasets.discovery.find_dataset`
    unless ``loader`` is given. Returns a dict with ``loss``, ``accuracy``,
    ``auc``, their 95 % bootstrap intervals ``accuracy_ci`` and ``auc_ci``
    (low, high), ``sensitivity``, ``specificity``, ``confusion_matrix``,
    ``majority_baseline`` and ``constant_prediction``; prints them, and warns
    when every prediction is the same class.
    """
    load_params(model, params_file_path)
    result = evaluate_model(model, loader if loader is not None else default_valid_loader())
    if verbose:
        print(describe(result))
    return result
