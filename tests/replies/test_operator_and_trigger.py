"""FetchRepliesOperator under dag.test(), the event trigger driven as the triggerer drives it, the example DAG."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.ledger import LEDGER_BACKENDS, ledger_url_fixture
from tests.fixtures.tasks import TaskLogs
from tests.replies.conftest import ACCESS_NUMBER
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer
from yxt_provider.triggers.replies import YxtRepliesTrigger

FETCH_DAG = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.replies import FetchRepliesOperator

with DAG("fetch_replies", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    FetchRepliesOperator(task_id="fetch", ledger_conn_id="yxt_ledger", push_replies=2)
"""
EXAMPLE = Path(__file__).resolve().parents[2] / "dags" / "yxt_replies.py"
# These go through Airflow connections, which this suite has for SQLite and PostgreSQL only.
ledger_url = ledger_url_fixture(LEDGER_BACKENDS)


def test_fetch_operator_stores_confirms_and_pushes_masked_replies(
    dag_files: DagFiles, sandbox: SandboxServer, any_ledger: str, task_logs: TaskLogs
) -> None:
    for i in range(3):
        sandbox.inject_reply(ACCESS_NUMBER, f"第{i}条 回复", user_number=f"139{i:08d}")
    run = dag_files.run(FETCH_DAG, "fetch_replies")
    assert task_states(run) == {"fetch": "success"}
    result = xcom_value(run, "fetch")
    assert (result["stored"], result["already_stored"], result["pages"]) == (3, 0, 1)
    assert result["max_id"] is not None
    assert [r["user_number"] for r in result["replies"]] == ["139****0000", "139****0001"]
    assert sandbox.counters()["replies"]["pending"] == 0
    logs = task_logs.text()
    assert "Read 3 replies in 1 pages" in logs
    assert "回复" not in logs  # reply texts stay out of the log


def test_the_trigger_yields_only_after_storing_and_confirming(
    gateway: SandboxServer, ledger: Ledger, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.airflow import ledger_connection, sandbox_connection

    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection(gateway.base_url))
    monkeypatch.setenv("AIRFLOW_CONN_YXT_LEDGER", ledger_connection(ledger_url))
    trigger = YxtRepliesTrigger(ledger_conn_id="yxt_ledger", poll_interval=0.05)
    classpath, kwargs = trigger.serialize()
    assert classpath == "yxt_provider.triggers.replies.YxtRepliesTrigger"
    assert YxtRepliesTrigger(**kwargs).serialize() == (classpath, kwargs)

    async def first_two_events() -> list[dict[str, object]]:
        events = []
        stream = trigger.run()
        try:
            gateway.inject_reply(ACCESS_NUMBER, "1", user_number="13800000001")
            event = await asyncio.wait_for(anext(stream), timeout=20)
            # By the time the event is out, the reply is in the ledger and confirmed.
            assert gateway.counters()["replies"]["pending"] == 0
            with ledger.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT count(*) FROM yxt_replies")).scalar_one() == 1
            events.append(event.payload)
            gateway.inject_reply(ACCESS_NUMBER, "TD", user_number="13800000002")
            gateway.inject_reply(ACCESS_NUMBER, "TD", user_number="13800000003")
            events.append((await asyncio.wait_for(anext(stream), timeout=20)).payload)
        finally:
            await stream.aclose()
        return events

    first, second = asyncio.run(first_two_events())
    assert (first["stored"], second["stored"]) == (1, 2)
    assert "138" not in str(first) + str(second)


def test_message_queue_trigger_with_scheme_yxt_is_this_trigger() -> None:
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    trigger = MessageQueueTrigger(scheme="yxt", yxt_conn_id="yxt_default", ledger_conn_id="yxt_ledger")
    classpath, kwargs = trigger.serialize()
    assert classpath == "yxt_provider.triggers.replies.YxtRepliesTrigger"
    assert kwargs["ledger_conn_id"] == "yxt_ledger"


def test_example_dag_confirms_appointments_and_handles_each_reply_once(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs, tmp_path: Path
) -> None:
    sandbox.inject_reply(ACCESS_NUMBER, "1", user_number="13800000001")
    sandbox.inject_reply(ACCESS_NUMBER, "几点开门？", user_number="13800000002")
    dag_files.run(FETCH_DAG, "fetch_replies")  # what the watcher's trigger does before each event
    source = EXAMPLE.read_text().replace("LEDGER_CONN_ID: str | None = None", 'LEDGER_CONN_ID = "yxt_ledger"')
    first = dag_files.run(source, "yxt_replies")
    assert task_states(first) == {"handle_replies": "success"}
    assert xcom_value(first, "handle_replies") == {"handled": 2, "confirmed": 1}
    second = dag_files.run(source, "yxt_replies")  # a repeated event: nothing is handled twice
    assert xcom_value(second, "handle_replies") == {"handled": 0, "confirmed": 0}
    ledger = Ledger.from_url(sqlite_ledger)
    with ledger.engine.connect() as conn:
        confirmed = conn.execute(sa.text("SELECT phone FROM yxt_example_appointments")).scalars().all()
    ledger.dispose()
    assert confirmed == ["13800000001"]
    logs = task_logs.text()
    assert "needs follow-up: 5 characters" in logs and "几点开门" not in logs
