"""Fixtures for operator tests: shared with other task tests through ``tests.fixtures.tasks``."""

from __future__ import annotations

from tests.fixtures.tasks import (  # noqa: F401 - fixtures are registered by importing them
    FULL_MOBILE,
    TaskLogs,
    any_ledger,
    no_full_numbers_in_logs,
    sandbox,
    sqlite_ledger,
    task_logs,
)
