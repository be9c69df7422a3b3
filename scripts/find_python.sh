#!/usr/bin/env bash
# Print the path of a Python interpreter of version X.Y (on the PATH as pythonX.Y, or one of
# pyenv's); exit 1 when this machine has none. usage: bash scripts/find_python.sh 3.13
set -euo pipefail
want=$1
for candidate in "$(command -v "python$want" || true)" \
                 "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/"$want".*/bin/python"$want"; do
  if [[ -x $candidate ]] && [[ $("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) == "$want" ]]; then
    echo "$candidate"
    exit 0
  fi
done
exit 1
