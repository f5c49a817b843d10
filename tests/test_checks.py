"""palm_utils.checks: the check cells' functions fail with one sentence that
names the exercise, and pass quietly (done() prints the pass line)."""
import numpy as np
import pytest

from palm_utils import checks
from palm_utils.runtime import paddle


def test_need_names_the_missing_answers():
    checks.need({"a": 1}, "a", exercise="2.1")
    with pytest.raises(checks.CheckFailed, match=r"^练习 2\.1：还没有定义 `b`、`c`。.*NotImplementedError"):
        checks.need({"a": 1}, "a", "b", "c", exercise="2.1")


def test_equal_compares_numbers_shapes_and_tensors():
    checks.equal(paddle.to_tensor(3), 3, "x", exercise="1.1")
    checks.equal([2, 1], (2, 1), "shape", exercise="1.1")
    checks.equal(np.array([1, 2]), [1, 2], "v", exercise="1.1")
    with pytest.raises(checks.CheckFailed, match=r"^练习 1\.1：参数量 应当是 41,521，你的答案是 19,233,841。提示：看 fc1。$"):
        checks.equal(19233841, 41521, "参数量", exercise="1.1", hint="看 fc1。")
    with pytest.raises(checks.CheckFailed, match=r"输出形状 应当是 \(2, 1\)，你的答案是 \(2, 10\)"):
        checks.equal([2, 10], [2, 1], "输出形状", exercise="1.1")
    assert issubclass(checks.CheckFailed, AssertionError)


def test_close_reports_scalars_and_arrays():
    checks.close(0.5275000001, 0.5275, "基线", exercise="1.4")
    with pytest.raises(checks.CheckFailed, match=r"基线 应当约为 0\.5275，你的答案是 0\.5"):
        checks.close(0.5, 0.5275, "基线", exercise="1.4")
    with pytest.raises(checks.CheckFailed, match=r"的形状应当是 \(3,\)，你的是 \(2,\)"):
        checks.close([1, 2], [1, 2, 3], "输出", exercise="1.4")
    with pytest.raises(checks.CheckFailed, match=r"最大差 0\.5"):
        checks.close(paddle.to_tensor([1.0, 2.5]), [1.0, 2.0], "输出", exercise="1.4")


def test_true_and_done(capsys):
    checks.true(1 + 1 == 2, "never shown", exercise="3.2")
    with pytest.raises(checks.CheckFailed, match=r"^练习 3\.2：k 应当是整数。$"):
        checks.true(False, "k 应当是整数。", exercise="3.2")
    checks.done("3.2")
    assert capsys.readouterr().out == "练习 3.2：检查通过。\n"
