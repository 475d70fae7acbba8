"""The view's tests use the task fixtures (a SQLite ledger behind the ``yxt_ledger`` connection)."""

from collections.abc import Iterator

import pytest

from tests.fixtures.tasks import sqlite_ledger
from yxt_provider.plugins.source import forget_connections

__all__ = ["sqlite_ledger"]


@pytest.fixture(autouse=True)
def fresh_connections() -> Iterator[None]:
    """Each test's ``yxt_ledger`` is another file: the view must read the connection again."""
    forget_connections()
    yield
    forget_connections()
