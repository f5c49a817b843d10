#!/usr/bin/env bash
# Command 2: the whole suite, offline, on the CPU, on three Paddle lines, each
# in its own environment:
#   1. .venv (scripts/setup.sh): the current Paddle 3 release and NumPy 2;
#      the unit tests, every chapter under strict nbval in quick mode, the book.
#   2. .venv-aistudio (scripts/setup_aistudio_like.sh): Paddle 2.6.2, NumPy
#      1.26.4 and opencv-python as on AI Studio, palm_utils not installed (the
#      notebooks find the checkout's copy); the unit tests and every chapter
#      under strict nbval in quick mode again.
#   3. .venv-paddle32 (scripts/setup_paddle32.sh): Paddle 3.2.2 (what AI
#      Studio's notebooks run now) with NumPy 2.2.6, palm_utils installed as
#      in line 1; every chapter under strict nbval in quick mode (Paddle 3.2
#      prints "Non compatible API" warnings on stderr that 3.3 does not), and
#      the unit tests that exercise Paddle's API; the ones of plain Python,
#      NumPy and OpenCV logic (labels, images, the stand-in, data discovery,
#      metrics and paired tests, the command line's argument checks) run on
#      lines 1 and 2, whose NumPy and OpenCV bracket this line's.
# On each line the unit tests run first, then the chapters under nbval; both
# in parallel (pytest-xdist, one process per core, at most 4), the chapters
# one whole notebook per process (--dist loadfile: nbval runs a notebook's
# cells in order in one kernel). Tests that do not depend on the Paddle line run on line 1 only: the book,
# the maintainers' and instructors' tools (benchmark, full runs, the
# comparisons runner, the student edition and grader), the
# checks of the committed notebooks' files and of the package's layers.
# PALM_LINES=3, PALM_LINES=2.6 or PALM_LINES=3.2 runs one line only (or give
# several: PALM_LINES="3 3.2"); other arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lines=${PALM_LINES:-"3 2.6 3.2"}
export PALM_OFFLINE=1 PALM_QUICK=1
line_only=(--ignore=tests/test_book.py --ignore=tests/test_bench.py
           --ignore=tests/test_full_run.py --ignore=tests/test_notebooks_clean.py
           --ignore=tests/test_layers.py --ignore=tests/test_experiments.py
           --ignore=tests/test_teach.py --ignore=tests/test_teach_chapters.py)
paddle_free=(--ignore=tests/test_aistudio.py --ignore=tests/test_aistudio_chapter.py
             --ignore=tests/test_cli_errors.py --ignore=tests/test_compare.py
             --ignore=tests/test_discovery.py --ignore=tests/test_labels.py
             --ignore=tests/test_metrics.py --ignore=tests/test_plots.py
             --ignore=tests/test_reader.py --ignore=tests/test_standin.py)
# The unit tests run in two processes (pytest-xdist; at most 4 on bigger
# machines), and so do the chapters, each notebook whole in one process
# (--dist loadfile): nbval runs a notebook's cells in order in one kernel.
# Chapters running side by side share nothing they write (each trains into
# checkpoints/<its runs>/, saved atomically; the stand-in is built once,
# atomically, whichever process comes first); a chapter's table of other
# chapters' runs shows what is there, and its output is not compared.
parallel=(-n auto --maxprocesses 4)
suite() {   # suite [pytest arguments...]: the unit tests, then the chapters, each in parallel
    local failed=0
    python -m pytest "${parallel[@]}" --durations=15 tests "$@" || failed=1
    python -m pytest "${parallel[@]}" --dist loadfile --nbval --nbval-current-env --durations=10 notebooks "$@" || failed=1
    return $failed
}
versions() {
    echo "Paddle $(python -W ignore -c 'import paddle; print(paddle.__version__)'), NumPy $(python -c 'import numpy; print(numpy.__version__)')"
}
status=0
for line in $lines; do
    start=$SECONDS
    case $line in
    3)
        (source scripts/setup.sh
         echo "== line 1: $(versions)"
         suite "$@") || status=1
        ;;
    2.6)
        (source scripts/setup_aistudio_like.sh
         echo "== line 2: $(versions), palm_utils from the checkout"
         suite "${line_only[@]}" "$@") || status=1
        ;;
    3.2)
        (source scripts/setup_paddle32.sh
         echo "== line 3: $(versions)"
         suite "${line_only[@]}" "${paddle_free[@]}" "$@") || status=1
        ;;
    *)
        echo "test.sh: unknown line '$line' in PALM_LINES (choose from 3, 2.6, 3.2)" >&2
        status=1
        continue
        ;;
    esac
    echo "== PALM_LINES=$line (Paddle $line) took $((SECONDS - start)) s"
done
exit $status
