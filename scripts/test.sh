#!/usr/bin/env bash
# Set up and run the checks: lint, the compute tests in .venv (the compute install), then the store
# and app tests in .venv-app, which holds only the app's requirements and the test tools: proof
# that the app side needs no torch. Extra arguments go to both pytest runs.
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
run .venv-app/bin/python -m pytest tests/store tests/app "$@"
exit $status
