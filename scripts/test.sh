#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the linters, the whole test suite, and then the client
# and ledger tests on the lowest allowed dependency versions (scripts/test-min-deps.sh).
# Extra arguments go to pytest alone, e.g. `bash scripts/test.sh -k sandbox`: a chosen subset
# skips the lowest-versions run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
ruff format --check --quiet . || { echo "ruff format would change files: run .venv/bin/ruff format ."; exit 1; }
mypy yxt_provider
if [ $# -gt 0 ]; then
  exec pytest "$@"
fi
# Both runs, even when the first fails: a failure on the lowest versions alone says "raise a bound".
status=0
pytest || status=$?
bash scripts/test-min-deps.sh || status=$?
exit "$status"
