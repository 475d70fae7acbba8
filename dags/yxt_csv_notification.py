"""Example: a notification to the numbers in a CSV file, as Excel on Chinese Windows saves it (GBK).

The first task writes a sample file next to the ledger — your DAG points
``recipients_file`` at your own file, a local path or any ``ObjectStoragePath``
(``s3://…``). The header names the number column (``手机号码`` is recognised, as are
``手机``, ``联系电话``, ``电话``, ``phone``, …); other columns become template variables.
Invalid and repeated rows are set aside and counted, never sent; the report's CSV lists
every input row with its outcome.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator

with DAG(
    dag_id="yxt_csv_notification",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["yxt", "example"],
):

    @task
    def write_sample_file() -> str:
        """Write the example's audience as a GBK CSV under AIRFLOW_HOME; return its path."""
        from pathlib import Path

        from yxt_provider.hooks.ledger import default_ledger_url

        path = Path(default_ledger_url().removeprefix("sqlite:///")).with_name("yxt_example_audience.csv")
        lines = ["手机号码,姓名"] + [
            f"１３６{i:08d},客户{i}" for i in range(50)
        ]  # full-width digits, as typed
        lines += ["12345,无效号码", "13600000001,重复"]
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
        return str(path)

    # [START howto_dag_csv_notification]
    send = SendSmsOperator(
        task_id="send",
        recipients_file=write_sample_file(),  # a path (templated) or an ObjectStoragePath
        recipients_encoding="gbk",  # Excel's CSV on Chinese Windows; UTF-8 (with or without BOM) is the default
        content="【XX商城】{{ 姓名 }}您好，您的订单已发货。",
        template_id="1000000000001",
    )
    SmsDeliveryReportOperator(
        task_id="report",
        campaign_id=send.output,
        csv_path="{{ ti.xcom_pull(task_ids='write_sample_file') | replace('.csv', '_report.csv') }}",
        trigger_rule="all_done",
    )
    # [END howto_dag_csv_notification]
