#!/usr/bin/env bash
# The sharded example campaign on Airflow's CeleryExecutor, on this machine: PostgreSQL for
# Airflow's metadata and the ledger, Redis as the broker, two Celery workers, against the
# sandbox gateway. Options: see scripts/celery_env.py (--help). docs/deployment.md explains it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
exec .venv/bin/python scripts/celery_env.py "$@"
