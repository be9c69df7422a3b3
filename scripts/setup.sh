#!/usr/bin/env bash
# Create a virtual environment (if missing) and install a requirements file into it; a no-op when
# already done. usage: [VENV=.venv] bash scripts/setup.sh requirements-dev.txt
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-requirements-compute.txt}
venv=${VENV:-.venv}
python=${PYTHON:-python3}
if [[ ! -x $venv/bin/python ]]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "error: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
  "$python" -m venv "$venv"
fi
# Reinstall only when the requirements (or the files they include) changed.
stamp=$venv/.installed-$(basename "$req" .txt)
digest=$(cat requirements*.txt | sha256sum | cut -c1-16)
if [[ ! -f $stamp || $(cat "$stamp") != "$digest" ]]; then
  echo "installing $req into $venv (torch takes about a minute the first time)..."
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  if grep -q -e "requirements-compute.txt" -e "requirements-ray.txt" -e "^torch" "$req"; then
    # The compute side also reads data files shipped in packages whose code it does not use.
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
      -r requirements-assets.txt
  fi
  echo "$digest" > "$stamp"
fi
