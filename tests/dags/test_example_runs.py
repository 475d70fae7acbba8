"""The example DAGs run as their headers say: scheduled days, SQL and CSV sources, alerts."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pendulum

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.tasks import TaskLogs
from yxt_provider.sandbox import SandboxServer

DAGS = Path(__file__).resolve().parents[2] / "dags"
BEIJING = "Asia/Shanghai"


def example(name: str) -> str:
    return (DAGS / name).read_text(encoding="utf-8")


def evening(day: int) -> pendulum.DateTime:
    """The 18:00 Beijing run of 2026-12-<day> (a logical date of the daily schedule)."""
    return pendulum.datetime(2026, 12, day, 18, tz=BEIJING)


def accepted(sandbox: SandboxServer) -> Counter[str]:
    return Counter(n for request in sandbox.accepted() for n in request.numbers)


def test_daily_reminders_one_campaign_per_day_and_no_resend(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    source = example("yxt_daily_reminders.py")
    days = [evening(1), evening(2), evening(3)]  # Tue, Wed, Thu
    runs = [dag_files.run(source, "yxt_daily_reminders", logical_date=day) for day in days]
    summaries = [xcom_value(run, "remind") for run in runs]
    assert [s["campaign_id"] for s in summaries] == [
        "reminders-2026-12-01",
        "reminders-2026-12-02",
        "reminders-2026-12-03",
    ]
    assert [s["sent"] for s in summaries] == [20, 20, 20]
    counts = accepted(sandbox)
    assert len(counts) == 60 and set(counts.values()) == {1}

    again = dag_files.run(source, "yxt_daily_reminders", logical_date=evening(2))  # a re-run of one day
    assert task_states(again) == {"book_appointments": "success", "remind": "success"}
    assert (xcom_value(again, "remind")["sent"], xcom_value(again, "remind")["skipped"]) == (0, 20)
    assert accepted(sandbox) == counts


def test_a_day_with_no_one_succeeds_or_fails_as_the_author_chose(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    source = example("yxt_daily_reminders.py")
    saturday = evening(5)  # the clinic is closed on Sunday: nobody to remind
    allowed = dag_files.run(source, "yxt_daily_reminders", logical_date=saturday)
    assert task_states(allowed) == {"book_appointments": "success", "remind": "success"}
    assert (xcom_value(allowed, "remind")["status"], xcom_value(allowed, "remind")["planned"]) == ("empty", 0)
    strict = source.replace("allow_empty=True", "allow_empty=False")
    refused = dag_files.run(strict, "yxt_daily_reminders", logical_date=evening(12))  # another Saturday
    assert task_states(refused) == {"book_appointments": "success", "remind": "failed"}
    assert "has no valid recipient (0 invalid, 0 duplicate)" in task_logs.text()
    assert sandbox.accepted() == []


def test_sql_notification_example(dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str) -> None:
    run = dag_files.run(example("yxt_sql_notification.py"), "yxt_sql_notification")
    assert task_states(run) == {"fill_repayments": "success", "send": "success", "report": "success"}
    assert xcom_value(run, "send")["sent"] == 300
    # Three names times four amounts: 12 distinct texts, so 12 requests for 300 recipients.
    assert len(sandbox.accepted()) == 12
    assert xcom_value(run, "report")["sent"] == 300


def test_csv_notification_example(dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str) -> None:
    run = dag_files.run(example("yxt_csv_notification.py"), "yxt_csv_notification")
    assert task_states(run) == {"write_sample_file": "success", "send": "success", "report": "success"}
    summary = xcom_value(run, "send")
    assert (summary["sent"], summary["invalid"], summary["duplicate"]) == (50, 1, 1)
    report_csv = Path(xcom_value(run, "write_sample_file")).with_name("yxt_example_audience_report.csv")
    with report_csv.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 52  # every input row, the invalid and the duplicate included
    assert rows[50]["outcome"].startswith("invalid") and rows[51]["outcome"] == "duplicate of row 2"
    assert {r.content for r in sandbox.accepted()} >= {"【XX商城】客户0您好，您的订单已发货。"}


def test_alerting_example_sends_what_its_settings_promise(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    run = dag_files.run(example("yxt_alerting.py"), "yxt_alerting", run_conf={"slow_seconds": 0})
    assert task_states(run) == {"load_partner_file": "failed", "slow_report": "success"}
    sent = Counter((request.numbers, "将重试" in request.content) for request in sandbox.accepted())
    oncall, lead = ("13800000001", "13800000002"), ("13900000009",)
    # On-call: the retry and the final failure; the lead (final_failure_only): the final failure only.
    assert sent == Counter({(oncall, True): 1, (oncall, False): 1, (lead, False): 1})


def test_marketing_example_honours_refusals_and_caps_repeat_campaigns(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    source = example("yxt_marketing_campaign.py")
    sandbox.inject_reply("1069000012345", "TD", user_number="13700000007")  # a refusal by reply
    always = "00:00-24:00"  # the test may run at night in Beijing
    conf = {"send_window": always, "refused_by_phone": "13700000008, 13700000009"}
    first = dag_files.run(source, "yxt_marketing_campaign", run_conf=conf)
    assert set(task_states(first).values()) == {"success"}
    summary = xcom_value(first, "promote")
    assert (summary["sent"], summary["opted_out"], summary["capped"]) == (97, 3, 0)
    assert xcom_value(first, "sync_opt_outs")["opted_out"] == 1
    assert xcom_value(first, "record_refusals")["added"] == 2
    report = xcom_value(first, "report")
    assert (report["opted_out"], report["input_rows"]) == (3, 100)
    # Two more campaigns: the cap (two in seven days) lets the second through and stops the third.
    second = xcom_value(
        dag_files.run(source, "yxt_marketing_campaign", run_conf={"send_window": always}), "promote"
    )
    third = xcom_value(
        dag_files.run(source, "yxt_marketing_campaign", run_conf={"send_window": always}), "promote"
    )
    assert (second["sent"], second["capped"]) == (97, 0)
    assert (third["sent"], third["capped"], third["opted_out"], third["status"]) == (0, 97, 3, "empty")
    assert set(accepted(sandbox).values()) == {2} and len(accepted(sandbox)) == 97


def test_sharded_campaign_example_one_campaign_in_shards(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    # The Celery run (tests/e2e/test_celery_scale_out.py) sends 200,000; the wiring is the same.
    run = dag_files.run(
        example("yxt_sharded_campaign.py"), "yxt_sharded_campaign", run_conf={"recipients": 900, "shards": 3}
    )
    states = task_states(run)
    assert states == {
        "fill_customers": "success", "shard_queries": "success",
        "send[0]": "success", "send[1]": "success", "send[2]": "success",
        "wait_for_delivery": "success", "delivery_report": "success",
    }  # fmt: skip
    summaries = [xcom_value(run, "send", map_index=shard) for shard in range(3)]
    assert [s["sent"] for s in summaries] == [300, 300, 300]
    assert len({s["campaign_id"] for s in summaries}) == 3
    counts = accepted(sandbox)
    assert len(counts) == 900 and set(counts.values()) == {1}
    report = xcom_value(run, "delivery_report")
    assert report["sent"] == 900
    assert sorted(report["campaign_ids"]) == sorted(s["campaign_id"] for s in summaries)
    assert report["delivered"] + report["failed"] + report["pending"] == 900

    # A second run with the same params reuses the filled table and sends the campaign again
    # (a new run is a new campaign), again exactly once per recipient.
    again = dag_files.run(
        example("yxt_sharded_campaign.py"), "yxt_sharded_campaign", run_conf={"recipients": 900, "shards": 3}
    )
    assert task_states(again)["delivery_report"] == "success"
    assert set(accepted(sandbox).values()) == {2}
