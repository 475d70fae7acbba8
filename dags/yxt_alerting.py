"""Example: SMS alerts for on-call staff — a failing task with a retry, and a missed deadline.

``load_partner_file`` fails (the partner's file never comes): its first failure is retried,
and ``YxtSmsNotifier`` texts the on-call list once for the retry and once for the final
failure — the same event firing twice sends one SMS. A second notifier with
``final_failure_only=True`` texts the team lead only when no retry is left. The DAG's
deadline alert runs the notifier in the triggerer (``async_notify``) when a run is not done
within ``DEADLINE`` of being queued; ``slow_report`` makes it late.

Uses ``yxt_default`` and the sandbox's alert template ``1000000000004`` (``【Airflow】{alert}``):
register a template for alerts with your gateway and put its id here.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, AsyncCallback, DeadlineAlert, DeadlineReference, task

from yxt_provider.notifications.sms import YxtSmsNotifier

ALERT_TEMPLATE = "1000000000004"
ONCALL = ["13800000001", "13800000002"]
TEAM_LEAD = ["13900000009"]
DEADLINE = timedelta(seconds=20)

# [START howto_notifier_callbacks]
oncall = YxtSmsNotifier(recipients=ONCALL, template_id=ALERT_TEMPLATE)
lead = YxtSmsNotifier(recipients=TEAM_LEAD, template_id=ALERT_TEMPLATE, final_failure_only=True)
# [END howto_notifier_callbacks]

with DAG(
    dag_id="yxt_alerting",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    tags=["yxt", "example"],
    params={"slow_seconds": 40},
    # [START howto_notifier_deadline]
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=DEADLINE,
        # Runs in the triggerer: the notifier's async_notify, which never blocks the loop.
        callback=AsyncCallback(YxtSmsNotifier, kwargs={"recipients": ONCALL, "template_id": ALERT_TEMPLATE}),
    ),
    # [END howto_notifier_deadline]
):
    # [START howto_notifier_task]
    @task(retries=1, retry_delay=timedelta(seconds=2), on_retry_callback=[oncall, lead],
          on_failure_callback=[oncall, lead])  # fmt: skip
    def load_partner_file() -> None:
        raise FileNotFoundError("partner file not delivered")

    # [END howto_notifier_task]

    @task
    def slow_report(params: dict[str, int] | None = None) -> None:
        """A step that takes longer than the deadline allows (a stand-in for a slow query)."""
        import time

        time.sleep(int((params or {}).get("slow_seconds", 40)))

    load_partner_file()
    slow_report()
