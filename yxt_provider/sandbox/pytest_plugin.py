"""pytest fixtures for testing code that talks to the YXT gateway, against the sandbox.

Installed as a pytest plugin (entry point ``yxt_sandbox``), so after ``pip install yxt-provider``:

.. code-block:: python

    def test_my_dag_sends(yxt_sandbox):
        client = yxt_sandbox.client()
        client.send(["13800138000"], "hi", "1000000000001", "20240101000000000001")
        assert len(yxt_sandbox.accepted()) == 1

One server runs per test session; each test gets it reset to the default configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from yxt_provider.sandbox.server import SandboxServer


@pytest.fixture(scope="session")
def yxt_sandbox_session() -> Iterator[SandboxServer]:
    """The session's sandbox server, not reset between tests (prefer ``yxt_sandbox``)."""
    from yxt_provider.sandbox.server import run_sandbox

    with run_sandbox() as server:
        yield server


@pytest.fixture
def yxt_sandbox(yxt_sandbox_session: SandboxServer) -> SandboxServer:
    """A running sandbox gateway with default configuration and empty state."""
    from yxt_provider.sandbox.config import SandboxConfig

    yxt_sandbox_session.reset(SandboxConfig())
    return yxt_sandbox_session


@pytest.fixture
def yxt_client(yxt_sandbox: SandboxServer) -> Iterator[Any]:
    """A ``YxtClient`` connected to ``yxt_sandbox`` with its account."""
    with yxt_sandbox.client() as client:
        yield client
