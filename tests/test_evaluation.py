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
