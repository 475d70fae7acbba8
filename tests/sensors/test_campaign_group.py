"""Campaign groups in Airflow: a mapped send → one wait → one report (dag.test()), and the trigger with a list."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.no_leaks import LeakCheck, canary_secret, no_leaks  # noqa: F401 - fixtures
from tests.receipts.conftest import send_campaign
from tests.sensors.test_delivery_trigger import first_event, make_trigger
from yxt_provider.ledger import Ledger
from yxt_provider.operators.groups import campaign_group_in
from yxt_provider.sandbox import SandboxServer
from yxt_provider.triggers.delivery import SmsDeliveryTrigger

COUNTS = ("total", "sent", "delivered", "failed", "pending", "refused", "not_sent", "opted_out")
TRUTH = ("sent", "delivered", "failed", "failed_by_code", "pending")


@pytest.fixture
def sandbox_app_secret(canary_secret: str) -> str:  # noqa: F811 - the fixture imported above
    return canary_secret


def mapped_dag(dag_id: str, shards: list[list[str]], csv_path: Path, *, sensor_kwargs: str) -> str:
    """The issue's DAG: a mapped send, a sensor and a report, both with ``campaign_id=send.output``."""
    return f"""
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.report import SmsDeliveryReportOperator
from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sensors.delivery import SmsDeliverySensor

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    send = SendSmsOperator.partial(
        task_id="send", ledger_conn_id="yxt_ledger", template_id="1000000000001", content="您好，明天停水",
        batch_size=20,
    ).expand(recipients={shards!r})
    wait = SmsDeliverySensor(task_id="wait", campaign_id=send.output, ledger_conn_id="yxt_ledger",
                             {sensor_kwargs})
    report = SmsDeliveryReportOperator(task_id="report", campaign_id=send.output, ledger_conn_id="yxt_ledger",
                                       trigger_rule="all_done", csv_path={str(csv_path)!r})
    wait >> report
"""


def shard_numbers(shard: int, count: int) -> list[str]:
    return [f"139{shard:02d}{i:06d}" for i in range(count)]


def ledger_sums(ledger_url: str, campaign_ids: list[str]) -> dict[str, int]:
    ledger = Ledger.from_url(ledger_url)
    try:
        reports = [ledger.delivery_report(cid) for cid in campaign_ids]
    finally:
        ledger.dispose()
    return {name: sum(getattr(r, name) for r in reports) for name in COUNTS}


def truth(sandbox: SandboxServer, ledger_url: str, campaign_ids: list[str]) -> dict[str, Any]:
    ledger = Ledger.from_url(ledger_url)
    serials = frozenset(b.serial_number for cid in campaign_ids for b in ledger.iter_batches(cid))
    ledger.dispose()
    expected = sandbox.expected_delivery(serials)
    expected["failed_by_code"] = {str(k): v for k, v in expected["failed_by_code"].items()}
    return expected


def test_mapped_send_one_deferred_wait_one_report(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: Path, no_leaks: LeakCheck,  # noqa: F811
) -> None:  # fmt: skip
    sandbox.configure(receipt_delay=0.5, receipt_fail_share=0.2, fail_result=9, report_page_size=40, seed=14)
    shards = [shard_numbers(i, 50) for i in range(3)]
    csv_path = tmp_path / "group.csv"
    run = dag_files.run(
        mapped_dag(
            "group_deferred", shards, csv_path, sensor_kwargs="deferrable=True, poke_interval=0.3, timeout=30"
        ),
        "group_deferred",
    )

    assert task_states(run) == {
        "send[0]": "success", "send[1]": "success", "send[2]": "success", "wait": "success", "report": "success",
    }  # fmt: skip
    ids = [xcom_value(run, "send", i)["campaign_id"] for i in range(3)]
    assert ids == [f"group_deferred/{run.run_id}/send/{i}" for i in range(3)]
    waited, report = xcom_value(run, "wait"), xcom_value(run, "report")
    assert waited["outcome"] == "met" and waited["campaign_ids"] == ids == report["campaign_ids"]
    assert waited["campaign_id"] == report["campaign_id"] == f"group_deferred/{run.run_id}/send/*"
    # The report's totals are the ledger's per-shard sums and the gateway's ground truth.
    assert {name: report[name] for name in COUNTS} == ledger_sums(sqlite_ledger, ids)
    assert report["total"] == 150 and report["pending"] == 0 and report["missing_shards"] == []
    assert {name: report[name] for name in TRUTH} == truth(sandbox, sqlite_ledger, ids)
    assert report["failed"] > 10 and report["delivered_share"] == round(report["delivered"] / 150, 6)
    assert [s["total"] for s in report["shards"]] == [50, 50, 50]
    assert sum(s["delivered"] for s in report["shards"]) == report["delivered"]
    # The wait deferred once, with ids (not reports) in the trigger's kwargs.
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        kwargs = [
            dict(t.kwargs)
            for t in session.query(Trigger).all()
            if isinstance(t.kwargs.get("campaign_id"), list)
        ]
    assert [k["campaign_id"] for k in kwargs] == [ids]
    # One CSV: every shard's rows under its campaign id.
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["campaign_id"] for row in rows] == [cid for cid in ids for _ in range(50)]
    assert sum(row["outcome"] == "delivered" for row in rows) == report["delivered"]


