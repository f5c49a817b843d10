"""The checks of the chapters' exercises: ordinary functions that a check
cell calls after the cell where a student writes an answer.

A check cell reads like this::

    pu.checks.need(globals(), "kernel_size", exercise="1.3")
    pu.checks.equal(output_size(224, kernel_size), 1, "conv3 输出的边长", exercise="1.3")
    pu.checks.done("1.3")

Each function raises :class:`CheckFailed` (an ``AssertionError``) with one
sentence in Chinese that says which exercise, what was wrong and what to
try; :func:`done` prints the line a student sees when every check of the
exercise passed. Nothing here needs anything beyond the standard library
and NumPy, so the checks run wherever the chapters run, with nothing new
installed: the student edition (``python scripts/teach.py edition``) keeps
them as they are, and the instructor's grader (``python scripts/teach.py
grade``) scores an exercise by whether its check cell ran without an error.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["CheckFailed", "need", "equal", "close", "true", "done"]


class CheckFailed(AssertionError):
    """A check of an exercise failed; the message says what to fix."""


def _fail(exercise: str, text: str, hint: str = ""):
    raise CheckFailed(f"练习 {exercise}：{text}" + (f"提示：{hint}" if hint else ""))


def need(namespace: dict, *names: str, exercise: str) -> None:
    """Fail unless every name in ``names`` is defined in ``namespace`` (pass
    ``globals()``): the answer cell above has not been run, or still holds
    its stub."""
    missing = [n for n in names if n not in namespace]
    if missing:
        listed = "、".join(f"`{n}`" for n in missing)
        _fail(exercise, f"还没有定义 {listed}。先在上面的练习单元格里写出答案"
                        f"（替换掉 `raise NotImplementedError()`），运行它，再运行这个检查。")


def _number(value):
    if hasattr(value, "numpy"):          # a Paddle tensor
        value = value.numpy()
    array = np.asarray(value)
    return array.item() if array.size == 1 else array


def equal(actual, expected, what: str, *, exercise: str, hint: str = "") -> None:
    """Fail unless ``actual == expected`` (numbers, strings, tuples, shapes)."""
    a = tuple(actual) if isinstance(actual, (list, tuple)) else _number(actual)
    e = tuple(expected) if isinstance(expected, (list, tuple)) else _number(expected)
    same = np.array_equal(a, e) if isinstance(a, np.ndarray) or isinstance(e, np.ndarray) else a == e
    if not same:
        _fail(exercise, f"{what} 应当是 {_show(e)}，你的答案是 {_show(a)}。", hint)


def close(actual, expected, what: str, *, exercise: str, rtol: float = 1e-5, atol: float = 1e-6,
          hint: str = "") -> None:
    """Fail unless ``actual`` and ``expected`` agree to ``rtol`` / ``atol``
    (scalars or arrays of the same shape; tensors are converted)."""
    a, e = np.asarray(_number(actual), dtype=float), np.asarray(_number(expected), dtype=float)
    if a.shape != e.shape:
        _fail(exercise, f"{what} 的形状应当是 {e.shape}，你的是 {a.shape}。", hint)
    if not np.allclose(a, e, rtol=rtol, atol=atol, equal_nan=False):
        worst = float(np.max(np.abs(a - e))) if a.size else math.nan
        if a.size == 1:
            _fail(exercise, f"{what} 应当约为 {float(e):.6g}，你的答案是 {float(a):.6g}。", hint)
        _fail(exercise, f"{what} 与参考值不一致（最大差 {worst:.3g}，允许 {atol:g} + {rtol:g} × |参考值|）。",
              hint)


def true(condition, message: str, *, exercise: str, hint: str = "") -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not bool(condition):
        _fail(exercise, message, hint)


def done(exercise: str) -> None:
    """Print that every check of ``exercise`` passed."""
    print(f"练习 {exercise}：检查通过。")


def _show(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and abs(value) >= 10000:
        return f"{value:,}"
    return repr(value) if isinstance(value, str) else str(value)
