#!/usr/bin/env bash
# Command 2: set up .venv and run the whole suite, offline, on the CPU:
# the unit tests, then every chapter notebook under strict nbval in quick mode.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export PALM_OFFLINE=1 PALM_QUICK=1
python -m pytest --nbval --nbval-current-env tests notebooks "$@"
