"""YxtSmsNotifier against the sandbox: sync and async, one SMS per event, final failures, odd contexts."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import pytest

from tests.fixtures.airflow import DagFiles, sandbox_connection, task_states
from tests.fixtures.tasks import TaskLogs
from yxt_provider.alerting.event import AlertEvent
from yxt_provider.campaign.segments import utf16_units
from yxt_provider.notifications.sms import YxtSmsNotifier, send_yxt_sms_notification
from yxt_provider.sandbox import SandboxServer

ALERTS = "1000000000004"  # the sandbox's 【Airflow】{alert} template
ONCALL = ["13800000001", "13800000002"]


@dataclass
class FakeTi:
    dag_id: str = "billing"
    run_id: str = "scheduled__2026-12-01T09:00:00+00:00"
    task_id: str = "load"
    map_index: int = -1
    try_number: int = 1
    max_tries: int = 1
    state: str = "failed"


def notifier(**kwargs: object) -> YxtSmsNotifier:
    return YxtSmsNotifier(recipients=ONCALL, template_id=ALERTS, deployment_key="test", **kwargs)  # type: ignore[arg-type]


def texts(sandbox: SandboxServer) -> list[str]:
    return [request.content for request in sandbox.accepted()]


def test_the_same_event_twice_sends_one_sms(sandbox: SandboxServer) -> None:
    context = {"ti": FakeTi(try_number=2), "exception": ValueError("bad row 17")}
    notifier()(context)
    notifier()(context)  # a second process firing the same callback
    assert texts(sandbox) == ["【Airflow】billing.load 失败 第2次 12-01 09:00：ValueError: bad row 17"]
    assert sandbox.accepted()[0].numbers == tuple(ONCALL)
    assert sandbox.counters()["requests"]["send"].get("15") == 1
    notifier()({"ti": FakeTi(try_number=3)})  # another try is another event
    assert len(texts(sandbox)) == 2


def test_default_text_is_one_message_and_cuts_long_errors_cleanly(sandbox: SandboxServer) -> None:
    ti = FakeTi(dag_id="monthly_billing_reconciliation_for_all_regions", task_id="load_core_banking_files")
    notifier()(
        {"ti": ti, "exception": RuntimeError("数据库连接失败 " * 30 + "\nTraceback (most recent call last)")}
    )
    (text,) = texts(sandbox)
    assert utf16_units(text) <= 70 and text.endswith("…")
    assert text.startswith("【Airflow】monthly_bil") and "失败 第1次 12-01 09:00：RuntimeError" in text
    assert "\n" not in text


def test_missing_and_none_context_fields_never_fail_the_alert(sandbox: SandboxServer) -> None:
    notifier()({})  # nothing at all
    notifier()({"ti": None, "dag_run": None, "exception": None, "duration": None, "end_date": None})
    notifier()({"dag_run": {"dag_id": "etl", "run_id": "manual__2026-12-02T10:00:00+00:00", "state": "failed"},
                "reason": "task_failure"})  # fmt: skip
    sent = texts(sandbox)
    # The first two name no event at all: the same unknown event, so the second is a repeat.
    assert sent == [
        "【Airflow】unknown-dag event unknown-run",
        "【Airflow】etl 运行失败 12-02 10:00：task_failure",
    ]
    assert sandbox.counters()["requests"]["send"].get("15") == 1


def test_final_failure_only_stays_quiet_while_a_retry_follows(
    sandbox: SandboxServer, task_logs: TaskLogs
) -> None:
    quiet = notifier(final_failure_only=True)
    quiet(
        {"ti": FakeTi(try_number=1, max_tries=1, state="failed")}
    )  # #56942: failure callback, retry follows
    quiet({"ti": FakeTi(try_number=1, max_tries=1, state="up_for_retry")})
    assert texts(sandbox) == []
    assert "a retry follows (final_failure_only)" in task_logs.text()
    quiet({"ti": FakeTi(try_number=2, max_tries=1, state="failed")})
    assert len(texts(sandbox)) == 1


def test_the_async_path_as_a_deadline_alert_calls_it(sandbox: SandboxServer) -> None:
    """What Airflow's CallbackTrigger does in the triggerer: ``await Notifier(**kwargs, context=...)``."""
    context = {
        "dag_run": {
            "dag_id": "nightly",
            "dag_run_id": "scheduled__2026-12-01T18:00:00+00:00",
            "state": "running",
        },
        "deadline": {"id": "0199", "deadline_time": "2026-12-01T19:00:00+00:00"},
    }

    async def missed() -> None:
        await send_yxt_sms_notification(
            recipients=ONCALL, template_id=ALERTS, deployment_key="k", context=context
        )

    asyncio.run(missed())
    assert texts(sandbox) == ["【Airflow】nightly 未按时完成 12-01 18:00"]
    assert AlertEvent.from_context(context).kind == "deadline"


