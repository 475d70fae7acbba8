"""Example DAG tests: the sandbox as ``yxt_default``, ``yxt_ledger`` on SQLite, no full number in any log."""

from __future__ import annotations

from tests.fixtures.tasks import (  # noqa: F401 - fixtures are registered by importing them
    no_full_numbers_in_logs,
    sandbox,
    sqlite_ledger,
    task_logs,
)
