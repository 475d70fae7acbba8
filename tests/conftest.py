"""Shared test setup: an isolated, throw-away Airflow environment for the whole test session.

Before any test module imports Airflow, this points ``AIRFLOW_HOME`` at a fresh temporary
directory (so no developer's ``~/airflow`` config, database or connections leak in or get
written to) and turns off the example DAGs. Subprocesses started by tests inherit both.

``[core] unit_test_mode`` is deliberately not set: it swaps in Airflow's own
``unit_tests.cfg`` (DAGs folder inside Airflow's test tree, LocalExecutor, example DAGs on),
which the fresh ``AIRFLOW_HOME`` makes unnecessary.

Nothing here creates the metadata database; tests that need one should add a fixture for it.

Airflow is imported only when it is installed: ``tests/client`` and ``tests/ledger`` also run
in the lowest-versions venv of ``scripts/test-min-deps.sh``, which has no Airflow (it would
pin newer versions of the libraries under test).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import tempfile

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="yxt-tests-airflow-home-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_AIRFLOW_HOME, "dags")

# Airflow binds its log handlers to sys.stdout/sys.stderr when first imported. Import it
# while those are the process's real streams, so its output goes to file descriptors 1 and
# 2, which pytest captures per test (capfd) instead of to a capture object closed later.
if importlib.util.find_spec("airflow") is not None:
    with contextlib.redirect_stdout(sys.__stdout__), contextlib.redirect_stderr(sys.__stderr__):
        import airflow.sdk
        import airflow.settings  # noqa: F401

# Reusable fixtures: the dual-backend (SQLite + PostgreSQL) ledger database.
pytest_plugins = ["tests.fixtures.ledger", "tests.fixtures.airflow"]


def pytest_unconfigure() -> None:
    """Remove the session's temporary ``AIRFLOW_HOME``."""
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
