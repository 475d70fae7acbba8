"""Staging and production on one gateway account: two Airflow homes, two ledgers, one sandbox.

Both run the same DAG for the same logical date with the same campaign id
(``reminders-{{ ds }}``). Serials mix in each ledger's random identity: both deployments'
messages are accepted, each once, and a re-run within one home finds its own plan and
serials and sends nothing again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fixtures.airflow import sandbox_connection
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxServer

DAG_ID = "yxt_two_homes"
DAG_SOURCE = f"""
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.sms import SendSmsOperator

with DAG({DAG_ID!r}, schedule="@daily", start_date=pendulum.datetime(2026, 11, 1), catchup=False):
    SendSmsOperator(task_id="send", content="【诊所】明天门诊照常", template_id="1000000000001",
                    recipients=[f"138{{i:08d}}" for i in range(1500)], campaign_id="reminders-{{{{ ds }}}}")
"""
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def make_home(root: Path, name: str, sandbox: SandboxServer) -> dict[str, str]:
    home = root / name
    (home / "dags").mkdir(parents=True)
    (home / "dags" / "two_homes.py").write_text(DAG_SOURCE)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_YXT_DEFAULT": sandbox_connection(sandbox.base_url),
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=120)
    return env


def dags_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, "dags", "test", DAG_ID, "2026-12-01"], env=env, capture_output=True, text=True, timeout=180
    )


def serials(env: dict[str, str]) -> set[str]:
    ledger = Ledger.from_url(f"sqlite:///{env['AIRFLOW_HOME']}/yxt_ledger.db")
    try:
        return {batch.serial_number for batch in ledger.iter_batches("reminders-2026-12-01")}
    finally:
        ledger.dispose()


def test_two_homes_same_dag_same_date_both_send_once(sandbox: SandboxServer, tmp_path: Path) -> None:
    with ThreadPoolExecutor(2) as pool:
        staging, production = pool.map(
            lambda name: make_home(tmp_path, name, sandbox), ["staging", "production"]
        )
        first = list(pool.map(dags_test, [staging, production]))
    for result in first:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    counts = Counter(n for request in sandbox.accepted() for n in request.numbers)
    # Each recipient got each deployment's message exactly once.
    assert len(counts) == 1500 and set(counts.values()) == {2}
    assert sandbox.counters()["requests"]["send"].get("15", 0) == 0  # no collision, no failure
    staging_serials, production_serials = serials(staging), serials(production)
    assert len(staging_serials) == len(production_serials) == 2
    assert not staging_serials & production_serials

    # A re-run in one home re-uses its serials: the gateway sees nothing new.
    again = dags_test(staging)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert serials(staging) == staging_serials
    assert Counter(n for request in sandbox.accepted() for n in request.numbers) == counts
