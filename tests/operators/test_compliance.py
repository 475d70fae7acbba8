"""Compliance through Airflow (dag.test(), sandbox over HTTP): opt-outs, windows that defer, marketing, caps."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pendulum
import pytest
import requests

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.tasks import TaskLogs
from tests.operators.dag_sources import numbers_expr, send_dag
from yxt_provider.ledger import Ledger
from yxt_provider.operators.opt_outs import ManageOptOutsOperator
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sandbox import SandboxServer

ACCESS_NUMBER = "1069000012345"
MARKETING_TEXT = "【XX商城】会员日满200减30，回复TD退订"

OPT_OUT_THEN_SEND = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.replies import FetchRepliesOperator
from yxt_provider.operators.sms import SendSmsOperator

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    fetch = FetchRepliesOperator(task_id="fetch", ledger_conn_id="yxt_ledger")
    send = SendSmsOperator(task_id="send", ledger_conn_id="yxt_ledger", recipients={numbers},
                           content={content!r}, template_id="1000000000001", {extra})
    fetch >> send
"""


def accepted(sandbox: SandboxServer) -> Counter[str]:
    return Counter(n for request in sandbox.accepted() for n in request.numbers)


def test_an_opt_out_reply_makes_the_next_campaign_skip_the_number(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    # The refusal arrives through the sandbox's control plane, as a recipient's phone would send it.
    response = requests.post(
        f"{sandbox.base_url}/_sandbox/replies",
        data=json.dumps({"callMdn": ACCESS_NUMBER, "content": "退订", "userNumber": "13800000002"}),
        timeout=5,
    )
    response.raise_for_status()
    source = OPT_OUT_THEN_SEND.format(
        dag_id="promo",
        numbers=numbers_expr(5),
        content=MARKETING_TEXT,
        extra="marketing=True, send_window='00:00-24:00'",
    )
    run = dag_files.run(source, "promo")
    assert task_states(run) == {"fetch": "success", "send": "success"}
    assert xcom_value(run, "fetch")["opted_out"] == 1
    summary = xcom_value(run, "send")
    assert (summary["sent"], summary["opted_out"], summary["planned"]) == (4, 1, 4)
    assert "13800000002" not in accepted(sandbox)
    assert "退订" not in task_logs.text().replace("回复TD退订", "")

    transactional = OPT_OUT_THEN_SEND.format(
        dag_id="notice", numbers=numbers_expr(5), content="您的账户于今日登录", extra="respect_opt_out=False"
    )
    notice = dag_files.run(transactional, "notice")
    assert xcom_value(notice, "send")["sent"] == 5 and accepted(sandbox)["13800000002"] == 1


def test_marketing_preflight_fails_the_task_and_sends_nothing(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    source = send_dag(
        "no_signature",
        f"recipients={numbers_expr(3)}, content='会员日满200减30', template_id='1000000000001', marketing=True, "
        "send_window='00:00-24:00'",
        retries=2,
    )
    run = dag_files.run(source, "no_signature")
    assert task_states(run) == {"send": "failed"}
    logs = task_logs.text()
    assert "lacks a 【signature】" in logs and "a way to refuse further messages (e.g. 回复TD退订)" in logs
    assert sandbox.accepted() == []
    assert xcom_value(run, "send")["status"] == "rejected"
    assert Ledger.from_url(sqlite_ledger).get_campaign(xcom_value(run, "send")["campaign_id"]) is None


WINDOW_DAG = """
import pendulum
from airflow.sdk import DAG, task
from yxt_provider.operators.sms import SendSmsOperator

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):

    @task
    def make_window():
        # Right before the send task starts: spans in seconds from now, in Beijing time.
        now = pendulum.now("UTC").set(microsecond=0).add(seconds=1)
        def span(start, end):
            local = now.in_timezone("Asia/Shanghai")
            return local.add(seconds=start).strftime("%H:%M:%S") + "-" + local.add(seconds=end).strftime("%H:%M:%S")
        spans = [span(a, b) for a, b in {spans}]
        return {{"window": "; ".join(spans), "now": now.isoformat()}}

    make_window() >> SendSmsOperator(
        task_id="send", ledger_conn_id="yxt_ledger", recipients=[f"138{{i:08d}}" for i in range({count})],
        content="提醒", template_id="1000000000001", batch_size=10, max_in_flight=2, max_requests_per_second=5,
        send_window="{{{{ ti.xcom_pull(task_ids='make_window')['window'] }}}}",
    )
"""


def window_start(run: object) -> datetime:
    moment = pendulum.parse(xcom_value(run, "make_window")["now"])
    assert isinstance(moment, datetime)
    return moment


def test_a_campaign_started_before_its_window_defers_and_sends_when_it_opens(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    run = dag_files.run(WINDOW_DAG.format(dag_id="waits", spans=[(3, 300)], count=30), "waits")
    assert task_states(run) == {"make_window": "success", "send": "success"}
    opens = window_start(run) + timedelta(seconds=3)
    summary = xcom_value(run, "send")
    assert (summary["status"], summary["sent"]) == ("sent", 30)
    logs = task_logs.text()
    assert "waiting (0 sent so far, 30 to go): deferring, holding no worker, until the send window" in logs
    assert "Pausing task as DEFERRED" in logs and "DateTimeTrigger" in logs
    # Nothing went out before the opening: every accepted request came after it.
    assert len(sandbox.accepted()) == 3 and all(
        r.accepted_at >= opens.timestamp() for r in sandbox.accepted()
    )


def test_a_campaign_crossing_the_window_end_pauses_and_resumes_each_recipient_once(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs
) -> None:
    # Open for 3 s, closed for 3 s, open again: 30 batches at 5 per second cannot finish in the first span.
    run = dag_files.run(WINDOW_DAG.format(dag_id="crosses", spans=[(-60, 3), (6, 300)], count=300), "crosses")
    assert task_states(run) == {"make_window": "success", "send": "success"}
    closes, reopens = window_start(run) + timedelta(seconds=3), window_start(run) + timedelta(seconds=6)
    # No batch started while the window was closed; only the two in flight at its end finished then.
    summary = xcom_value(run, "send")
    batches = Ledger.from_url(sqlite_ledger).iter_batches(summary["campaign_id"])
    started = [b.attempted_at for b in batches]
    assert all(at is not None and (at < closes or at >= reopens) for at in started)
    assert any(at < closes for at in started if at) and any(at >= reopens for at in started if at)
    in_gap = [r for r in sandbox.accepted() if closes.timestamp() <= r.accepted_at < reopens.timestamp()]
    assert len(in_gap) <= 2 and len(sandbox.accepted()) == 30
    sent = accepted(sandbox)
    assert len(sent) == 300 and set(sent.values()) == {1}
    assert " paused (" in task_logs.text() and "Pausing task as DEFERRED" in task_logs.text()
    assert (summary["status"], summary["sent"] + summary["skipped"]) == ("sent", 300)


def test_caps_skip_and_count_through_the_operator(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    first = dag_files.run(
        send_dag("cap_a", f"recipients={numbers_expr(5)}, content='a', template_id='1000000000001'"), "cap_a"
    )
    assert xcom_value(first, "send")["sent"] == 5
    source = send_dag(
        "cap_b",
        f"recipients={numbers_expr(10)}, content='b', template_id='1000000000001', frequency_cap='1/day'",
    )
    second = xcom_value(dag_files.run(source, "cap_b"), "send")
    assert (second["sent"], second["capped"]) == (5, 5)
    assert set(accepted(sandbox).values()) == {1}


def test_parse_time_errors_name_the_fix() -> None:
    with pytest.raises(ValueError, match="is not a window"):
        SendSmsOperator(
            task_id="s", recipients="13800000001", content="x", template_id="1", send_window="9-17"
        )
    with pytest.raises(ValueError, match="frequency_cap '3' is not a cap"):
        SendSmsOperator(
            task_id="s", recipients="13800000001", content="x", template_id="1", frequency_cap="3"
        )
    with pytest.raises(ValueError, match="marketing=True needs respect_opt_out=True"):
        SendSmsOperator(
            task_id="s",
            recipients="13800000001",
            content="x",
            template_id="1",
            marketing=True,
            respect_opt_out=False,
        )
    with pytest.raises(ValueError, match="needs add, remove or import_file"):
        ManageOptOutsOperator(task_id="o")


MANAGE_DAG = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.opt_outs import ManageOptOutsOperator

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    ManageOptOutsOperator(task_id="manage", ledger_conn_id="yxt_ledger", {kwargs})
"""


def test_manage_opt_outs_adds_removes_and_imports(
    dag_files: DagFiles, sqlite_ledger: str, tmp_path: Path, task_logs: TaskLogs
) -> None:
    legacy = tmp_path / "legacy_opt_outs.csv"
    legacy.write_bytes(
        "手机号码,备注\r\n13900000001,老系统\r\n13900000002,老系统\r\n12345,错号\r\n".encode("gbk")
    )
    run = dag_files.run(
        MANAGE_DAG.format(
            dag_id="manage_1",
            kwargs=f"add='13800000001, +86 138 0000 0002', import_file={str(legacy)!r}, import_encoding='gbk', "
            "note='asked by phone'",
        ),
        "manage_1",
    )
    counts = xcom_value(run, "manage")
    assert counts == {
        "added": 2,
        "imported": 2,
        "already_listed": 0,
        "removed": 0,
        "not_listed": 0,
        "invalid": 1,
    }
    ledger = Ledger.from_url(sqlite_ledger)
    listed = {"13800000001", "13800000002", "13900000001", "13900000002"}
    assert ledger.opted_out(listed | {"13800000003"}) == listed

    removed = dag_files.run(
        MANAGE_DAG.format(dag_id="manage_2", kwargs="remove=['13900000002', '13900000009']"), "manage_2"
    )
    assert xcom_value(removed, "manage")["removed"] == 1 and xcom_value(removed, "manage")["not_listed"] == 1
    assert ledger.opted_out(listed) == listed - {"13900000002"}

    typo = dag_files.run(
        MANAGE_DAG.format(dag_id="manage_3", kwargs="add='13800000005,1380000000'"), "manage_3"
    )
    assert task_states(typo) == {"manage": "failed"}
    assert "opt-out list unchanged" in task_logs.text() and "1380000000'" not in task_logs.text()
    assert ledger.opted_out({"13800000005"}) == set()
