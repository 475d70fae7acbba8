"""Notifier tests: the sandbox as ``yxt_default``; every test proves no full number reached a log."""

from __future__ import annotations

from tests.fixtures.tasks import (  # noqa: F401 - fixtures are registered by importing them
    no_full_numbers_in_logs,
    sandbox,
    sqlite_ledger,
    task_logs,
)
