"""The client layer is usable without Airflow."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_client_does_not_import_airflow() -> None:
    code = (
        "import sys, yxt_provider.client, yxt_provider.client.client;"
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
