"""After the sensor gave up: FetchReceiptsOperator still settles the ledger; the report task shows it."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.tasks import TaskLogs
from tests.receipts.conftest import receipts_outstanding
from tests.sensors.conftest import delivery_dag
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer

FETCH_DAG = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.receipts import FetchReceiptsOperator

with DAG("fetch_late", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    FetchReceiptsOperator(task_id="fetch", ledger_conn_id="yxt_ledger", max_pages=1000, max_seconds=30)
"""


def test_receipts_after_the_sensor_gave_up_still_reach_the_ledger_and_the_report(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, task_logs: TaskLogs, tmp_path: Path
) -> None:
    # Receipts come 4 s after sending; the sensor gives up after 0.5 s and succeeds anyway.
    sandbox.configure(receipt_delay=4.0, receipt_fail_share=0.25, report_page_size=30, seed=6)
    csv_path = tmp_path / "early.csv"
    source = delivery_dag(
        "late_receipts",
        count=150,
        sensor_kwargs="deferrable=False, poke_interval=0.2, timeout=0.5, on_timeout='succeed'",
        report=True,
    )
    run = dag_files.run(
        source.replace('params={"csv": ""}', f'params={{"csv": "{csv_path}"}}'), "late_receipts"
    )
    assert task_states(run) == {"send": "success", "wait": "success", "report": "success"}
    assert xcom_value(run, "wait")["outcome"] == "timeout"
    early = xcom_value(run, "report")
    assert (early["pending"], early["delivered"], early["csv_path"]) == (150, 0, str(csv_path))
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # The CSV is the user's data file: full numbers, one row per recipient, in planned order.
    assert [row["phone"] for row in rows] == [f"138{i:08d}" for i in range(150)]
    assert {row["status"] for row in rows} == {"sent"}

    deadline = time.monotonic() + 20
    while sandbox.counters()["receipts"]["pending"]:  # wait until the gateway has them ready
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fetch = dag_files.run(FETCH_DAG, "fetch_late")
    assert task_states(fetch) == {"fetch": "success"}
    counts = xcom_value(fetch, "fetch")
    assert counts["read"] == counts["matched"] == 150 and counts["unmatched"] == 0
    assert counts["pages"] == 5 and counts["stopped"] == "exhausted"
    assert receipts_outstanding(sandbox) == 0

    ledger = Ledger.from_url(sqlite_ledger)
    report = ledger.delivery_report(early["campaign_id"])
    failed = sum(1 for t in sandbox.truth() if t.result not in (0, None))
    assert (report.delivered, report.failed, report.pending) == (150 - failed, failed, 0)
    ledger.dispose()
    logs = task_logs.text()
    assert "Read 150 receipts in 5 pages" in logs
    assert "Wrote 150 recipient rows" in logs
