#!/usr/bin/env bash
# The second Paddle line of the tests: an environment shaped like Baidu AI
# Studio's, in .venv-aistudio: Paddle 2.6.2 with NumPy 1.26.4 and
# opencv-python preinstalled (plus the platform's usual packages and the test
# tools). Then the README's AI Studio install step runs and must leave Paddle,
# NumPy and OpenCV exactly as they were; afterwards palm-utils is uninstalled
# again, so that the tests run the way a student's notebook does on AI Studio:
# from the checkout, with nothing installed. Sourced by test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
[ -x .venv-aistudio/bin/python ] || "$PY" -m venv .venv-aistudio
# shellcheck disable=SC1091
. .venv-aistudio/bin/activate
platform="paddlepaddle==2.6.2 numpy==1.26.4 opencv-python==4.11.0.86"
echo "setup (AI Studio-like): $platform"
# The platform itself is installed with uv (seconds, where pip takes minutes);
# the README's step below is the plain pip a student runs. --compile-bytecode
# as pip does (see setup.sh).
python -m pip install --quiet --disable-pip-version-check uv 2>&1 | grep -v "^WARNING: Location" || true
uv pip install --quiet --compile-bytecode --python .venv-aistudio/bin/python $platform pandas scikit-learn \
    matplotlib tqdm openpyxl mlxtend pytest pytest-xdist nbval ipykernel nbclient nbformat statsmodels MLstatkit
python -c "import paddle, numpy, cv2" || { echo "FAILED: the AI Studio-like environment"; exit 1; }
before=$(python -m pip freeze | grep -iE '^(paddlepaddle|numpy|opencv)' | sort)
echo "setup (AI Studio-like): the README's optional step, pip install -e ."
PYTHONWARNINGS="ignore:Editable installation" python -m pip install --quiet \
    --disable-pip-version-check -e . 2>&1 | grep -v "^WARNING: Location" || true
after=$(python -m pip freeze | grep -iE '^(paddlepaddle|numpy|opencv)' | sort)
if [ "$before" != "$after" ]; then
    echo "FAILED: installing palm-utils changed the platform's packages:"
    diff <(echo "$before") <(echo "$after") || true
    exit 1
fi
echo "setup (AI Studio-like): Paddle, NumPy and OpenCV unchanged:" $after
python -m pip uninstall --quiet -y palm-utils
