#!/usr/bin/env bash
# Set up, build the demo store if it is missing, and serve the app on http://localhost:${PORT:-8501}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-compute.txt
store=stores/demo.duckdb
# Build when missing, or when the store is one this code cannot read (an older schema version).
if [[ ! -f $store ]] || ! .venv/bin/python -c "from store import open_store; open_store('$store')" 2>/dev/null; then
  .venv/bin/python -m compute build configs/demo.toml --out "$store"
fi
exec .venv/bin/streamlit run streamlit_app.py --server.headless true \
  --server.port "${PORT:-8501}" --browser.gatherUsageStats false -- --store "$store"
