"""DAG file sources for operator tests (``dag.test()`` needs real files in the DAGs folder)."""

from __future__ import annotations


def send_dag(dag_id: str, operator_kwargs: str, *, retries: int = 0, preamble: str = "") -> str:
    """A DAG with one ``SendSmsOperator`` task ``send``; ``operator_kwargs`` is Python source."""
    return f"""
import datetime
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.sms import SendSmsOperator
{preamble}

with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False,
         default_args={{"retries": {retries}, "retry_delay": datetime.timedelta(seconds=0)}}):
    SendSmsOperator(task_id="send", ledger_conn_id="yxt_ledger", {operator_kwargs})
"""


def numbers_expr(count: int, prefix: str = "138", start: int = 0) -> str:
    """Python source for ``count`` distinct mobile numbers."""
    return f'[f"{prefix}{{i:08d}}" for i in range({start}, {start + count})]'
