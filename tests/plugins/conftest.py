"""The view's tests use the task fixtures (a SQLite ledger behind the ``yxt_ledger`` connection)."""

from tests.fixtures.tasks import sqlite_ledger

__all__ = ["sqlite_ledger"]