def test_gateway_down_logs_why_and_never_raises(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, task_logs: TaskLogs
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection(f"http://127.0.0.1:{port}", retry_max_attempts=1)
    )
    notifier()({"ti": FakeTi()})  # returns normally
    asyncio.run(notifier().async_notify({"ti": FakeTi()}))
    logs = task_logs.text()
    assert logs.count("No alert SMS was sent: YxtTransportError") == 2
    assert f"127.0.0.1:{port}: connection refused" in logs


def test_a_recipient_the_gateway_refuses_is_counted_and_the_others_alerted(
    sandbox: SandboxServer, task_logs: TaskLogs
) -> None:
    refused = "19900050007"  # the sandbox's failList range
    YxtSmsNotifier(recipients=[*ONCALL, refused], template_id=ALERTS, deployment_key="k")({"ti": FakeTi()})
    assert [(r.numbers, r.refused) for r in sandbox.accepted()] == [(tuple(ONCALL), (refused,))]
    logs = task_logs.text()
    assert "the gateway refused 1 of 3 recipients (data.failList)" in logs and "sent to 2 recipients" in logs
    assert refused not in logs and "199****0007" in logs


def test_no_valid_recipient_is_logged_not_raised(sandbox: SandboxServer, task_logs: TaskLogs) -> None:
    YxtSmsNotifier(recipients="123, 456", template_id=ALERTS, deployment_key="k")({"ti": FakeTi()})
    assert "No alert SMS was sent: ValueError: no valid recipient" in task_logs.text()
    assert texts(sandbox) == []


FAILING_DAG = f"""
import datetime
import pendulum
from airflow.sdk import DAG, task
from yxt_provider.notifications.sms import YxtSmsNotifier

alert = YxtSmsNotifier(recipients={ONCALL!r}, template_id="{ALERTS}", deployment_key="dagtest")
final_only = YxtSmsNotifier(recipients=["13900000009"], template_id="{ALERTS}", deployment_key="dagtest",
                            final_failure_only=True)

with DAG("alerting_test", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False,
         default_args={{"retries": 1, "retry_delay": datetime.timedelta(seconds=0)}}):
    @task(on_failure_callback=[alert, final_only], on_retry_callback=[alert, final_only])
    def flaky():
        raise ValueError("upstream file missing")

    flaky()
"""


def test_failing_task_with_one_retry_sends_exactly_the_promised_texts(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    run = dag_files.run(FAILING_DAG, "alerting_test")
    assert task_states(run) == {"flaky": "failed"}  # the task's own outcome, unchanged by the alerts
    sent = {(request.numbers, request.content) for request in sandbox.accepted()}
    retry = next(c for n, c in sent if "将重试" in c)
    final = next(c for n, c in sent if "失败 第2次" in c)
    assert "第1次" in retry and "：ValueError: upstr" in final and utf16_units(final) <= 70
    assert sent == {
        (tuple(ONCALL), retry),  # the retry, to the on-call list
        (tuple(ONCALL), final),  # the final failure, to the on-call list
        (("13900000009",), final),  # final_failure_only: only the last one
    }
