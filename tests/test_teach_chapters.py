"""The chapters' exercises for instructors (scripts/teach.py on the real
chapters, in quick mode): every chapter has checked exercises marked the
same way; the grader gives a chapter full marks; its student edition runs
top to bottom with every check failing with a one-sentence message and
nothing else failing, and scores zero."""
from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
#: the chapters the grader runs itself: chapter 1 in CI (every chapter's
#: checks pass under nbval on every line already; running each chapter once
#: more would add minutes), all with PALM_TEACH_ALL=1
GRADED = CHAPTERS if os.environ.get("PALM_TEACH_ALL") else CHAPTERS[:1]
#: every chapter's student edition runs top to bottom, in CI too (issue 26's
#: "done when"; each is a quick run of the chapter, 40 to 50 s idle)
EDITIONS = CHAPTERS


from test_teach import teach  # noqa: E402,F401  (the fixture: scripts/teach.py as a module)


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem[:2] for p in CHAPTERS])
def test_exercises_are_marked_consistently(path, teach):
    nb = nbformat.read(path, as_version=4)
    number = int(path.name[:2])
    checks = teach.checks_of(nb)
    assert checks, f"{path.name} has no checked exercise"
    answers = [c for c in nb.cells if teach.is_answer(c)]
    ids = [_meta(c)["grade_id"] for c in nb.cells if _meta(c)]
    assert len(ids) == len(set(ids)), f"repeated grade_id in {path.name}"
    for gid, cell in checks.items():
        exercise = teach.exercise_of(gid)
        assert re.fullmatch(rf"{number}\.\d+", exercise), gid
        assert f'pu.checks.done("{exercise}")' in cell.source and _meta(cell)["locked"]
        assert f"ex-{exercise}" in ids[:ids.index(gid)], f"{gid}: no answer cell before it"
    for cell in answers:
        assert cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source, _meta(cell)["grade_id"]
        assert f"check-{teach.exercise_of(_meta(cell)['grade_id'])}" in checks


def _run(teach, nb, tmp_path):
    return teach.run_submission(nb, teach.working_folder(tmp_path), timeout=600, env=teach.quick_env())


@pytest.mark.parametrize("path", GRADED, ids=[p.stem[:2] for p in GRADED])
def test_the_grader_gives_a_chapter_full_marks(path, teach, tmp_path):
    chapter = nbformat.read(path, as_version=4)
    ran = nbformat.from_dict(chapter)
    assert _run(teach, ran, tmp_path) is None
    rows = teach.score(ran, chapter)
    assert rows and all(r["status"] == "passed" and r["points"] == r["max_points"] for r in rows), rows


def _names(source: str) -> tuple[set, set]:
    """The names a cell binds and the names it reads (IPython's % and ! lines
    dropped), as scripts/save_models.py finds them for the saved cells."""
    from test_models import save_models

    plain = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    return save_models._bound_and_loaded(ast.parse(plain))


def _needs_answers(nb, teach) -> tuple[set, list]:
    """The names only answer cells bind, and (code cell, names) for every
    other cell but a check that reads some of them."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    from_answers, elsewhere = set(), set()
    for cell in cells:
        (from_answers if teach.is_answer(cell) else elsewhere).update(_names(cell.source)[0])
    only_answers = from_answers - elsewhere
    return only_answers, [(i, sorted(_names(c.source)[1] & only_answers)) for i, c in enumerate(cells)
                          if not (teach.is_answer(c) or teach.is_check(c)) and _names(c.source)[1] & only_answers]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem[:2] for p in CHAPTERS])
def test_no_cell_but_a_check_needs_an_answer(path, teach):
    """A student who skips an exercise can still run the rest of the chapter:
    a name that only an answer cell binds is read by check cells only."""
    chapter = nbformat.read(path, as_version=4)
    only_answers, needing = _needs_answers(chapter, teach)
    assert only_answers, "the chapter's answers bind no names: is the markup lost?"
    assert not needing, f"{path.name}: these code cells read names only an answer binds: {needing}"
    # the same chapter with a cell that uses an answer after it is caught
    used = nbformat.from_dict(chapter)
    used.cells.append(nbformat.v4.new_code_cell(f"print({sorted(only_answers)[0]})"))
    assert _needs_answers(used, teach)[1]


@pytest.mark.parametrize("path", EDITIONS, ids=[p.stem[:2] for p in EDITIONS])
def test_student_edition_runs_with_every_check_failing_clearly_and_scores_zero(path, teach, tmp_path):
    chapter = nbformat.read(path, as_version=4)
    edition = teach.student_edition(chapter)
    assert _run(teach, edition, tmp_path) is None
    rows = teach.score(edition, chapter)
    assert rows and all(r["points"] == 0 for r in rows), rows
    for i, cell in enumerate(edition.cells):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if teach.is_answer(cell):          # the stub, and nothing else
            assert [e.ename for e in errors] in ([], ["NotImplementedError"]), (i, errors)
        elif teach.is_check(cell):         # one sentence that names the exercise
            assert [e.ename for e in errors] == ["CheckFailed"], (i, cell.source, errors)
            assert errors[0].evalue.startswith(f"练习 {teach.exercise_of(_meta(cell)['grade_id'])}：")
        else:
            assert not errors, f"cell {i} failed in the student edition: {errors[0].ename}: {errors[0].evalue}"
