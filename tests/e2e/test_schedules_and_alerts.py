"""The examples on the real scheduler: scheduled daily reminders, alerts on retry and failure, a missed deadline.

One set of components (scheduler, DAG processor, triggerer, API server) serves the module:

- ``dags/yxt_daily_reminders.py``, its start date moved to two evenings ago: the scheduler
  catches up and runs it for two logical dates (``scheduled`` runs, not manual ones), each
  sending its own day's campaign once;
- ``dags/yxt_alerting.py``: the failing task with one retry sends the texts its notifiers
  promise (the sandbox's accepted log is the witness), and the DAG's deadline alert is
  delivered through ``async_notify`` in the triggerer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from tests.e2e.real_airflow import RealAirflow, running_airflow, sandbox_connection_json
from tests.fixtures.tasks import FULL_MOBILE
from yxt_provider.sandbox import SandboxServer, run_sandbox

pytestmark = pytest.mark.slow

DAGS = Path(__file__).resolve().parents[2] / "dags"
OVERALL_TIMEOUT = 240.0
ONCALL = ("13800000001", "13800000002")
LEAD = ("13900000009",)


def two_evenings_ago() -> pendulum.DateTime:
    """The earlier of the last two 18:00 (Beijing) cron times: a start date with exactly two runs due."""
    now = pendulum.now("Asia/Shanghai")
    latest = now.replace(hour=18, minute=0, second=0, microsecond=0)
    if latest > now:
        latest = latest.subtract(days=1)
    return latest.subtract(days=1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def start() -> pendulum.DateTime:
    return two_evenings_ago()


@pytest.fixture(scope="module")
def real_airflow(
    tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer, start: pendulum.DateTime
) -> Iterator[RealAirflow]:
    root = tmp_path_factory.mktemp("schedules_e2e")
    reminders = (
        (DAGS / "yxt_daily_reminders.py")
        .read_text()
        .replace(
            'pendulum.datetime(2026, 11, 30, tz="Asia/Shanghai")',
            f'pendulum.datetime({start.year}, {start.month}, {start.day}, 18, tz="Asia/Shanghai")',
        )
    )
    assert "18, tz=" in reminders, "the example's start date moved: update this test"
    dags = {"yxt_daily_reminders.py": reminders, "yxt_alerting.py": (DAGS / "yxt_alerting.py").read_text()}
    ledger = f"sqlite:///{root / 'airflow_home' / 'yxt_ledger.db'}"
    env = {
        "AIRFLOW_CONN_YXT_LEDGER": json.dumps(
            {"conn_type": "sqlite", "host": ledger.removeprefix("sqlite:///")}
        )
    }
    with running_airflow(root, dags, sandbox_connection_json(sandbox), OVERALL_TIMEOUT, env) as components:
        components.wait_for("the components to be healthy", components.healthy)
        for dag_id in ("yxt_daily_reminders", "yxt_alerting"):
            components.wait_for(
                f"DAG {dag_id} to be parsed", lambda d=dag_id: components.api("GET", f"/dags/{d}").ok
            )
        yield components


def finished_runs(real_airflow: RealAirflow, dag_id: str, count: int) -> list[dict[str, object]]:
    def done() -> list[dict[str, object]] | None:
        runs = real_airflow.get(f"/dags/{dag_id}/dagRuns?order_by=logical_date")["dag_runs"]
        over = [run for run in runs if run["state"] in ("success", "failed")]
        return over if len(over) >= count else None

    return real_airflow.wait_for(f"{count} finished runs of {dag_id}", done, interval=0.5)  # type: ignore[no-any-return]


def xcom(real_airflow: RealAirflow, dag_id: str, run_id: object, task_id: str) -> object:
    response = real_airflow.api(
        "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
    )
    assert response.ok, response.text
    value = response.json()["value"]
    return json.loads(value) if isinstance(value, str) else value


def test_scheduled_daily_reminders_for_two_logical_dates(
    real_airflow: RealAirflow, sandbox: SandboxServer, start: pendulum.DateTime
) -> None:
    assert real_airflow.api("PATCH", "/dags/yxt_daily_reminders", json={"is_paused": False}).ok
    runs = finished_runs(real_airflow, "yxt_daily_reminders", 2)
    assert [run["run_type"] for run in runs] == ["scheduled", "scheduled"]
    assert [run["state"] for run in runs] == ["success", "success"], runs
    days = [start.to_date_string(), start.add(days=1).to_date_string()]
    summaries = [xcom(real_airflow, "yxt_daily_reminders", run["dag_run_id"], "remind") for run in runs]
    assert [s["campaign_id"] for s in summaries] == [f"reminders-{day}" for day in days]  # type: ignore[index]
    # The day after each logical date; a Sunday would have nobody (the clinic is closed).
    expected = [0 if start.add(days=n + 1).day_of_week == pendulum.SUNDAY else 20 for n in range(2)]
    assert [s["sent"] for s in summaries] == expected  # type: ignore[index]
    reminders = Counter(n for r in sandbox.accepted() if "请准时到达" in r.content for n in r.numbers)
    assert sum(reminders.values()) == sum(expected) and set(reminders.values()) <= {1}


def test_alerts_on_retry_and_failure_and_a_missed_deadline_from_the_triggerer(
    real_airflow: RealAirflow, sandbox: SandboxServer
) -> None:
    assert real_airflow.api("PATCH", "/dags/yxt_alerting", json={"is_paused": False}).ok
    response = real_airflow.api(
        "POST", "/dags/yxt_alerting/dagRuns", json={"logical_date": None, "conf": {"slow_seconds": 30}}
    )
    assert response.ok, response.text
    (run,) = finished_runs(real_airflow, "yxt_alerting", 1)
    tis = real_airflow.get(f"/dags/yxt_alerting/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
    assert {ti["task_id"]: ti["state"] for ti in tis} == {
        "load_partner_file": "failed",
        "slow_report": "success",
    }

    def alerts() -> Counter[tuple[tuple[str, ...], str]] | None:
        sent: Counter[tuple[tuple[str, ...], str]] = Counter()
        for request in sandbox.accepted():
            if request.content.startswith("【Airflow】yxt_alerting"):
                kind = (
                    "retry"
                    if "将重试" in request.content
                    else "deadline"
                    if "未按时完成" in request.content
                    else "failure"
                )
                sent[(request.numbers, kind)] += 1
        return sent if sent.get((ONCALL, "deadline")) else None

    sent = real_airflow.wait_for("the deadline alert", alerts, interval=0.5)
    # Exactly what the settings promise: on-call gets the retry, the failure and the missed
    # deadline; the team lead (final_failure_only) the final failure only; nothing twice.
    assert sent == Counter(
        {(ONCALL, "retry"): 1, (ONCALL, "failure"): 1, (LEAD, "failure"): 1, (ONCALL, "deadline"): 1}
    )

    logs = {path: path.read_text(errors="replace") for path in real_airflow.log_paths()}
    triggerer = next(text for path, text in logs.items() if path.name == "triggerer.log")
    assert "Alert SMS for yxt_alerting (deadline) sent" in triggerer  # async_notify ran in the triggerer
    leaked = {
        str(path): FULL_MOBILE.findall(text)[:3] for path, text in logs.items() if FULL_MOBILE.search(text)
    }
    assert not leaked, f"full phone numbers in the logs: {leaked}"
