"""The example DAGs in dags/ import cleanly and are wired as documented."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def bag() -> object:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS))


def test_no_import_errors(bag: object) -> None:
    assert bag.import_errors == {}  # type: ignore[attr-defined]
    assert {"yxt_batch_notification", "yxt_receipts_sync", "yxt_replies"} <= set(bag.dag_ids)  # type: ignore[attr-defined]


def test_receipts_sync_runs_every_minute_one_run_at_a_time(bag: object) -> None:
    dag = bag.dags["yxt_receipts_sync"]  # type: ignore[attr-defined]
    assert dag.max_active_runs == 1
    assert dag.timetable.delta == timedelta(minutes=1)
    (task,) = dag.tasks
    assert type(task).__name__ == "FetchReceiptsOperator"


def test_batch_notification_is_send_then_wait_then_report(bag: object) -> None:
    dag = bag.dags["yxt_batch_notification"]  # type: ignore[attr-defined]
    kinds = {task.task_id: type(task).__name__ for task in dag.tasks}
    assert kinds == {
        "patients": "_PythonDecoratedOperator",
        "send": "SendSmsOperator",
        "wait_for_delivery": "SmsDeliverySensor",
        "delivery_report": "SmsDeliveryReportOperator",
    }
    assert dag.get_task("wait_for_delivery").upstream_task_ids == {"send"}
    assert dag.get_task("delivery_report").upstream_task_ids == {"send", "wait_for_delivery"}
    assert dag.get_task("wait_for_delivery").deferrable is True


def test_replies_dag_runs_on_the_watched_asset(bag: object) -> None:
    dag = bag.dags["yxt_replies"]  # type: ignore[attr-defined]
    (asset,) = dag.timetable.asset_condition.objects
    (watcher,) = asset.watchers
    assert type(watcher.trigger).__name__ == "YxtRepliesTrigger"
    assert dag.max_active_runs == 1


def test_sharded_campaign_maps_the_send_in_the_gateway_pool(bag: object) -> None:
    dag = bag.dags["yxt_sharded_campaign"]  # type: ignore[attr-defined]
    send = dag.get_task("send")
    assert type(send).__name__ == "MappedOperator" and send.operator_name == "SendSmsOperator"
    assert send.partial_kwargs["pool"] == "yxt_gateway" and send.partial_kwargs["retries"] == 3
    assert send.partial_kwargs["ledger_conn_id"] == "yxt_ledger"
    assert set(send.expand_input.value) == {"recipients_sql"}
    wait, report = dag.get_task("wait_for_delivery"), dag.get_task("delivery_report")
    assert wait.deferrable is True and wait.upstream_task_ids == {"send"}
    assert wait.trigger_rule == "all_done" and report.trigger_rule == "all_done"
    assert report.upstream_task_ids == {"send", "wait_for_delivery"}
    assert dag.get_task("fill_customers").downstream_task_ids == {"send"}


EXAMPLES = sorted(path.name for path in DAGS.glob("*.py"))
PARSE_GUARD = """
import socket, sqlite3, sys, time
import airflow.sdk  # every DAG file pays this anyway
def refuse(*args, **kwargs):
    raise RuntimeError("network or database access at parse time")
socket.socket.connect = refuse
socket.create_connection = refuse
sqlite3.connect = refuse
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(sys.argv[1])
elapsed = time.perf_counter() - started
assert not bag.import_errors, bag.import_errors
assert bag.dag_ids, "no DAG in the file"
print(f"{elapsed:.3f}")
"""


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_parses_fast_without_network_or_database(name: str) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", PARSE_GUARD, str(DAGS / name)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    seconds = float(out.stdout.strip().splitlines()[-1])
    assert seconds < 1.0, f"{name} took {seconds:.2f} s to parse"


def test_every_example_starts_with_a_header_saying_what_it_shows() -> None:
    import ast

    for name in EXAMPLES:
        doc = ast.get_docstring(ast.parse((DAGS / name).read_text(encoding="utf-8")))
        assert doc and doc.startswith("Example:"), name


def test_the_parse_guard_catches_a_dag_that_connects(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad_dag.py"
    bad.write_text("import sqlite3\nsqlite3.connect('x.db')\nfrom airflow.sdk import DAG\nDAG('bad')\n")
    result = subprocess.run(
        [sys.executable, "-c", PARSE_GUARD, str(bad)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0 and "network or database access at parse time" in result.stderr


def test_sms_approval_branches_on_the_answer_and_the_responder_runs_on_replies(bag: object) -> None:
    dag = bag.dags["yxt_sms_approval"]  # type: ignore[attr-defined]
    approve = dag.get_task("approve_release")
    assert type(approve).__name__ == "SmsHITLBranchOperator"
    assert approve.options_mapping == {"发布": "publish", "推迟": "postpone"}
    assert approve.defaults == ["推迟"] and approve.response_timeout == timedelta(hours=4)
    assert [type(n).__name__ for n in approve.notifiers] == ["YxtSmsApprovalNotifier"]
    assert approve.downstream_task_ids == {"publish", "postpone"}
    responder = bag.dags["yxt_sms_approval_responder"]  # type: ignore[attr-defined]
    (asset,) = responder.timetable.asset_condition.objects
    assert asset.name == "yxt_replies"
    assert [type(t).__name__ for t in responder.tasks] == ["SmsApprovalResponderOperator"]
    assert responder.max_active_runs == 1
