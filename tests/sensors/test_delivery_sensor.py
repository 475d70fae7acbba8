"""SmsDeliverySensor end to end: dag.test(), the sandbox over HTTP, a real ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.tasks import TaskLogs
from tests.sensors.conftest import delivery_dag
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer

TRIGGER_CLASSPATH = "yxt_provider.triggers.delivery.SmsDeliveryTrigger"
REPORT_KEYS = ("sent", "delivered", "failed", "failed_by_code", "pending")


def truth_counts(sandbox: SandboxServer, ledger_url: str, campaign_id: str) -> dict[str, object]:
    """The report the gateway's ground truth implies, in the XCom dict's form (string code keys)."""
    ledger = Ledger.from_url(ledger_url)
    serials = frozenset(b.serial_number for b in ledger.iter_batches(campaign_id))
    ledger.dispose()
    expected = sandbox.expected_delivery(serials)
    expected["failed_by_code"] = {str(k): v for k, v in expected["failed_by_code"].items()}  # type: ignore[attr-defined]
    return expected


def deferred_triggers(campaign_id: str) -> list[dict[str, object]]:
    """Kwargs of the SmsDeliveryTrigger rows Airflow stored for ``campaign_id``."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(Trigger).filter(Trigger.classpath == TRIGGER_CLASSPATH).all()
        return [dict(row.kwargs) for row in rows if row.kwargs.get("campaign_id") == campaign_id]


def test_poke_mode_waits_until_every_message_is_final(
    dag_files: DagFiles, sandbox: SandboxServer, any_ledger: str, task_logs: TaskLogs
) -> None:
    sandbox.configure(receipt_delay=0.5, receipt_fail_share=0.2, fail_result=9, report_page_size=40, seed=1)
    run = dag_files.run(
        delivery_dag("wait_poke", count=300, sensor_kwargs="deferrable=False, poke_interval=0.2, timeout=30"),
        "wait_poke",
    )
    assert task_states(run) == {"send": "success", "wait": "success"}
    result = xcom_value(run, "wait")
    assert result["outcome"] == "met" and result["pending"] == 0 and result["total"] == 300
    assert {k: result[k] for k in REPORT_KEYS} == truth_counts(sandbox, any_ledger, result["campaign_id"])
    assert result["failed_by_code"]["9"] > 20
    logs = task_logs.text()
    assert "Pausing task as DEFERRED" not in logs
    assert deferred_triggers(result["campaign_id"]) == []
    assert "Delivery report for campaign" in logs and "failed (code 9)" in logs
    assert "pending of 300 sent" in logs  # it really waited: at least one poke found receipts missing


def test_deferrable_mode_defers_to_the_trigger(
    dag_files: DagFiles, sandbox: SandboxServer, any_ledger: str, task_logs: TaskLogs
) -> None:
    sandbox.configure(
        receipt_delay=1.0, receipt_fail_share=0.1, receipt_missing_share=0.05, report_page_size=40, seed=2
    )
    run = dag_files.run(
        delivery_dag(
            "wait_deferred",
            count=400,
            sensor_kwargs=(
                "deferrable=True, poke_interval=0.3, timeout=30, condition='delivered_share', "
                "min_delivered_share=0.8"
            ),
        ),
        "wait_deferred",
    )
    assert task_states(run) == {"send": "success", "wait": "success"}
    logs = task_logs.text()
    # The task really deferred: the task runner paused it, dag.test() ran our trigger inline,
    # and the task resumed in execute_complete with the trigger's event.
    assert "Pausing task as DEFERRED" in logs
    assert "[DAG TEST] running trigger in line" in logs
    assert "SmsDeliveryTrigger" in logs
    assert "Trigger finished after" in logs and "(met)" in logs
    result = xcom_value(run, "wait")
    # ...and Airflow recorded the deferral: a trigger row for this campaign, from our class.
    triggers = deferred_triggers(result["campaign_id"])
    assert len(triggers) == 1, triggers
    assert triggers[0]["condition"] == "delivered_share" and triggers[0]["min_delivered_share"] == 0.8
    assert result["outcome"] == "met" and result["delivered_share"] >= 0.8
    # All receipts were ready at once; the trigger drained them all, so the ledger equals the truth.
    assert {k: result[k] for k in REPORT_KEYS} == truth_counts(sandbox, any_ledger, result["campaign_id"])
    assert result["pending"] > 0  # the never-arriving share


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
@pytest.mark.parametrize(
    ("on_timeout", "state"), [("fail", "failed"), ("succeed", "success"), ("skip", "skipped")]
)
def test_timeout_outcomes(
    dag_files: DagFiles,
    sandbox: SandboxServer,
    sqlite_ledger: str,
    task_logs: TaskLogs,
    deferrable: bool,
    on_timeout: str,
    state: str,
) -> None:
    # A tenth of the messages never get a receipt: "every message final" can only time out.
    sandbox.configure(receipt_delay=0.2, receipt_missing_share=0.1, seed=3)
    dag_id = f"wait_timeout_{on_timeout}_{int(deferrable)}"
    started = time.monotonic()
    run = dag_files.run(
        delivery_dag(
            dag_id,
            count=200,
            sensor_kwargs=f"deferrable={deferrable}, poke_interval=0.3, timeout=1.5, on_timeout={on_timeout!r}",
        ),
        dag_id,
    )
    assert task_states(run) == {"send": "success", "wait": state}
    assert time.monotonic() - started < 30
    logs = task_logs.text()
    assert ("Pausing task as DEFERRED" in logs) is deferrable
    assert f"on_timeout={on_timeout}" in logs and "Delivery report for campaign" in logs
    if on_timeout == "succeed":
        result = xcom_value(run, "wait")
        assert result["outcome"] == "timeout"
        never = sum(1 for t in sandbox.truth() if t.result is None)
        assert result["pending"] == never > 0 and result["delivered"] == 200 - never
    else:
        assert xcom_value(run, "wait") is None


def test_a_share_that_cannot_be_reached_ends_the_wait_early(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    sandbox.configure(receipt_delay=0.3, receipt_fail_share=0.5, seed=4)
    started = time.monotonic()
    run = dag_files.run(
        delivery_dag(
            "wait_unreachable",
            count=100,
            sensor_kwargs=(
                "deferrable=True, poke_interval=0.3, timeout=600, condition='delivered_share', "
                "min_delivered_share=0.9"
            ),
        ),
        "wait_unreachable",
    )
    assert task_states(run) == {"send": "success", "wait": "failed"}
    assert time.monotonic() - started < 60  # not the 600 s timeout
    assert "cannot reach delivered share >= 90.00%" in task_logs.text()


def test_unknown_campaign_fails_clearly(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    source = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.sensors.delivery import SmsDeliverySensor

with DAG("wait_unknown", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    SmsDeliverySensor(task_id="wait", campaign_id="no-such-campaign", ledger_conn_id="yxt_ledger",
                      poke_interval=0.1, timeout=5)
"""
    run = dag_files.run(source, "wait_unknown")
    assert task_states(run) == {"wait": "failed"}
    assert "campaign 'no-such-campaign' is not in the ledger" in task_logs.text()
