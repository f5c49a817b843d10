#!/usr/bin/env bash
# Create .venv (once) and install palm-utils into it. Sourced by run.sh and
# test.sh. Never replaces what the machine has: if the Python that runs this
# already imports `paddle` (for example paddlepaddle-gpu on AI Studio), the
# venv sees it through --system-site-packages, and an extra is added only for
# what is missing: `cpu` (Paddle's CPU build with a NumPy it supports) when
# there is no Paddle, `opencv` (opencv-python-headless) when there is no cv2.
# Also installs the test tools, the book tools, JupyterLab and nbgrader
# (for scripts/teach.py).
# In a venv of its own (no Paddle on the machine) the installer is uv, put
# into the venv first: it downloads in parallel and sets up the ~100 packages
# in seconds where pip takes minutes. A venv that sees the machine's packages
# keeps pip, because uv does not count those as installed and would add a
# second NumPy (or Paddle) inside the venv. uv compiles the bytecode as pip
# does (--compile-bytecode): without it every new Python process, each
# notebook kernel included, compiles Paddle's modules again where the
# environment does not write .pyc files (PYTHONDONTWRITEBYTECODE, as in CI).
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
extras="test,book,notebook,teach"
python -c "import paddle" >/dev/null 2>&1 || extras="cpu,$extras"
python -c "import cv2" >/dev/null 2>&1 || extras="opencv,$extras"
log=$(mktemp)
_palm_pip() { python -m pip install --quiet --disable-pip-version-check "$@"; }
if grep -qi "^include-system-site-packages *= *false" .venv/pyvenv.cfg \
        && { command -v uv >/dev/null 2>&1 || _palm_pip uv >"$log" 2>&1; }; then
    installer=uv
    _palm_install() { uv pip install --quiet --compile-bytecode --python .venv/bin/python "$@"; }
else
    installer=pip
    _palm_install() { _palm_pip "$@"; }
fi
echo "setup: $installer install -e .[$extras]"
# setuptools warns about folders shadowing the package on every editable
# install; it concerns packagers, not readers of this output.
if ! PYTHONWARNINGS="ignore:Editable installation" _palm_install -e ".[$extras]" >"$log" 2>&1; then
    cat "$log"; rm -f "$log"; exit 1
fi
grep -v "^WARNING: Location" "$log" || true
rm -f "$log"
python -c "import palm_utils" >/dev/null
