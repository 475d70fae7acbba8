#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite, then the linters.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k sandbox`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check --quiet . || { echo "ruff format would change files: run .venv/bin/ruff format ."; exit 1; }
mypy yxt_provider
exec pytest "$@"
