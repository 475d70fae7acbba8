#!/usr/bin/env bash
# Create .venv and install the project with its test and dev tools, pinned by
# requirements/constraints.txt. Re-running is cheap: it reinstalls only when the
# project's dependency files changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.yxt-installed"
want=$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "==> installing yxt-provider and its dependencies into $VENV (first run takes ~2 minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c requirements/constraints.txt -e ".[dev]"
  echo "$want" > "$STAMP"
fi
