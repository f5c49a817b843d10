#!/usr/bin/env bash
# Command 1: set up .venv and run the main job on the data found
# (the generated stand-in when no real dataset is configured).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
python -m palm_utils demo "$@"
