"""The deferrable ``SmsDeliverySensor`` on real Airflow: scheduler, DAG processor, triggerer, API server.

``dag.test()`` runs a trigger inline in the test process; this test proves the real thing:
the sensor task defers (its task instance is seen in state ``deferred``), the triggerer runs
``SmsDeliveryTrigger`` until the sandbox gateway's receipts arrive, and the task resumes on a
worker with the right result. Everything is driven and observed through the REST API.

Each component runs in its own session (``start_new_session``: setsid) with LocalExecutor on
SQLite in a fresh ``AIRFLOW_HOME``; teardown SIGTERMs, then SIGKILLs, every process group.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.real_airflow import RealAirflow, running_airflow, sandbox_connection_json
from tests.fixtures.tasks import FULL_MOBILE
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxConfig, SandboxServer, run_sandbox

pytestmark = pytest.mark.slow

DAG_ID = "yxt_e2e_real_triggerer"
RECIPIENTS = 50
# Every wait of the test (start-up, parsing, the run) must end within this many seconds.
OVERALL_TIMEOUT = 180.0
# Receipts become readable this long after the send is accepted: longer than the worker needs
# to start the sensor task (so the sensor finds them missing and defers), short enough to keep
# the test quick.
RECEIPT_DELAY = 6.0
REPORT_KEYS = ("sent", "delivered", "failed", "failed_by_code", "pending")

DAG_SOURCE = f"""
import pendulum
from airflow.sdk import DAG

from yxt_provider.operators.sms import SendSmsOperator
from yxt_provider.sensors.delivery import SmsDeliverySensor

with DAG({DAG_ID!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    send = SendSmsOperator(
        task_id="send",
        template_id="1000000000001",
        content="hi",
        recipients=[f"138{{i:08d}}" for i in range({RECIPIENTS})],
    )
    wait = SmsDeliverySensor(
        task_id="wait",
        campaign_id=send.output,
        condition="all_final",
        deferrable=True,
        poke_interval=1,
        timeout=120,
    )
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    config = SandboxConfig(
        receipt_delay=RECEIPT_DELAY,  # the sensor finds receipts missing and must wait
        receipt_fail_share=0.1,
        receipt_missing_share=0.0,  # a receipt that never comes would block "all_final"
        report_page_size=20,
        seed=2026,
    )
    with run_sandbox(config) as server:
        yield server


@pytest.fixture
def real_airflow(tmp_path: Path, sandbox: SandboxServer) -> Iterator[RealAirflow]:
    dags = {f"{DAG_ID}.py": textwrap.dedent(DAG_SOURCE)}
    with running_airflow(tmp_path, dags, sandbox_connection_json(sandbox), OVERALL_TIMEOUT) as components:
        yield components


def test_deferrable_sensor_defers_to_the_real_triggerer_and_resumes(
    real_airflow: RealAirflow, sandbox: SandboxServer
) -> None:
    real_airflow.wait_for(
        "the API server, scheduler, triggerer and DAG processor to be healthy", real_airflow.healthy
    )
    real_airflow.wait_for(f"DAG {DAG_ID} to be parsed", lambda: real_airflow.api("GET", f"/dags/{DAG_ID}").ok)

    response = real_airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    assert response.ok, response.text
    response = real_airflow.api("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None})
    assert response.ok, response.text
    run_id = response.json()["dag_run_id"]
    run_path = f"/dags/{DAG_ID}/dagRuns/{run_id}"

    # Every state the sensor's task instance is seen in, in order (repeats collapsed).
    sensor_states: list[str | None] = []

    def run_finished() -> str | None:
        tis = real_airflow.get(f"{run_path}/taskInstances")["task_instances"]
        state = next((ti["state"] for ti in tis if ti["task_id"] == "wait"), None)
        if not sensor_states or sensor_states[-1] != state:
            sensor_states.append(state)
        run_state = real_airflow.get(run_path)["state"]
        return run_state if run_state in ("success", "failed") else None

    run_state = real_airflow.wait_for(f"run {run_id} to finish", run_finished, interval=0.2)
    tis = real_airflow.get(f"{run_path}/taskInstances")["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in tis}
    if run_state != "success" or states != {"send": "success", "wait": "success"}:
        real_airflow.fail(f"run {run_id} ended {run_state}: {states}; sensor states seen: {sensor_states}")

    # The sensor really deferred: its task instance sat in "deferred" while the triggerer waited.
    assert "deferred" in sensor_states, sensor_states
    assert sensor_states[-1] == "success"

    # ...and resumed on a worker with the trigger's event: the result matches the gateway's truth.
    response = real_airflow.api("GET", f"{run_path}/taskInstances/wait/xcomEntries/return_value")
    assert response.ok, response.text
    result = response.json()["value"]
    if isinstance(result, str):
        result = json.loads(result)
    assert result["outcome"] == "met" and result["condition"] == "all_final"
    assert result["sent"] == RECIPIENTS and result["pending"] == 0
    assert result["delivered"] + result["failed"] == result["sent"]
    ledger = Ledger.from_url(f"sqlite:///{real_airflow.home}/yxt_ledger.db")
    try:
        serials = {batch.serial_number for batch in ledger.iter_batches(result["campaign_id"])}
    finally:
        ledger.dispose()
    assert serials
    expected = sandbox.expected_delivery(serials)
    expected["failed_by_code"] = {str(code): n for code, n in expected["failed_by_code"].items()}
    assert {key: result[key] for key in REPORT_KEYS} == expected
    assert expected["failed"] > 0  # the fail share is exercised, not only deliveries

    # The triggerer ran the trigger (it wrote the trigger's own log next to the task's), and the
    # resumption is the trigger's: execute_complete logged the event it got.
    logs = {path: path.read_text(errors="replace") for path in real_airflow.log_paths()}
    sensor_paths = [path for path in logs if "task_id=wait" in str(path)]
    assert any(".trigger." in path.name for path in sensor_paths), sensor_paths
    sensor_logs = "\n".join(logs[path] for path in sensor_paths)
    assert "Deferring: the triggerer waits for campaign" in sensor_logs, sensor_logs[-3000:]
    assert "Trigger finished after" in sensor_logs and "(met)" in sensor_logs, sensor_logs[-3000:]

    # Privacy: no full mobile number in any component log or task log.
    leaked = {
        str(path): FULL_MOBILE.findall(text)[:3] for path, text in logs.items() if FULL_MOBILE.search(text)
    }
    assert not leaked, f"full phone numbers in the logs: {leaked}"
