"""The deferrable ``SmsDeliverySensor`` on real Airflow: scheduler, DAG processor, triggerer, API server.

``dag.test()`` runs a trigger inline in the test process; this test proves the real thing:
the sensor task defers (its task instance is seen in state ``deferred``), the triggerer runs
``SmsDeliveryTrigger`` until the sandbox gateway's receipts arrive, and the task resumes on a
worker with the right result. Everything is driven and observed through the REST API.

Each component runs in its own session (``start_new_session``: setsid) with LocalExecutor on
SQLite in a fresh ``AIRFLOW_HOME``; teardown SIGTERMs, then SIGKILLs, every process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deadline:
    """One time budget shared by every wait of the test."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() >= self.end


class RealAirflow:
    """Airflow's components as subprocesses of one fresh ``AIRFLOW_HOME``, and a REST client for them."""

    COMPONENTS: ClassVar[dict[str, list[str]]] = {
        "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1"],
        "scheduler": ["scheduler", "--skip-serve-logs"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer", "--skip-serve-logs"],
    }

    def __init__(self, home: Path, log_dir: Path, yxt_connection: str, deadline: Deadline) -> None:
        self.home = home
        self.log_dir = log_dir
        self.deadline = deadline
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.session = requests.Session()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                # The default pre-forks 32 LocalExecutor workers (~1.5 GB).
                "AIRFLOW__CORE__PARALLELISM": "4",
                # With the default 5 s, a deferrable task whose trigger fires within a few seconds
                # can be failed by a heartbeat race (apache/airflow#72716, #71580).
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                "AIRFLOW__API__BASE_URL": self.base_url,
                # SimpleAuthManager: every request to the API is an admin's (loopback only).
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API_AUTH__JWT_SECRET": "yxt-e2e-" + "0123456789abcdef" * 4,
                "AIRFLOW_CONN_YXT_DEFAULT": yxt_connection,
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env = env

    # -- processes --------------------------------------------------------------------------------

    def migrate(self) -> None:
        with open(self.log_dir / "db-migrate.log", "wb") as log:
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.home,
                timeout=max(1.0, self.deadline.end - time.monotonic()),
            )

    def start(self) -> None:
        for name, args in self.COMPONENTS.items():
            argv = [sys.executable, "-m", "airflow", *(a.format(port=self.port) for a in args)]
            with open(self.log_dir / f"{name}.log", "wb") as log:
                self.processes[name] = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.home,
                    start_new_session=True,  # setsid: one process group per component
                )

    def stop(self) -> None:
        """SIGTERM every process group, give them a few seconds, then SIGKILL what is left."""
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGTERM)
        # The scheduler, DAG processor and triggerer exit within a second; the API server's
        # leader process does not always, so its group is killed below.
        grace = time.monotonic() + 3.0
        for proc in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, grace - time.monotonic()))
        # Also the group's other members (executor workers, task supervisors) when the leader is gone.
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5.0)
        self.session.close()

    def log_paths(self) -> list[Path]:
        """The components' own logs and every file Airflow wrote under ``AIRFLOW_HOME/logs``."""
        return sorted(self.log_dir.glob("*.log")) + sorted(
            p for p in (self.home / "logs").rglob("*") if p.is_file()
        )

    def log_tails(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {path.name} (last {lines} lines) -----\n" + "\n".join(tail))
        return "\n".join(parts)

    # -- waiting ----------------------------------------------------------------------------------

    def fail(self, why: str) -> None:
        pytest.fail(f"{why}\n{self.log_tails()}", pytrace=False)

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                self.fail(f"airflow {name} exited with code {proc.returncode}")

    def wait_for(self, what: str, probe: Any, interval: float = 0.25) -> Any:
        """Call ``probe()`` until it returns something truthy; fail with the logs when the budget is spent."""
        while True:
            self.check_alive()
            try:
                result = probe()
            except requests.RequestException:
                result = None
            if result:
                return result
            if self.deadline.expired():
                self.fail(f"timed out ({self.deadline.seconds:.0f} s budget) waiting for {what}")
            time.sleep(interval)

    # -- REST -------------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.base_url}/api/v2{path}", timeout=10, **kwargs)

    def get(self, path: str) -> Any:
        """GET as JSON; an error status raises ``requests.HTTPError`` (a probe then tries again)."""
        response = self.api("GET", path)
        response.raise_for_status()
        return response.json()

    def healthy(self) -> bool:
        health = self.get("/monitor/health")
        components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
        return all((health.get(c) or {}).get("status") == "healthy" for c in components)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the leader's pid is the group id (start_new_session)


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
    home = tmp_path / "airflow_home"
    (home / "dags").mkdir(parents=True)
    (home / "dags" / f"{DAG_ID}.py").write_text(textwrap.dedent(DAG_SOURCE))
    connection = json.dumps(
        {
            "conn_type": "yxt",
            "host": sandbox.base_url,
            "login": "demo_app",
            "password": "s3cr3t",
            "extra": {"sp_code": "100001"},
        }
    )
    components = RealAirflow(home, tmp_path, connection, Deadline(OVERALL_TIMEOUT))
    try:
        components.migrate()
        components.start()
        yield components
    finally:
        components.stop()


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
