"""SendSmsOperator end to end: real Airflow (dag.test), the sandbox over HTTP, a real ledger."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.fixtures.airflow import DagFiles, task_states, try_numbers, xcom_value
from tests.fixtures.tasks import TaskLogs
from tests.operators.dag_sources import numbers_expr, send_dag
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import Fault, SandboxServer

ANY_TEXT = "1000000000001"  # the sandbox's catch-all template


def accepted_numbers(sandbox: SandboxServer) -> Counter[str]:
    """How often each number was accepted by the gateway (the witness of exactly-once)."""
    return Counter(n for request in sandbox.accepted() for n in request.numbers)


def test_2500_recipients_arrive_exactly_once(
    dag_files: DagFiles, sandbox: SandboxServer, any_ledger: str
) -> None:
    run = dag_files.run(
        send_dag(
            "send_2500",
            f"recipients={numbers_expr(2500)}, content='通知：{{{{ ds }}}} 停水', template_id='{ANY_TEXT}'",
        ),
        "send_2500",
    )
    assert task_states(run) == {"send": "success"}
    summary = xcom_value(run, "send")
    assert summary["planned"] == 2500 and summary["sent"] == 2500 and summary["batches"] == 3
    assert summary["failed"] == 0 and summary["skipped"] == 0
    assert "13800000000" not in str(summary)
    counts = accepted_numbers(sandbox)
    assert len(counts) == 2500 and set(counts.values()) == {1}
    requests = sandbox.accepted()
    assert sorted(len(r.numbers) for r in requests) == [500, 1000, 1000]
    assert all(r.content.startswith("通知：") and "{{" not in r.content for r in requests)
    ledger = Ledger.from_url(any_ledger)
    counts_by_state = ledger.campaign_counts(summary["campaign_id"])
    assert counts_by_state.get("batches_sent") == 3, counts_by_state


def test_personalised_content_groups_identical_texts(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    preamble = (
        "RECIPIENTS = [{'phone': f'139{i:08d}', 'name': ['张三', '李四', '王五'][i % 3], 'amount': 100} "
        "for i in range(1200)]"
    )
    run = dag_files.run(
        send_dag(
            "send_personal",
            f"recipients=RECIPIENTS, content='{{{{ name }}}}您好，应还{{{{ recipient.amount }}}}元', template_id='{ANY_TEXT}'",
            preamble=preamble,
        ),
        "send_personal",
    )
    assert task_states(run) == {"send": "success"}
    requests = sandbox.accepted()
    # 1200 recipients, 3 distinct texts of 400 each: 3 requests, not 1200.
    assert len(requests) == 3
    by_text = {r.content: r.numbers for r in requests}
    assert set(by_text) == {"张三您好，应还100元", "李四您好，应还100元", "王五您好，应还100元"}
    for text, numbers in by_text.items():
        expected_name = ["张三", "李四", "王五"][["张三", "李四", "王五"].index(text[:2])]
        assert all(["张三", "李四", "王五"][int(n[3:]) % 3] == expected_name for n in numbers)


def test_dry_run_sends_and_records_nothing(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    run = dag_files.run(
        send_dag(
            "send_dry",
            f"recipients={numbers_expr(2100)} + ['12345', '13800000001'], content='x' * 80, "
            f"template_id='{ANY_TEXT}', dry_run=True",
        ),
        "send_dry",
    )
    assert task_states(run) == {"send": "success"}
    summary = xcom_value(run, "send")
    assert summary["dry_run"] is True and summary["sent"] == 0
    assert summary["planned"] == 2100 and summary["batches"] == 3
    assert summary["invalid"] == 1 and summary["duplicate"] == 1
    assert summary["segments"] == 2100 * 2  # 80 characters: two 67-character parts
    assert sandbox.accepted() == []
    assert Ledger.from_url(sqlite_ledger).get_campaign(summary["campaign_id"]) is None


def test_invalid_and_duplicate_numbers_are_counted_not_sent(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    recipients = "'13800138000, +86 139-0013-9000, 8613800138000, 12800138000, abc, 1380013800'"
    run = dag_files.run(
        send_dag("send_invalid", f"recipients={recipients}, content='hi', template_id='{ANY_TEXT}'"),
        "send_invalid",
    )
    summary = xcom_value(run, "send")
    assert (summary["planned"], summary["sent"], summary["invalid"], summary["duplicate"]) == (2, 2, 3, 1)
    assert accepted_numbers(sandbox) == Counter({"13800138000": 1, "13900139000": 1})


def test_same_campaign_id_twice_sends_once(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    source = send_dag(
        "send_daily",
        f"recipients={numbers_expr(1500)}, content='日报', template_id='{ANY_TEXT}', campaign_id='daily-{{{{ ds }}}}'",
    )
    first = dag_files.run(source, "send_daily")
    second = dag_files.run(source, "send_daily")
    assert xcom_value(first, "send")["sent"] == 1500
    again = xcom_value(second, "send")
    assert again["sent"] == 0 and again["skipped"] == 1500
    assert len(sandbox.accepted()) == 2
    assert set(accepted_numbers(sandbox).values()) == {1}


def test_no_valid_recipient_fails_clearly_unless_allowed(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    run = dag_files.run(
        send_dag("send_empty", f"recipients=['123'], content='hi', template_id='{ANY_TEXT}'"), "send_empty"
    )
    assert task_states(run) == {"send": "failed"}
    assert "has no valid recipient (1 invalid, 0 duplicate)" in task_logs.text()
    allowed = dag_files.run(
        send_dag("send_empty_ok", f"recipients=[], content='hi', template_id='{ANY_TEXT}', allow_empty=True"),
        "send_empty_ok",
    )
    assert task_states(allowed) == {"send": "success"}
    assert sandbox.accepted() == []


def test_content_that_cannot_be_sent_fails_before_sending(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    run = dag_files.run(
        send_dag("send_long", f"recipients=['13800138000'], content='长' * 501, template_id='{ANY_TEXT}'"),
        "send_long",
    )
    assert task_states(run) == {"send": "failed"}
    assert "at most 500" in task_logs.text()
    assert sandbox.accepted() == []


def test_accept_then_drop_then_task_retry_sends_each_once(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fixtures.airflow import sandbox_connection

    # No client-level retries: the dropped answer fails the try, and Airflow's retry resumes.
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection(sandbox.base_url, retry_max_attempts=1))
    sandbox.configure(faults=(Fault(endpoint="send", kind="accept_then_drop", skip=1, times=1),))
    run = dag_files.run(
        send_dag(
            "send_drop",
            f"recipients={numbers_expr(2500)}, content='hi', template_id='{ANY_TEXT}', max_in_flight=1",
            retries=1,
        ),
        "send_drop",
    )
    assert task_states(run) == {"send": "success"}
    assert try_numbers(run)["send"] == 2
    counts = accepted_numbers(sandbox)
    assert len(counts) == 2500 and set(counts.values()) == {1}
    assert sandbox.counters()["requests"]["send"].get("15", 0) == 1  # the re-sent batch 2 was a no-op
    summary = xcom_value(run, "send")
    assert summary["sent"] + summary["skipped"] == 2500


def test_throttling_and_server_errors_are_ridden_out(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    sandbox.configure(
        rate_limit=20.0, burst=2, faults=(Fault(endpoint="send", kind="http_500", skip=2, times=3),)
    )
    run = dag_files.run(
        send_dag(
            "send_storm",
            f"recipients={numbers_expr(30_000)}, content='hi', template_id='{ANY_TEXT}', batch_size=500, max_in_flight=6",
        ),
        "send_storm",
    )
    assert task_states(run) == {"send": "success"}
    calls = sandbox.counters()["requests"]["send"]
    assert calls.get("11", 0) > 0, calls  # the gateway did throttle
    counts = accepted_numbers(sandbox)
    assert len(counts) == 30_000 and set(counts.values()) == {1}


def test_balance_exhausted_stops_then_clear_finishes(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    sandbox.configure(balance=1500)
    source = send_dag(
        "send_balance",
        f"recipients={numbers_expr(2500)}, content='hi', template_id='{ANY_TEXT}', max_in_flight=1, campaign_id='balance'",
        retries=3,
    )
    run = dag_files.run(source, "send_balance")
    assert task_states(run) == {"send": "failed"}
    assert try_numbers(run)["send"] == 1  # no retry wasted on a balance error
    assert "Sent 1000 of 2500 recipients; 1500 not sent" in task_logs.text()
    assert "clear this task" in task_logs.text()
    assert len(accepted_numbers(sandbox)) == 1000

    sandbox.configure(balance=10_000)  # topped up
    rerun = dag_files.run(source, "send_balance")
    assert task_states(rerun) == {"send": "success"}
    counts = accepted_numbers(sandbox)
    assert len(counts) == 2500 and set(counts.values()) == {1}


def test_unknown_template_fails_before_sending(
    dag_files: DagFiles,
    sandbox: SandboxServer,
    sqlite_ledger: str,
    monkeypatch: pytest.MonkeyPatch,
    task_logs: TaskLogs,
) -> None:
    from tests.fixtures.airflow import sandbox_connection

    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", sandbox_connection(sandbox.base_url, templates=[ANY_TEXT]))
    run = dag_files.run(
        send_dag("send_tpl", "recipients=['13800138000'], content='hi', template_id='999'"), "send_tpl"
    )
    assert task_states(run) == {"send": "failed"}
    assert "template_id '999' is not among the templates" in task_logs.text()
    assert sandbox.accepted() == []


def test_mapped_shards_each_send_their_part(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    source = f'''
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.sms import SendSmsOperator

with DAG("send_mapped", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    SendSmsOperator.partial(task_id="send", ledger_conn_id="yxt_ledger", content="hi", template_id="{ANY_TEXT}").expand(
        recipients=[{numbers_expr(700)}, {numbers_expr(700, start=700)}, {numbers_expr(700, start=1400)}]
    )
'''
    run = dag_files.run(source, "send_mapped")
    assert task_states(run) == {"send[0]": "success", "send[1]": "success", "send[2]": "success"}
    counts = accepted_numbers(sandbox)
    assert len(counts) == 2100 and set(counts.values()) == {1}
    ids = {xcom_value(run, "send", i)["campaign_id"] for i in range(3)}
    assert len(ids) == 3


def test_recipients_from_sql_and_from_csv(
    dag_files: DagFiles,
    sandbox: SandboxServer,
    sqlite_ledger: str,
    tmp_path: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sqlite3

    from tests.fixtures.airflow import connection_json

    db = f"{tmp_path}/crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE patients (mobile TEXT, name TEXT)")
        conn.executemany(
            "INSERT INTO patients VALUES (?, ?)", [(f"137{i:08d}", f"患者{i}") for i in range(30)]
        )
    monkeypatch.setenv("AIRFLOW_CONN_CRM", connection_json("sqlite", host=db))
    csv_path = f"{tmp_path}/extra.csv"
    with open(csv_path, "w", encoding="utf-8") as handle:
        handle.write("phone,name\n+86 136-0000-0001,甲\n13600000002,乙\n13600000002,重复\n")
    from_sql = dag_files.run(
        send_dag(
            "send_sql",
            "recipients_sql='SELECT mobile, name FROM patients', recipients_conn_id='crm', number_field=None, "
            f"content='{{{{ name }}}}您好', template_id='{ANY_TEXT}'",
        ),
        "send_sql",
    )
    from_csv = dag_files.run(
        send_dag(
            "send_csv",
            f"recipients_file={csv_path!r}, content='{{{{ name }}}}您好', template_id='{ANY_TEXT}'",
        ),
        "send_csv",
    )
    assert task_states(from_sql) == {"send": "success"} and task_states(from_csv) == {"send": "success"}
    assert xcom_value(from_sql, "send")["sent"] == 30
    summary = xcom_value(from_csv, "send")
    assert summary["sent"] == 2 and summary["duplicate"] == 1
    texts = {n: r.content for r in sandbox.accepted() for n in r.numbers}
    assert texts["13600000001"] == "甲您好" and texts["13700000005"] == "患者5您好"
    # The first occurrence of a repeated number wins.
    assert texts["13600000002"] == "乙您好"


def test_custom_campaign_id_on_mapped_shards_and_across_tasks(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    source = f"""
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.sms import SendSmsOperator

