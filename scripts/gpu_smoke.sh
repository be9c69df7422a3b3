#!/usr/bin/env bash
# On a machine with a CUDA GPU: build configs/demo-sweep.toml on it, once in float32 and once with
# bf16 autocast (the same trained weights), and print what autocast changed in the stored
# geometry. Everything goes to a temporary folder (or $OUT); nothing in the repository changes.
#   bash scripts/gpu_smoke.sh
# No GPU was available where this tool was developed: docs/benchmarks.md says what ran where.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-compute.txt
PY=.venv/bin/python
if ! "$PY" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
  echo "error: torch sees no CUDA device here (torch $("$PY" -c 'import torch; print(torch.__version__)')): run this on a GPU machine with a CUDA build of torch" >&2
  exit 2
fi
out=${OUT:-$(mktemp -d)}
"$PY" -c 'import torch; print("device:", torch.cuda.get_device_name(0))'
sed 's/^batch_size = 256$/batch_size = 256\nautocast = "bf16"/' configs/demo-sweep.toml > "$out/bf16.toml"
"$PY" -m compute plan configs/demo-sweep.toml --device cuda --out "$out/fp32.duckdb" \
  --checkpoints "$out/checkpoints"
time "$PY" -m compute build configs/demo-sweep.toml --device cuda --out "$out/fp32.duckdb" \
  --checkpoints "$out/checkpoints"
time "$PY" -m compute build "$out/bf16.toml" --device cuda --out "$out/bf16.duckdb" \
  --checkpoints "$out/checkpoints"
"$PY" -m benchmarks.autocast "$out/fp32.duckdb" "$out/bf16.duckdb"
echo "stores in $out"