def test_a_shard_refused_before_planning_is_named_and_not_waited_for(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: Path, no_leaks: LeakCheck,  # noqa: F811
) -> None:  # fmt: skip
    sandbox.configure(receipt_delay=0.2, seed=15)
    # Shard 1 has no valid recipient: SendSmsOperator refuses it before any plan, handing on its summary.
    shards = [shard_numbers(0, 30), ["not-a-number"], shard_numbers(2, 20)]
    run = dag_files.run(
        mapped_dag(
            "group_missing", shards, tmp_path / "g.csv",
            sensor_kwargs="deferrable=False, poke_interval=0.2, timeout=20, trigger_rule='all_done'",
        ),
        "group_missing",
    )  # fmt: skip

    states = task_states(run)
    assert states["send[1]"] == "failed" and states["wait"] == "success"
    assert states["report"] == "failed"  # it reported, then failed because a shard failed
    missing = f"group_missing/{run.run_id}/send/1"
    waited, report = xcom_value(run, "wait"), xcom_value(run, "report")
    for result in (waited, report):
        assert result["missing_shards"] == [missing]
        # The refused shard's counts are its summary's (a send refused before planning counts no invalid rows).
        assert (result["total"], result["sent"], result["pending"]) == (50, 50, 0)
        assert result["invalid"] == xcom_value(run, "send", 1)["invalid"]
        assert [s["status"] for s in result["shards"]] == ["sent", "not planned", "sent"]
        assert missing in result["error"]
    assert waited["outcome"] == "met"


def test_empty_list_fails_naming_the_parameter() -> None:
    with pytest.raises(AirflowFailException, match="campaign_id is an empty sequence"):
        campaign_group_in([], task=None, context=None)


def test_trigger_waits_for_a_group_in_one_event(sandbox: SandboxServer, sqlite_ledger: str) -> None:
    sandbox.configure(receipt_delay=0.3, receipt_fail_share=0.25, report_page_size=15, seed=16)
    ledger = Ledger.from_url(sqlite_ledger)
    ids = [f"c-group/{i}" for i in range(3)]
    for i, cid in enumerate(ids):
        send_campaign(ledger, sandbox.client(), cid, shard_numbers(i, 20 + 10 * i), batch_size=25, tag=40 + i)
    trigger = make_trigger(campaign_id=ids, deadline=time.time() + 20)

    classpath, kwargs = trigger.serialize()
    assert kwargs["campaign_id"] == ids and json.loads(json.dumps(kwargs)) == kwargs
    assert SmsDeliveryTrigger(**kwargs).serialize() == (classpath, kwargs)
    payload = first_event(trigger)

    assert (
        payload["status"] == "met"
        and payload["campaign_id"] == "c-group/*"
        and payload["campaign_ids"] == ids
    )
    assert payload["polls"] >= 2 and payload["ingested"]["matched"] == 90
    sums = {
        name: sum(getattr(ledger.delivery_report(cid), name) for cid in ids)
        for name in ("sent", "delivered", "failed", "pending")
    }
    assert {name: payload[name] for name in sums} == sums and payload["total"] == 90 and sums["pending"] == 0
    assert "c-group/*" in payload["message"]
    with pytest.raises(ValueError, match="empty list"):
        make_trigger(campaign_id=[])
    ledger.dispose()


def test_trigger_counts_a_given_up_shards_unsent_messages_as_settled(
    sandbox: SandboxServer, sqlite_ledger: str
) -> None:
    sandbox.configure(receipt_delay=0.2, seed=17)
    ledger = Ledger.from_url(sqlite_ledger)
    ids = ["c-given-up/0", "c-given-up/1"]
    send_campaign(ledger, sandbox.client(), ids[0], shard_numbers(0, 20), batch_size=10, tag=50)
    # The second shard's last try failed after its first batch: 10 of 30 will never be sent.
    send_campaign(
        ledger, sandbox.client(), ids[1], shard_numbers(1, 30), batch_size=10, tag=51, send_batches=1
    )
    waiting = make_trigger(campaign_id=ids, deadline=time.time() + 3)
    assert first_event(waiting)["status"] == "timeout"  # what the wait did before: hang to its timeout

    trigger = make_trigger(campaign_id=ids, settled_unsent=[ids[1]], deadline=time.time() + 20)
    classpath, kwargs = trigger.serialize()
    assert kwargs["settled_unsent"] == [ids[1]] and SmsDeliveryTrigger(**kwargs).serialize() == (
        classpath,
        kwargs,
    )
    payload = first_event(trigger)
    assert payload["status"] == "met" and (payload["sent"], payload["pending"]) == (30, 0)
    assert ledger.delivery_reports(ids)[ids[1]].not_sent == 20
    ledger.dispose()
