#!/usr/bin/env bash
# Set up and run the checks: lint, the compute tests in .venv (the compute install), then the store
# and app tests in .venv-app, which holds only the app's requirements and the test tools: proof
# that the app side needs no torch. The store and app tests' fast lane runs once more on the
# newest Python a Streamlit Community Cloud deploy offers (APP_PYTHON, default 3.13; pyenv's or
# on the PATH), in .venv-app-APP_PYTHON, since a deploy may pick it (APP_PYTHON_LANE=all runs
# the slow tests there too). Extra arguments go to every pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
VENV=.venv-app bash scripts/setup.sh requirements-test.txt
bash scripts/browser.sh
.venv/bin/ruff check .
status=0
run() {  # pytest's 5 (nothing collected, e.g. a -k that matches only the other lane) is no failure
  "$@" || { local code=$?; [[ $code == 5 ]] || status=$code; }
}
run .venv/bin/python -m pytest tests/compute "$@"
run .venv-app/bin/python -m pytest tests/code tests/store tests/app "$@"
newer=${APP_PYTHON:-3.13}
if python=$(bash scripts/find_python.sh "$newer"); then
  PYTHON=$python VENV=.venv-app-$newer bash scripts/setup.sh requirements-test.txt
  echo "the store and app tests on Python $newer:"
  lane=(-m "not slow")
  [[ ${APP_PYTHON_LANE:-fast} == all ]] && lane=()
  run ".venv-app-$newer/bin/python" -m pytest "${lane[@]}" tests/code tests/store tests/app "$@"
elif [[ ${REQUIRE_APP_PYTHON:-0} == 1 ]]; then
  echo "error: Python $newer is not on this machine (pyenv install $newer), and REQUIRE_APP_PYTHON=1" >&2
  status=1
else
  echo "note: Python $newer is not on this machine, so the app's tests ran on $(.venv-app/bin/python -V) only"
fi
exit $status
