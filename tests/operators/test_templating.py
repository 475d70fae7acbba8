"""Airflow conventions on the operators: templated connection ids, ``.sql`` files, the text in the log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.fixtures.airflow import DagFiles, connection_json, task_states, xcom_value
from tests.fixtures.tasks import TaskLogs
from yxt_provider.operators.receipts import FetchReceiptsOperator
from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sandbox import SandboxServer
from yxt_provider.sensors.delivery import SmsDeliverySensor

ANY_TEXT = "1000000000001"


@pytest.mark.parametrize(
    ("operator", "fields"),
    [
        (SendSmsOperator, {"yxt_conn_id", "ledger_conn_id", "recipients_conn_id", "recipients_sql"}),
        (SmsDeliverySensor, {"yxt_conn_id", "ledger_conn_id", "campaign_id"}),
        (SmsDeliveryReportOperator, {"yxt_conn_id", "ledger_conn_id", "campaign_id", "csv_path"}),
        (FetchReceiptsOperator, {"yxt_conn_id", "ledger_conn_id"}),
    ],
)
def test_connection_ids_are_template_fields(operator: type, fields: set[str]) -> None:
    assert fields <= set(operator.template_fields)


def test_sql_file_templated_connection_ids_and_the_text_in_the_log(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, task_logs: TaskLogs,
) -> None:  # fmt: skip
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE audience (mobile TEXT, day TEXT)")
        conn.executemany(
            "INSERT INTO audience VALUES (?, ?)",
            [(f"137{i:08d}", "2026-12-01" if i % 2 else "2026-12-02") for i in range(40)],
        )
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", connection_json("sqlite", host=str(db)))
    sql_dir = tmp_path / "sql"
    sql_dir.mkdir()
    (sql_dir / "audience.sql").write_text("SELECT mobile FROM audience WHERE day = '{{ params.day }}'\n")
    source = f"""
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.sms import SendSmsOperator

with DAG("send_sql_file", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False,
         template_searchpath=[{str(sql_dir)!r}],
         params={{"day": "2026-12-01", "crm": "crm_db", "ledger": "yxt_ledger", "gateway": "yxt_default"}}):
    SendSmsOperator(task_id="send", recipients_sql="audience.sql", recipients_conn_id="{{{{ params.crm }}}}",
                    ledger_conn_id="{{{{ params.ledger }}}}", yxt_conn_id="{{{{ params.gateway }}}}",
                    content="【诊所】{{{{ params.day }}}} 门诊照常", template_id="{ANY_TEXT}")
"""
    run = dag_files.run(source, "send_sql_file")
    assert task_states(run) == {"send": "success"}
    assert xcom_value(run, "send")["sent"] == 20
    numbers = {n for request in sandbox.accepted() for n in request.numbers}
    assert numbers == {f"137{i:08d}" for i in range(1, 40, 2)}
    assert "sends one text to every recipient: 【诊所】2026-12-01 门诊照常" in task_logs.text()
