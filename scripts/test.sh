#!/usr/bin/env bash
# Command 2: set up .venv and run the whole test suite, offline, on the CPU.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
export PALM_OFFLINE=1
python -m pytest "$@"
