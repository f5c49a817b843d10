#!/usr/bin/env bash
# Command 2: the whole suite, offline, on the CPU, on two Paddle lines, each
# in its own environment:
#   1. .venv (scripts/setup.sh): the current Paddle 3 release and NumPy 2;
#      the unit tests, every chapter under strict nbval in quick mode, the book.
#   2. .venv-aistudio (scripts/setup_aistudio_like.sh): Paddle 2.6.2, NumPy
#      1.26.4 and opencv-python as on AI Studio, palm_utils not installed (the
#      notebooks find the checkout's copy); the unit tests and every chapter
#      under strict nbval in quick mode again. Tests that do not depend on the
#      Paddle line run on line 1 only: the book, the maintainers' tools
#      (benchmark, full runs) and the checks of the committed notebooks' files.
# PALM_LINES=3 or PALM_LINES=2.6 runs one line only; other arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
lines=${PALM_LINES:-"3 2.6"}
export PALM_OFFLINE=1 PALM_QUICK=1
status=0
for line in $lines; do
    start=$SECONDS
    if [ "$line" = 3 ]; then
        (source scripts/setup.sh
         echo "== line 1: Paddle $(python -W ignore -c 'import paddle; print(paddle.__version__)'), NumPy $(python -c 'import numpy; print(numpy.__version__)')"
         python -m pytest --nbval --nbval-current-env --durations=15 tests notebooks "$@") || status=1
    else
        (source scripts/setup_aistudio_like.sh
         echo "== line 2: Paddle $(python -W ignore -c 'import paddle; print(paddle.__version__)'), NumPy $(python -c 'import numpy; print(numpy.__version__)'), palm_utils from the checkout"
         python -m pytest --nbval --nbval-current-env --durations=15 tests notebooks --ignore=tests/test_book.py \
             --ignore=tests/test_bench.py --ignore=tests/test_full_run.py \
             --ignore=tests/test_notebooks_clean.py "$@") || status=1
    fi
    echo "== line $line took $((SECONDS - start)) s"
done
exit $status