with DAG("send_shared_id", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    shards = SendSmsOperator.partial(
        task_id="send", ledger_conn_id="yxt_ledger", content="hi", template_id="{ANY_TEXT}", campaign_id="daily"
    ).expand(recipients=[{numbers_expr(300)}, {numbers_expr(300, start=300)}])
    # Runs after the shards (dag.test() picks among ready tasks in no fixed order).
    shards >> SendSmsOperator(task_id="other", ledger_conn_id="yxt_ledger", content="hi",
                              template_id="{ANY_TEXT}", campaign_id="daily/0",
                              recipients={numbers_expr(5, prefix="139")})
"""
    run = dag_files.run(source, "send_shared_id")
    states = task_states(run)
    # Each shard is its own campaign ("daily/0", "daily/1"): both sent in full.
    assert states["send[0]"] == "success" and states["send[1]"] == "success"
    assert {xcom_value(run, "send", i)["campaign_id"] for i in range(2)} == {"daily/0", "daily/1"}
    # Another task reusing a taken id fails instead of "resuming" someone else's plan.
    assert states["other"] == "failed"
    assert "was planned by another task" in task_logs.text()
    counts = accepted_numbers(sandbox)
    assert len(counts) == 600 and set(counts.values()) == {1}


def test_retry_sends_the_recorded_plan_when_the_source_changed(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    def source(start: int) -> str:
        return send_dag(
            "send_changed",
            f"recipients={numbers_expr(1200, start=start)}, content='hi', template_id='{ANY_TEXT}', "
            "campaign_id='changed'",
        )

    dag_files.run(source(0), "send_changed")
    rerun = dag_files.run(source(600), "send_changed")  # half the audience is new now
    assert task_states(rerun) == {"send": "success"}
    assert xcom_value(rerun, "send")["sent"] == 0
    assert "changed since campaign changed was planned" in task_logs.text()
    counts = accepted_numbers(sandbox)
    assert set(counts) == {f"138{i:08d}" for i in range(1200)} and set(counts.values()) == {1}


def test_recipients_from_object_storage_path(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: object
) -> None:
    csv_path = f"{tmp_path}/audience.csv"
    with open(csv_path, "w", encoding="utf-8") as handle:
        handle.write("mobile,name\n" + "".join(f"135{i:08d},客户{i}\n" for i in range(50)))
    run = dag_files.run(
        send_dag(
            "send_objstore",
            f"recipients_file=ObjectStoragePath('file://{csv_path}'), content='{{{{ name }}}}好', "
            f"template_id='{ANY_TEXT}'",
            preamble="from airflow.sdk import ObjectStoragePath",
        ),
        "send_objstore",
    )
    assert task_states(run) == {"send": "success"}
    texts = {n: r.content for r in sandbox.accepted() for n in r.numbers}
    assert len(texts) == 50 and texts["13500000007"] == "客户7好"
