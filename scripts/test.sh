#!/usr/bin/env bash
# Set up and run the checks: lint, then the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
bash scripts/browser.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
