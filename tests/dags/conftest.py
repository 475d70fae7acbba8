"""Example DAG tests: the sandbox as ``yxt_default`` with a canary app secret, ``yxt_ledger`` on
SQLite, and no full number or secret in any log, XCom or rendered template field."""

from __future__ import annotations

import pytest

from tests.fixtures import no_leaks as leak_fixtures
from tests.fixtures.no_leaks import LeakCheck
from tests.fixtures.tasks import (  # noqa: F401 - fixtures are registered by importing them
    no_full_numbers_in_logs,
    sandbox,
    sqlite_ledger,
    task_logs,
)

canary_secret = leak_fixtures.canary_secret
no_leaks = leak_fixtures.no_leaks


@pytest.fixture
def sandbox_app_secret(canary_secret: str) -> str:
    """The sandbox account of the example runs has the canary secret."""
    return canary_secret


@pytest.fixture(autouse=True)
def _every_run_leak_checked(no_leaks: LeakCheck, request: pytest.FixtureRequest) -> LeakCheck:
    if "sandbox" in request.fixturenames:
        assert request.getfixturevalue("sandbox").config.app_secret.startswith("canary-")
    return no_leaks
