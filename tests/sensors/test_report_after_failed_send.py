"""The README's pattern (send >> wait >> report, all_done) reports exactly when it is needed: after a failed send."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.fixtures.airflow import DagFiles, sandbox_connection, task_states, xcom_value
from tests.fixtures.tasks import TaskLogs
from yxt_provider.sandbox import SandboxServer

TEMPLATE = "1000000000001"


def report_dag(dag_id: str, recipients: str, csv_path: Path, *, template_id: str = TEMPLATE) -> str:
    return f"""
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sensors.delivery import SmsDeliverySensor

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    send = SendSmsOperator(task_id="send", ledger_conn_id="yxt_ledger", template_id={template_id!r},
                           content="您好，明天停水", {recipients}, batch_size=100, max_in_flight=1)
    wait = SmsDeliverySensor(task_id="wait", campaign_id=send.output, ledger_conn_id="yxt_ledger",
                             deferrable=False, poke_interval=0.2, timeout=10)
    report = SmsDeliveryReportOperator(task_id="report", campaign_id=send.output, ledger_conn_id="yxt_ledger",
                                       trigger_rule="all_done", csv_path={str(csv_path)!r})
    send >> wait >> report
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def numbers(count: int, start: int = 0) -> str:
    return f'recipients=[f"138{{i:08d}}" for i in range({start}, {start + count})]'


def test_wrong_secret(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, task_logs: TaskLogs,
) -> None:  # fmt: skip
    conn = sandbox_connection(sandbox.base_url).replace(
        '"password": "s3cr3t"', '"password": "wrong-secret-51"'
    )
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", conn)
    run = dag_files.run(
        report_dag("report_wrong_secret", numbers(250), tmp_path / "r.csv"), "report_wrong_secret"
    )
    assert task_states(run) == {"send": "failed", "wait": "upstream_failed", "report": "failed"}
    report = xcom_value(run, "report")
    assert (report["total"], report["sent"], report["not_sent"]) == (250, 0, 250)
    assert "code 35" in report["error"] and "wrong-secret-51" not in report["error"]
    assert report["not_sent_reasons"] == {"refused: code 35 (signature verification failed)": 100,
                                          "not attempted yet": 150}  # fmt: skip
    logs = task_logs.text()
    assert "Delivery report for campaign" in logs and "why: YXT gateway returned code 35" in logs
    assert "failing because upstream send (failed), wait (upstream_failed) failed" in logs
    # The stop message ends the gateway's sentence before its own, and is printed once.
    assert "upper-case hex. Sent 0 of 250 recipients; 250 not sent." in logs
    assert logs.count("Fix the cause, then clear this task") == 1
    assert {row["outcome"] for row in read_csv(tmp_path / "r.csv")} == {"not sent"}
    assert sandbox.accepted() == []


def test_unknown_template(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path, task_logs: TaskLogs,
) -> None:  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection(sandbox.base_url, templates=[TEMPLATE]))
    run = dag_files.run(
        report_dag("report_template", numbers(20), tmp_path / "r.csv", template_id="999"), "report_template"
    )
    assert task_states(run) == {"send": "failed", "wait": "upstream_failed", "report": "failed"}
    send = xcom_value(run, "send")
    assert send["status"] == "rejected" and "template_id '999'" in send["error"]
    report = xcom_value(run, "report")
    assert report["status"] == "not planned" and report["total"] == 0
    assert "template_id '999' is not among the templates" in report["error"]
    assert "(not planned)" in task_logs.text()
    assert read_csv(tmp_path / "r.csv") == []  # a header: nothing was planned


def test_balance_exhausted_mid_campaign(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: Path
) -> None:
    sandbox.configure(balance=300)
    run = dag_files.run(report_dag("report_balance", numbers(500), tmp_path / "r.csv"), "report_balance")
    assert task_states(run) == {"send": "failed", "wait": "upstream_failed", "report": "failed"}
    send = xcom_value(run, "send")
    assert (send["status"], send["sent"], send["failed"]) == ("stopped", 300, 200)
    report = xcom_value(run, "report")
    assert (report["sent"], report["not_sent"], report["status"]) == (300, 200, "failed")
    assert report["not_sent_reasons"] == {
        "not attempted yet": 100,
        "refused: code 13 (SMS package balance exhausted)": 100,
    }
    assert "Top up the account" in report["error"]
    outcomes = [row["outcome"] for row in read_csv(tmp_path / "r.csv")]
    assert outcomes.count("not sent") == 200 and len(outcomes) == 500


def test_empty_file(dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: Path) -> None:
    source = tmp_path / "audience.csv"
    source.write_text("手机号码,姓名\n12345,甲\n", encoding="utf-8")
    run = dag_files.run(
        report_dag("report_empty", f"recipients_file={str(source)!r}", tmp_path / "r.csv"), "report_empty"
    )
    assert task_states(run) == {"send": "failed", "wait": "upstream_failed", "report": "failed"}
    report = xcom_value(run, "report")
    assert (report["status"], report["invalid"], report["input_rows"]) == ("not planned", 0, 0)
    assert "has no valid recipient (1 invalid, 0 duplicate)" in report["error"]


def test_a_report_after_a_clean_send_succeeds(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: Path
) -> None:
    sandbox.configure(receipt_delay=0.1)
    run = dag_files.run(report_dag("report_clean", numbers(120), tmp_path / "r.csv"), "report_clean")
    assert task_states(run) == {"send": "success", "wait": "success", "report": "success"}
    report = xcom_value(run, "report")
    assert (report["status"], report["sent"], report["error"]) == ("sent", 120, None)
