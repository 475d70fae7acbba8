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
