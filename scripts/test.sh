#!/usr/bin/env bash
# Set up and run the checks: lint, the compute tests in .venv (the compute install), and the store
# and app tests in .venv-app, which holds only the app's requirements and the test tools: proof
# that the app side needs no torch. The two lanes run side by side (the machine's two cores: the
# compute lane is mostly one build at a time, the app lane one server and browser), the app
# lane's report printed when both are done. Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
VENV=.venv-app bash scripts/setup.sh requirements-test.txt
bash scripts/browser.sh
.venv/bin/ruff check .
status=0
ok() {  # pytest's 5 (nothing collected, e.g. a -k that matches only the other lane) is no failure
  [[ $1 == 0 || $1 == 5 ]]
}
app_log=$(mktemp)
trap 'rm -f "$app_log"' EXIT
.venv-app/bin/python -m pytest tests/store tests/app "$@" > "$app_log" 2>&1 &
app_pid=$!
code=0
.venv/bin/python -m pytest tests/compute "$@" || code=$?
ok $code || status=$code
code=0
wait $app_pid || code=$?
echo "--- store and app lane (.venv-app) ---"
cat "$app_log"
ok $code || status=$code
exit $status
