#!/usr/bin/env bash
# The third Paddle line of the tests: the Paddle that AI Studio's notebooks
# run now, in .venv-paddle32: Paddle 3.2.2 (the last 3.2 release) with
# NumPy 2.2.6, palm-utils installed editable with the test tools, as in
# .venv (scripts/setup.sh). Paddle 3.2 warns on stderr ("Non compatible
# API") about Tensor methods whose meaning differs from PyTorch's, which
# strict nbval turns into failures; this line catches them. Sourced by
# test.sh. Installs with uv (put into the venv first) and compiles the
# bytecode as pip does (see setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
VENV=.venv-paddle32
PLATFORM="paddlepaddle==3.2.2 numpy==2.2.6"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
echo "setup (Paddle 3.2): $PLATFORM"
log=$(mktemp)
if ! { command -v uv >/dev/null 2>&1 \
        || python -m pip install --quiet --disable-pip-version-check uv >"$log" 2>&1; }; then
    cat "$log"; rm -f "$log"; exit 1
fi
# setuptools warns about folders shadowing the package on every editable
# install; it concerns packagers, not readers of this output.
if ! PYTHONWARNINGS="ignore:Editable installation" uv pip install --quiet --compile-bytecode \
        --python "$VENV/bin/python" $PLATFORM -e ".[opencv,test]" >"$log" 2>&1; then
    cat "$log"; rm -f "$log"; exit 1
fi
grep -v "^WARNING: Location" "$log" || true
rm -f "$log"
python -c "import palm_utils" >/dev/null
