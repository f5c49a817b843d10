import json

import numpy as np
import pytest

from palm_utils import evaluation
from palm_utils.checkpoint import save_state
from palm_utils.runtime import paddle


class ConstantNet(paddle.nn.Layer):
    """Ignores the image and outputs one fixed logit: the LeNet-on-PALM trap."""

    def __init__(self, logit=-2.0):
        super().__init__()
        self.bias = paddle.create_parameter([1], "float32",
                                            default_initializer=paddle.nn.initializer.Constant(logit))

    def forward(self, x):
        return paddle.zeros([x.shape[0], 1]) + self.bias


def _loader(labels, batch=4):
    labels = np.asarray(labels, dtype="float32")

    def reader():
        for i in range(0, len(labels), batch):
            y = labels[i:i + batch].reshape(-1, 1)
            yield np.zeros((len(y), 3, 8, 8), "float32"), y
    return reader


def test_constant_prediction_warning_and_baseline(tmp_path, capsys):
    model = ConstantNet(-2.0)
    save_state(model.state_dict(), tmp_path / "c.pdparams")
    labels = [1] * 6 + [0] * 4
    result = evaluation(ConstantNet(5.0), tmp_path / "c.pdparams", loader=_loader(labels))
    out = capsys.readouterr().out
    assert result["constant_prediction"] and result["accuracy"] == pytest.approx(0.4)
    assert "majority-class baseline: 0.6000" in out
    assert "WARNING: every prediction is class 0" in out
    # BCE of logit -2: label 1 -> log(1 + e^2), label 0 -> log(1 + e^-2)
    expected = (6 * np.log1p(np.exp(2.0)) + 4 * np.log1p(np.exp(-2.0))) / 10
    assert result["loss"] == pytest.approx(expected, rel=1e-5)


def test_missing_checkpoint_names_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pdparams: checkpoint not found"):
        evaluation(ConstantNet(), tmp_path / "nope.pdparams", loader=_loader([1, 0]))


def test_checkpoint_of_another_network_is_refused(tmp_path):
    lin = paddle.nn.Linear(2, 2)
    save_state(lin.state_dict(), tmp_path / "lin.pdparams")
    with pytest.raises(ValueError, match="lin.pdparams: parameters do not match ConstantNet"):
        evaluation(ConstantNet(), tmp_path / "lin.pdparams", loader=_loader([1, 0]))


def test_corrupt_checkpoint_names_file(tmp_path):
    (tmp_path / "bad.pdparams").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.pdparams: cannot load"):
        evaluation(ConstantNet(), tmp_path / "bad.pdparams", loader=_loader([1, 0]))


class ScoreNet(paddle.nn.Layer):
    """Outputs the image's first pixel as its logit, so a test chooses the
    scores through the images."""

    def __init__(self):
        super().__init__()
        self.scale = paddle.create_parameter([1], "float32",
                                             default_initializer=paddle.nn.initializer.Constant(1.0))

    def forward(self, x):
        return x[:, 0, 0, :1] * self.scale


def _scored_loader(labels, logits, batch=8):
    labels = np.asarray(labels, dtype="float32")
    logits = np.asarray(logits, dtype="float32")

    def reader():
        for i in range(0, len(labels), batch):
            images = np.zeros((len(labels[i:i + batch]), 3, 2, 2), "float32")
            images[:, 0, 0, 0] = logits[i:i + batch]
            yield images, labels[i:i + batch].reshape(-1, 1)
    return reader


def _scored_set(n=200, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logits = np.where(labels == 1, 1.0, -1.0) + rng.normal(0, 1.0, n)
    return labels, logits


def test_evaluation_prints_the_intervals(tmp_path, capsys):
    labels, logits = _scored_set()
    save_state(ScoreNet().state_dict(), tmp_path / "s.pdparams")
    result = evaluation(ScoreNet(), tmp_path / "s.pdparams", loader=_scored_loader(labels, logits))
    out = capsys.readouterr().out
    (alo, ahi), (ulo, uhi) = result["accuracy_ci"], result["auc_ci"]
    assert alo < result["accuracy"] < ahi and ulo < result["auc"] < uhi
    assert f"accuracy {result['accuracy']:.4f} (95 % CI {alo:.3f}-{ahi:.3f})" in out
    assert f"AUC {result['auc']:.4f} (95 % CI {ulo:.3f}-{uhi:.3f})" in out
    assert "95 % CI: percentile bootstrap, 2000 resamples, seed 2024 over the 200 images" in out


def test_predictions_are_returned_and_reproduce_the_intervals():
    from palm_utils.evaluation import evaluate_model, validation_row
    from palm_utils.metrics import binary_metrics

    labels, logits = _scored_set(n=50)
    loader = _scored_loader(labels, logits)
    result = evaluate_model(ScoreNet(), loader, keep_predictions=True)
    saved = json.loads(json.dumps(result["predictions"]))  # as history.json keeps them
    assert saved["labels"] == labels.tolist() and len(saved["probs"]) == 50
    again = binary_metrics(saved["labels"], saved["probs"])
    assert again["auc"] == result["auc"]
    assert again["accuracy_ci"] == result["accuracy_ci"] and again["auc_ci"] == result["auc_ci"]

    row = validation_row(result)
    assert set(row) == {"val_loss", "val_acc", "val_auc", "val_acc_ci", "val_auc_ci", "predictions"}
    assert row["val_acc_ci"] == list(result["accuracy_ci"])
    assert "predictions" not in evaluate_model(ScoreNet(), loader)
    assert evaluate_model(ScoreNet(), loader, ci=False)["accuracy_ci"] is None
    assert "predictions" not in validation_row(evaluate_model(ScoreNet(), loader))


def test_format_result_without_intervals():
    from palm_utils.evaluation import evaluate_model, format_result

    labels, logits = _scored_set(n=20)
    text = format_result(evaluate_model(ScoreNet(), _scored_loader(labels, logits), ci=False))
    assert "95 % CI" not in text and "accuracy" in text
