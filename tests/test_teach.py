"""scripts/teach.py on a small chapter made here: the student edition (stubs,
no folded answers, locked checks) and the grader (full marks, zero, a wrong
answer, an exception, an endless loop, a tampered and a deleted check)."""
from __future__ import annotations

import csv
import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def teach():
    spec = importlib.util.spec_from_file_location("teach", REPO / "scripts" / "teach.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answer(gid, source):
    return new_code_cell(source, metadata={"nbgrader": {
        "solution": True, "grade": False, "locked": False, "grade_id": gid, "schema_version": 3}})


def _check(gid, source, points=1):
    return new_code_cell(source, metadata={"nbgrader": {
        "solution": False, "grade": True, "locked": True, "grade_id": gid, "points": points,
        "schema_version": 3}})


def make_chapter(folder: Path, answer_1="    return 2 * v", answer_2="y = x + 1") -> Path:
    nb = new_notebook(cells=[
        new_markdown_cell("# 第 1 章"),
        new_code_cell("x = 2"),
        new_markdown_cell("## 练习\n\n1. 写 `double`。\n\n   <details><summary>提示与答案</summary>\n\n"
                          "   乘以 2 即可。\n\n   </details>\n\n2. 求 `y`。\n\n"
                          "<details><summary>延伸阅读</summary>\n\n不是答案。\n\n</details>\n"),
        _answer("ex-1.1", "def double(v):\n    ### BEGIN SOLUTION\n" + answer_1 + "\n    ### END SOLUTION"),
        _check("check-1.1", "assert double(x) == 4, '练习 1.1：double(2) 应当是 4'\nprint('练习 1.1：检查通过。')"),
        _answer("ex-1.2", "### BEGIN SOLUTION\n" + answer_2 + "\n### END SOLUTION"),
        _check("check-1.2", "assert y == 3, '练习 1.2：y 应当是 3'\nprint('练习 1.2：检查通过。')", points=2),
        new_code_cell("z = 1"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "01_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_student_edition_stubs_answers_and_removes_folded_ones(teach, tmp_path):
    chapter = make_chapter(tmp_path / "chapters")
    before = chapter.read_text()
    [path] = teach.write_edition([], tmp_path / "student", chapters=chapter.parent)
    assert chapter.read_text() == before                       # the chapter is untouched
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in nb.cells]
    assert "return 2 * v" not in "".join(sources) and "y = x + 1" not in "".join(sources)
    assert sources[3] == "def double(v):\n    # 在这里写你的代码\n    raise NotImplementedError()"
    assert "raise NotImplementedError()" in sources[5]
    assert "乘以 2 即可" not in sources[2] and "提示与答案" not in sources[2]
    assert "延伸阅读" in sources[2]                              # a <details> that is not an answer stays
    assert sources[4] == nbformat.read(chapter, as_version=4).cells[4].source   # the checks stay
    assert nb.cells[4].metadata["editable"] is False and nb.cells[4].metadata["deletable"] is False
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def _grade(teach, tmp_path, students: dict, timeout=60):
    chapters = tmp_path / "chapters"
    make_chapter(chapters)
    subs = tmp_path / "subs"
    for student, nb in students.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / "01_demo.ipynb")
    out = tmp_path / "scores.csv"
    teach.grade(subs, out, timeout=timeout, chapters=chapters, log=lambda *_: None)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {(r["student"], r["exercise"]): r for r in rows}


def _notebook(path):
    return nbformat.read(path, as_version=4)


def test_grader_full_marks_zero_and_planted_faults(teach, tmp_path):
    chapter = _notebook(make_chapter(tmp_path / "src"))
    edition = teach.student_edition(chapter)
    wrong = _notebook(make_chapter(tmp_path / "w", answer_1="    return 3 * v"))
    raising = _notebook(make_chapter(tmp_path / "r", answer_1="    return 1 / 0"))
    looping = _notebook(make_chapter(tmp_path / "l", answer_2="while True:\n    pass"))
    tampered = _notebook(make_chapter(tmp_path / "t", answer_1="    return 3 * v"))
    tampered.cells[4].source = "pass  # the check, emptied"
    deleted = _notebook(make_chapter(tmp_path / "d", answer_2="y = 4"))
    del deleted.cells[6]
    scores = _grade(teach, tmp_path, {"alice": chapter, "bob": edition, "carol": wrong, "dave": raising,
                                      "erin": looping, "frank": tampered, "gina": deleted}, timeout=5)

    def got(student, exercise):
        row = scores[(student, exercise)]
        return float(row["points"]), row["status"]

    assert got("alice", "1.1") == (1, "passed") and got("alice", "1.2") == (2, "passed")
    assert scores[("alice", "1.2")]["max_points"] == "2" and scores[("alice", "1.2")]["chapter"] == "01"
    # the untouched edition: every check fails, with the stub's error or a missing name
    assert got("bob", "1.1")[0] == 0 and got("bob", "1.1")[1].startswith("NotImplementedError")
    assert got("bob", "1.2")[0] == 0 and got("bob", "1.2")[1].startswith("NameError")
    assert got("carol", "1.1") == (0, "AssertionError: 练习 1.1：double(2) 应当是 4")
    assert got("carol", "1.2") == (2, "passed")
    assert got("dave", "1.1") == (0, "ZeroDivisionError: division by zero") and got("dave", "1.2")[0] == 2
    # the endless loop is interrupted; its exercise scores zero, the one before still counts
    assert got("erin", "1.2")[0] == 0 and got("erin", "1.1") == (1, "passed")
    assert got("frank", "1.1")[0] == 0          # the check was put back before running
    assert got("gina", "1.2") == (0, "AssertionError: 练习 1.2：y 应当是 3")   # deleted, put back


def test_the_loop_cell_is_reported_as_interrupted(teach, tmp_path):
    looping = _notebook(make_chapter(tmp_path / "l", answer_2="while True:\n    pass"))
    chapter = _notebook(make_chapter(tmp_path / "c"))
    teach.restore_checks(looping, chapter)
    problem = teach.run_submission(looping, tmp_path, timeout=3, env=None)
    assert problem is None
    errors = [o for o in looping.cells[5].outputs if o.output_type == "error"]
    assert errors, "the looping answer cell should hold the interrupt"
    rows = teach.score(looping, chapter)
    assert [r["points"] for r in rows] == [1.0, 0.0]


def test_a_loop_that_swallows_the_interrupt_is_stopped_and_scores_zero(teach, tmp_path):
    stubborn = ("while True:\n    try:\n        while True:\n            pass\n"
                "    except KeyboardInterrupt:\n        pass")
    nb = _notebook(make_chapter(tmp_path / "s", answer_1="    return 2 * v"))
    nb.cells[5].source = stubborn               # the answer cell of exercise 1.2
    chapter = _notebook(make_chapter(tmp_path / "c"))
    problem = teach.run_submission(nb, tmp_path, timeout=2, limit=8)
    assert problem == "stopped: the notebook ran past its time limit"
    rows = teach.score(nb, chapter, problem)
    assert rows[0]["points"] == 1 and rows[0]["status"] == "passed"
    assert rows[1]["points"] == 0 and rows[1]["status"] == "not run: " + problem


def test_grade_command_refuses_bad_folders(teach, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        teach.main(["grade", str(tmp_path / "nope")])
    assert exc.value.code == 2 and "not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit):
        teach.main(["grade", str(tmp_path / "empty")])
    assert "no <student>/NN_*.ipynb inside" in capsys.readouterr().err


def test_working_folder_sees_the_stored_outputs_the_chapters_read(teach, tmp_path):
    """Chapters read ../results/runs (ablations) and ../docs/benchmarks.md (chapter 8)."""
    folder = teach.working_folder(tmp_path)
    assert folder == tmp_path / "notebook" and folder.is_dir()
    assert (folder / ".." / "docs" / "benchmarks.md").is_file()
    assert (folder / ".." / "results" / "runs").is_dir()
    assert teach.working_folder(tmp_path) == folder   # again: the links are kept, not an error
