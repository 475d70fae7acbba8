#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the main job against the local sandbox gateway.
# Leaves nothing running: the sandbox lives inside the demo process.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
