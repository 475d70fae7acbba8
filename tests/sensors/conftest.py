"""Fixtures for sensor tests: shared with the operator tests through ``tests.fixtures.tasks``."""

from __future__ import annotations

from tests.fixtures.tasks import (  # noqa: F401 - fixtures are registered by importing them
    any_ledger,
    no_full_numbers_in_logs,
    sandbox,
    sqlite_ledger,
    task_logs,
)


def delivery_dag(
    dag_id: str, *, count: int, sensor_kwargs: str, report: bool = False, prefix: str = "138"
) -> str:
    """A DAG: send ``count`` numbers → ``SmsDeliverySensor`` (task ``wait``) [→ report task ``report``].

    ``sensor_kwargs`` is Python source for the sensor's extra arguments.
    """
    report_task = (
        """
    report = SmsDeliveryReportOperator(task_id="report", campaign_id=send.output, ledger_conn_id="yxt_ledger",
                                       trigger_rule="all_done", csv_path="{{ params.csv }}")
    wait >> report
"""
        if report
        else ""
    )
    return f"""
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sensors.delivery import SmsDeliverySensor

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False,
         params={{"csv": ""}}):
    send = SendSmsOperator(task_id="send", ledger_conn_id="yxt_ledger", template_id="1000000000001",
                           content="您好，明天停水", recipients=[f"{prefix}{{i:08d}}" for i in range({count})],
                           batch_size=100)
    wait = SmsDeliverySensor(task_id="wait", campaign_id=send.output, ledger_conn_id="yxt_ledger",
                             {sensor_kwargs})
{report_task}
"""
