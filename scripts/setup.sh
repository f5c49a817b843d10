#!/usr/bin/env bash
# Create .venv (once) and install palm-utils into it with a suitable Paddle.
# Sourced by run.sh and test.sh. Never replaces an installed Paddle: if the
# Python that runs this already imports `paddle` (for example
# paddlepaddle-gpu on AI Studio), the venv sees it through
# --system-site-packages and no Paddle extra is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    if "$PY" -c "import paddle" >/dev/null 2>&1; then
        echo "setup: using the Paddle already installed for $PY"
        "$PY" -m venv --system-site-packages .venv
    else
        "$PY" -m venv .venv
    fi
fi
# shellcheck disable=SC1091
. .venv/bin/activate
if python -c "import paddle" >/dev/null 2>&1; then extras="test,book"; else extras="cpu,test,book"; fi
python -m pip install --quiet --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
echo "setup: pip install -e .[$extras]"
python -m pip install --quiet --disable-pip-version-check -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" || true
python -c "import palm_utils" >/dev/null
