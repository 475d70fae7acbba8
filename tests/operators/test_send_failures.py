"""What a new user meets when things go wrong: an unreachable gateway ends the try fast and says why."""

from __future__ import annotations

import socket
import time
from collections import Counter

import pytest

from tests.fixtures.airflow import DagFiles, sandbox_connection, task_states
from tests.fixtures.tasks import TaskLogs
from tests.operators.dag_sources import numbers_expr, send_dag
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer

ANY_TEXT = "1000000000001"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_gateway_ends_a_200_batch_try_fast_with_the_cause(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, monkeypatch: pytest.MonkeyPatch,
    task_logs: TaskLogs,
) -> None:  # fmt: skip
    port = closed_port()
    # The connection's default retry settings (5 attempts, back-off from 0.5 s): what a user has.
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_DEFAULT",
        sandbox_connection(f"http://127.0.0.1:{port}").replace('"extra": {', '"extra": {"timeout": 2, '),
    )
    source = send_dag(
        "send_unreachable",
        f"recipients={numbers_expr(200)}, content='hi', template_id='{ANY_TEXT}', batch_size=1, "
        "campaign_id='unreachable'",
    )
    started = time.monotonic()
    run = dag_files.run(source, "send_unreachable")
    elapsed = time.monotonic() - started
    assert task_states(run) == {"send": "failed"}
    assert elapsed < 30, elapsed  # one request's retry budget, not 200 of them
    logs = task_logs.text()
    assert f"the gateway is unreachable: 127.0.0.1:{port}: connection refused (ConnectionRefusedError" in logs
    assert "0 of 200 recipients are sent; 200 are not, and nothing was lost" in logs
    assert logs.count("retrying in") < 20, logs.count("retrying in")

    ledger = Ledger.from_url(sqlite_ledger)
    batches = ledger.iter_batches("unreachable")
    assert len(batches) == 200 and not [b for b in batches if b.state == "sent"]
    # Nothing was definitely refused: every batch may be retried, and its code 15 then counts as sent.
    assert all(b.error_code is None for b in batches)
    error_text = " ".join(b.error or "" for b in batches)
    assert "Connection refused" in error_text and "…" not in error_text.split("(ConnectionRefusedError")[0]

    # The gateway is back: the retry (same campaign) sends everyone, once.
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection(sandbox.base_url))
    rerun = dag_files.run(source, "send_unreachable")
    assert task_states(rerun) == {"send": "success"}
    counts = Counter(n for request in sandbox.accepted() for n in request.numbers)
    assert len(counts) == 200 and set(counts.values()) == {1}
