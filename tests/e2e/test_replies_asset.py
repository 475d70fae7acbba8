"""A reply injected into the sandbox starts a run of ``dags/yxt_replies.py`` on the real scheduler.

The asset watcher's ``YxtRepliesTrigger`` runs in the real triggerer, stores and confirms the
reply, and updates the asset; the scheduler starts the DAG; its task takes the reply from the
ledger and marks the appointment confirmed. Everything is observed through the REST API and
the ledger file; no full phone number may appear in any log.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.e2e.real_airflow import RealAirflow, running_airflow, sandbox_connection_json
from tests.fixtures.tasks import FULL_MOBILE
from yxt_provider.sandbox import SandboxServer, run_sandbox

pytestmark = pytest.mark.slow

DAG_ID = "yxt_replies"
EXAMPLE = Path(__file__).resolve().parents[2] / "dags" / "yxt_replies.py"
NUMBER = "13800000001"
OVERALL_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def real_airflow(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Iterator[RealAirflow]:
    # The example as shipped, polling every second instead of five (a test should not idle).
    source = EXAMPLE.read_text().replace("poll_interval=5", "poll_interval=1")
    with running_airflow(
        tmp_path_factory.mktemp("replies_e2e"), {"yxt_replies.py": source}, sandbox_connection_json(sandbox),
        OVERALL_TIMEOUT,
    ) as components:  # fmt: skip
        yield components


def runs(real_airflow: RealAirflow) -> list[dict[str, object]]:
    return list(real_airflow.get(f"/dags/{DAG_ID}/dagRuns?order_by=start_date")["dag_runs"])


def wait_for_run(real_airflow: RealAirflow, number: int) -> dict[str, object]:
    """The ``number``-th run (1-based) of the DAG, once finished."""

    def finished() -> dict[str, object] | None:
        done = [run for run in runs(real_airflow) if run["state"] in ("success", "failed")]
        return done[number - 1] if len(done) >= number else None

    run = real_airflow.wait_for(f"run {number} of {DAG_ID}", finished, interval=0.2)
    if run["state"] != "success":
        real_airflow.fail(f"run {run['dag_run_id']} ended {run['state']}")
    assert run["run_type"] == "asset_triggered", run
    return run


def handled(real_airflow: RealAirflow, run: dict[str, object]) -> object:
    path = f"/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/handle_replies/xcomEntries/return_value"
    response = real_airflow.api("GET", path)
    assert response.ok, response.text
    value = response.json()["value"]
    return json.loads(value) if isinstance(value, str) else value


def started_after(run: dict[str, object], moment: datetime) -> float:
    return (datetime.fromisoformat(str(run["start_date"]).replace("Z", "+00:00")) - moment).total_seconds()


def test_a_reply_starts_the_replies_dag_which_confirms_the_appointment(
    real_airflow: RealAirflow, sandbox: SandboxServer, record_property: pytest.RecordProperty
) -> None:
    real_airflow.wait_for("the components to be healthy", real_airflow.healthy)
    real_airflow.wait_for(f"DAG {DAG_ID} to be parsed", lambda: real_airflow.api("GET", f"/dags/{DAG_ID}").ok)
    # Watchers run only for unpaused DAGs.
    unpaused_at = datetime.now().astimezone()
    response = real_airflow.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    assert response.ok, response.text
    assert runs(real_airflow) == []

    # Cold: the reply comes while the triggerer is still picking up the new watcher.
    sandbox.inject_reply("1069000012345", "1", user_number=NUMBER)
    first = wait_for_run(real_airflow, 1)
    assert handled(real_airflow, first) == {"handled": 1, "confirmed": 1}
    assert sandbox.counters()["replies"]["pending"] == 0  # stored, then confirmed, by the trigger

    # Warm: the watcher is running; this is the delay a reply sees in steady state.
    injected_at = datetime.now().astimezone()
    sandbox.inject_reply("1069000012345", "几点开门？", user_number="13800000002")
    second = wait_for_run(real_airflow, 2)
    assert handled(real_airflow, second) == {"handled": 1, "confirmed": 0}
    cold, warm = started_after(first, unpaused_at), started_after(second, injected_at)
    record_property("unpause_to_first_run_start_seconds", round(cold, 2))
    record_property("reply_to_run_start_seconds", round(warm, 2))
    print(f"unpause → first run started in {cold:.1f} s; a reply → its run started in {warm:.1f} s")

    engine = sa.create_engine(f"sqlite:///{real_airflow.home}/yxt_ledger.db")
    with engine.connect() as conn:
        confirmed = conn.execute(sa.text("SELECT phone FROM yxt_example_appointments")).scalars().all()
        stored = conn.execute(sa.text("SELECT count(*) FROM yxt_replies")).scalar_one()
    engine.dispose()
    assert confirmed == [NUMBER] and stored == 2

    leaked = {
        str(path): FULL_MOBILE.findall(path.read_text(errors="replace"))[:3]
        for path in real_airflow.log_paths()
        if FULL_MOBILE.search(path.read_text(errors="replace"))
    }
    assert not leaked, f"full phone numbers in the logs: {leaked}"
