#!/usr/bin/env bash
# Create .venv and install the project with its test and dev tools, pinned by
# requirements/constraints.txt. Re-running is cheap: it reinstalls only when the
# project's dependency files changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# mysqlclient (the test extra's MariaDB/MySQL driver) compiles against the MariaDB C client
# library, found through pkg-config. A fresh machine may lack both.
if ! { pkg-config --exists libmariadb || pkg-config --exists mysqlclient; } 2>/dev/null; then
  packages="libmariadb-dev"
  command -v pkg-config >/dev/null || packages="$packages pkg-config"
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing $packages (needed to build mysqlclient)"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # $packages is a list of package names
    apt-get install -y -q $packages \
      || { apt-get update -q && apt-get install -y -q $packages; }
  else
    echo "==> mysqlclient needs the MariaDB client headers; run as root:" >&2
    echo "    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages" >&2
  fi
fi

# tests/e2e/test_campaigns_view.py drives Debian's Chromium headless (Playwright's own browser
# download does not work without the wider network).
# A CJK font, so its screenshots of the Chinese pages show characters, not boxes.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then
  packages="chromium fonts-wqy-zenhei"
  if [ "$(id -u)" = 0 ]; then
    echo "==> installing $packages (the campaigns view's browser test)"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # $packages is a list of package names
    apt-get install -y -q $packages || { apt-get update -q && apt-get install -y -q $packages; }
  else
    echo "==> the campaigns view's browser test needs $packages; run as root:" >&2
    echo "    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages" >&2
  fi
fi

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
