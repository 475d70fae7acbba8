"""Campaign tests: a sandbox of their own and a fresh SQLite ledger per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer, run_sandbox


@pytest.fixture
def gateway() -> Iterator[SandboxServer]:
    """A sandbox gateway on loopback (not bound to an Airflow connection)."""
    with run_sandbox() as server:
        yield server


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A fresh SQLite ledger file."""
    instance = Ledger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield instance
    instance.dispose()
