"""Example: a batch SMS notification, tracked to delivery.

recipients → ``SendSmsOperator`` → ``SmsDeliverySensor`` (deferrable: waits in the
triggerer, reading receipts into the ledger as they come) → ``SmsDeliveryReportOperator``
(the report as a table in the log, a dict in XCom, optionally a CSV).

Uses the ``yxt_default`` connection and the embedded SQLite ledger under ``AIRFLOW_HOME``
(set ``ledger_conn_id`` on the three tasks for a shared database when tasks run on more
than one machine). ``bash scripts/demo.sh`` runs it against the local sandbox gateway.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sensors.delivery import SmsDeliverySensor

# The sandbox's appointment-reminder template: 【{sign}】{name}您好，您预约的{service}将于{time}开始，请准时到达。
APPOINTMENT_TEMPLATE = "1000000000002"
# What failed receipts' result codes mean: the YXT interface documents only 0 (delivered),
# so ask your gateway operator for theirs. 2 is the sandbox's failure code.
RESULT_MEANINGS = {2: "number unreachable"}
# Short for the demo; 60 s or more against a real gateway (each poll is one or more report calls).
POKE_INTERVAL = timedelta(seconds=5)

with DAG(
    dag_id="yxt_batch_notification",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["yxt", "example"],
    params={
        "recipients": Param(500, type="integer", minimum=1, maximum=100_000, description="How many patients"),
        "report_csv": Param(
            "", type="string", description="Write the per-recipient CSV here (empty: no CSV)"
        ),
    },
):
    # [START howto_recipients_from_task]
    # show_return_value_in_logs=False: the return value holds phone numbers, which never go to logs.
    @task(show_return_value_in_logs=False)
    def patients(params: dict[str, Any] | None = None) -> list[dict[str, str]]:
        """Tomorrow's appointments. In production: ``recipients_sql=...`` on your database."""
        count = int((params or {}).get("recipients", 500))
        names = ["张先生", "李女士", "王先生", "赵女士", "陈先生", "刘女士"]
        services = [("门诊", "09:00"), ("体检", "08:30"), ("复诊", "14:00")]
        rows = []
        for i in range(count):
            service, at = services[i % len(services)]
            rows.append(
                {"phone": f"139{i:08d}", "name": names[i % len(names)], "service": service, "time": at}
            )
        return rows

    # [END howto_recipients_from_task]

    # [START howto_operator_send_sms]
    # Recipients whose text comes out the same share a request, so 500 patients are 18 requests.
    send = SendSmsOperator(
        task_id="send",
        recipients=patients(),
        content="【XX医院】{{ name }}您好，您预约的{{ service }}将于{{ time }}开始，请准时到达。",
        template_id=APPOINTMENT_TEMPLATE,
    )
    # [END howto_operator_send_sms]

    # [START howto_sensor_sms_delivery]
    wait = SmsDeliverySensor(
        task_id="wait_for_delivery",
        campaign_id=send.output,  # the summary dict; its "campaign_id" is used
        condition="delivered_share",
        min_delivered_share=0.9,
        on_timeout="succeed",  # report whatever arrived; the report task says what is missing
        deferrable=True,  # no worker slot is held while receipts trickle in
        poke_interval=POKE_INTERVAL,
        timeout=timedelta(hours=2),
        pending_timeout=timedelta(minutes=30),
        result_meanings=RESULT_MEANINGS,
    )
    # [END howto_sensor_sms_delivery]

    # [START howto_operator_sms_delivery_report]
    report = SmsDeliveryReportOperator(
        task_id="delivery_report",
        campaign_id=send.output,  # the summary dict; its "campaign_id" is used
        yxt_conn_id="yxt_default",  # read receipts that came in since the sensor finished
        pending_timeout=timedelta(minutes=30),
        csv_path="{{ params.report_csv }}",
        result_meanings=RESULT_MEANINGS,
        trigger_rule="all_done",  # report also when the sensor failed or was skipped
    )

    wait >> report
    # [END howto_operator_sms_delivery_report]
