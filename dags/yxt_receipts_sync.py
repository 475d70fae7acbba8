"""Example: drain the account's delivery receipts into the ledger every minute.

Receipts are a read-once queue shared by everything on the account: whoever reads a
receipt first owns it. This DAG keeps the ledger current even when no sensor is waiting,
so reports and later sensors find receipts already stored. One run at a time: a second
concurrent drain would be harmless (storing is idempotent) but pointless.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG

from yxt_provider.operators.receipts import FetchReceiptsOperator

# [START howto_operator_fetch_receipts]
with DAG(
    dag_id="yxt_receipts_sync",
    schedule=timedelta(minutes=1),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=5),
    tags=["yxt", "example"],
):
    FetchReceiptsOperator(
        task_id="fetch_receipts",
        max_seconds=45,  # leave the rest of the minute to the next run
        retries=2,
        retry_delay=timedelta(seconds=10),
        execution_timeout=timedelta(minutes=4),
    )
# [END howto_operator_fetch_receipts]
