#!/usr/bin/env bash
# Run tests/client and tests/ledger on the lowest versions pyproject.toml allows
# (requirements/min-versions.txt), in a venv of their own (.venv-min) without Airflow:
# Airflow pins its own versions of these libraries, so in .venv they are never the lowest.
# Extra arguments go to pytest. The venv is rebuilt only when the files it is made from change.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${MIN_VENV:-.venv-min}
STAMP="$VENV/.yxt-installed"
want=$(cat pyproject.toml requirements/min-versions.txt requirements/min-tests.txt requirements/constraints.txt \
  | sha256sum | cut -d' ' -f1)

if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "==> creating $VENV with the lowest allowed dependency versions"
  # Only ever delete a virtualenv (MIN_VENV could name any directory).
  if [ -e "$VENV" ]; then
    [ -f "$VENV/pyvenv.cfg" ] || { echo "$VENV exists and is not a virtualenv; not replacing it" >&2; exit 1; }
    rm -rf "$VENV"
  fi
  "$PYTHON" -m venv "$VENV"
  # constraints.txt pins the newest versions of the packages under test: leave those out, so
  # min-versions.txt decides them and everything else stays as reproducible as in .venv.
  names=$(sed -n 's/^\([A-Za-z0-9_.-]*\)==.*/\1/p' requirements/min-versions.txt | paste -sd'|')
  grep -viE "^($names)==" requirements/constraints.txt > "$VENV/constraints-others.txt"
  "$VENV/bin/python" -m pip install --quiet -c "$VENV/constraints-others.txt" \
    -r requirements/min-versions.txt -r requirements/min-tests.txt
  # --no-deps: the package's own requirement on apache-airflow would pull Airflow in.
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  echo "$want" > "$STAMP"
fi

# The pins must be pyproject.toml's lower bounds, and pip must have installed exactly them
# (it could resolve something else than asked): fail loudly rather than test the wrong thing.
"$VENV/bin/python" scripts/check_min_versions.py --installed
echo "==> tests/client and tests/ledger on the lowest allowed versions"
exec "$VENV/bin/python" -m pytest tests/client tests/ledger -q -p no:cacheprovider "$@"
