#!/usr/bin/env bash
# Command 1: set up .venv, execute every chapter in quick mode (PALM_QUICK=1)
# on the data found (the generated stand-in when no real dataset is
# configured) and build the book from those runs; prints where to open it.
# Arguments go to scripts/book.py (for example --full or --out DIR).
# `python scripts/book.py` alone rebuilds the book from the committed
# notebooks' stored full-run outputs; `python -m palm_utils demo` is the
# old end-to-end training demo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python scripts/book.py --execute "$@"
