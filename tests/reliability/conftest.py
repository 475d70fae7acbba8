"""Fixtures of the fault matrix: one sandbox and one ledger per module, reconfigured per cell.

Starting a sandbox costs about as much as a cell, so the module shares one and each cell
resets it and sets its fault through the control plane (``/_sandbox/reset`` and
``/_sandbox/config``, as a DAG author's test would). Cells tell each other apart by their
own recipients, campaign ids and deployment keys.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.airflow import sandbox_connection
from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer, run_sandbox

#: Connect and read timeouts of every cell: the timed faults hold an answer longer than this.
CELL_TIMEOUT = (2.0, 0.3)
#: Enough attempts to outlast the code-11 storm; waits short enough for a fast matrix.
CELL_RETRY = RetrySettings(max_attempts=5, initial_wait=0.01, max_wait=0.02, jitter=0.0)


class ControlPlane:
    """The sandbox's ``/_sandbox/`` control plane, over HTTP."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self.base = f"{sandbox.base_url}/_sandbox"

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until no call is being answered (a stalled answer has gone out)."""
        deadline = time.monotonic() + timeout
        while self.counters()["in_flight"]:
            assert time.monotonic() < deadline, "the sandbox still holds an answer"
            time.sleep(0.02)

    def reset(self) -> None:
        """Forget every call, serial, receipt and reply; no fault."""
        self.settle()
        requests.post(f"{self.base}/reset", timeout=5).raise_for_status()

    def set_faults(self, *rules: dict[str, Any]) -> None:
        """Put ``rules`` in force (their counts start now)."""
        requests.post(f"{self.base}/config", json={"faults": list(rules)}, timeout=5).raise_for_status()

    def counters(self) -> dict[str, Any]:
        """Calls per endpoint and outcome, queues, calls in flight."""
        answer: dict[str, Any] = requests.get(f"{self.base}/counters", timeout=5).json()
        return answer


@pytest.fixture(scope="module")
def matrix_sandbox() -> Iterator[SandboxServer]:
    """One sandbox for the module; ``yxt_default`` points at it with the cells' timeouts and retries."""
    with run_sandbox() as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "AIRFLOW_CONN_YXT_DEFAULT",
            sandbox_connection(
                server.base_url,
                timeout=list(CELL_TIMEOUT),
                retry_max_attempts=CELL_RETRY.max_attempts,
                retry_initial_wait=CELL_RETRY.initial_wait,
                retry_max_wait=CELL_RETRY.max_wait,
            ),
        )
        yield server


@pytest.fixture
def control(matrix_sandbox: SandboxServer) -> ControlPlane:
    """The module's sandbox, reset for this cell."""
    plane = ControlPlane(matrix_sandbox)
    plane.reset()
    return plane


@pytest.fixture(scope="module")
def matrix_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """One SQLite ledger for the module (cells use campaign ids and numbers of their own)."""
    instance = Ledger.from_url(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'ledger.db'}")
    yield instance
    instance.dispose()


@pytest.fixture
def cell_client(matrix_sandbox: SandboxServer) -> Iterator[YxtClient]:
    """A client of the module's sandbox with the cells' timeouts and retries."""
    with matrix_sandbox.client(timeout=CELL_TIMEOUT, retry=CELL_RETRY) as client:
        yield client


@pytest.fixture(scope="module")
def observed_outcomes(matrix_sandbox: SandboxServer) -> Iterator[dict[str, str]]:
    """Cell id → outcome seen; written as the documentation's fault matrix when the module ends.

    Written only when every cell ran, so a run of a few cells (``-k``) leaves the page alone.
    """
    from tests.reliability.matrix import cells, render_markdown

    observed: dict[str, str] = {}
    yield observed
    if set(observed) == {cell.id for cell in cells()}:
        page = Path(__file__).resolve().parents[2] / "docs" / "fault-matrix.md"
        text = render_markdown(observed)
        # Unchanged bytes leave the file alone: a docs build running meanwhile sees no change.
        if not page.exists() or page.read_text(encoding="utf-8") != text:
            page.write_text(text, encoding="utf-8")
