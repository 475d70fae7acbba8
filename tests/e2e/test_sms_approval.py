"""Approve by text message, end to end: real scheduler, DAG processor, triggerer and API server.

``dags/yxt_sms_approval.py`` as shipped (polling replies every second instead of five), with
real logins (SimpleAuthManager, passwords; the responder answers as the user ``sms-bridge``),
and two more DAGs: one answered in the UI (through the REST API) first, one left to time out.

- the approvers get the question by SMS, each open question with its own code;
- a reply from another number, an answer that matches no option and a bare answer while two
  questions are open leave the task waiting, each recorded in the ledger;
- a request answered in the UI first is not changed by a later SMS;
- the approver's ``A1`` resumes the task with the chosen option, the right branch runs, and
  Airflow shows the responder's user and the masked number;
- a timeout takes the default, as Airflow's own HITL does;
- no full phone number in any log.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.real_airflow import RealAirflow, running_airflow, sandbox_connection_json
from tests.fixtures.tasks import FULL_MOBILE
from yxt_provider.sandbox import SandboxServer, run_sandbox

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "dags" / "yxt_sms_approval.py"
APPROVER, STRANGER, SECOND_APPROVER = "13800000001", "13900000009", "13800000002"
ACCESS_NUMBER = "1069000012345"
ADMIN_PASSWORD, BRIDGE_PASSWORD = "admin-e2e-password", "bridge-e2e-password"
OVERALL_TIMEOUT = 300.0

IN_UI_DAG = f"""
import pendulum
from airflow.sdk import DAG, task
from yxt_provider.operators.approvals import SmsApprovalOperator

with DAG("approval_in_ui", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    approve = SmsApprovalOperator(
        task_id="approve", subject="扩容集群？", approvers="{APPROVER}", template_id="1000000000004"
    )

    @task
    def scale_out():
        return "scaled"

    approve >> scale_out()
"""

TIMEOUT_DAG = f"""
from datetime import timedelta
import pendulum
from airflow.sdk import DAG, task
from yxt_provider.operators.approvals import SmsApprovalOperator

with DAG("approval_times_out", schedule=None, start_date=pendulum.datetime(2026, 1, 1), catchup=False):
    approve = SmsApprovalOperator(
        task_id="approve", subject="删除旧分区？", approvers="{SECOND_APPROVER}", template_id="1000000000004",
        response_timeout=timedelta(seconds=8), defaults="Reject",
    )

    @task
    def drop_partitions():
        return "dropped"

    approve >> drop_partitions()
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


@pytest.fixture(scope="module")
def real_airflow(tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxServer) -> Iterator[RealAirflow]:
    root = tmp_path_factory.mktemp("sms_approval")
    passwords = root / "passwords.json"
    passwords.write_text(json.dumps({"admin": ADMIN_PASSWORD, "sms-bridge": BRIDGE_PASSWORD}))
    source = EXAMPLE.read_text().replace("poll_interval=5", "poll_interval=1")
    assert "poll_interval=1" in source
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,sms-bridge:user",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # The example's approvers come from this Variable (only admins set Variables).
        "AIRFLOW_VAR_RELEASE_APPROVERS": APPROVER,
        # The responder's connection: the API server it runs beside, as the user sms-bridge.
        "AIRFLOW_CONN_YXT_AIRFLOW_API": json.dumps(
            {"conn_type": "http", "host": "{base_url}", "login": "sms-bridge", "password": BRIDGE_PASSWORD}
        ),
    }
    with running_airflow(
        root,
        {"yxt_sms_approval.py": source, "approval_in_ui.py": IN_UI_DAG, "approval_times_out.py": TIMEOUT_DAG},
        sandbox_connection_json(sandbox), OVERALL_TIMEOUT, env,
    ) as components:  # fmt: skip
        components.wait_for("healthy components", components.healthy)
        components.log_in("admin", ADMIN_PASSWORD)
        yield components


def _ti(airflow: RealAirflow, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    return dict(airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))


def _waiting(airflow: RealAirflow, dag_id: str, run_id: str, task_id: str) -> bool:
    """Whether the task waits for input; a task that failed instead fails the test at once."""
    state = _ti(airflow, dag_id, run_id, task_id)["state"]
    if state in ("failed", "upstream_failed", "up_for_retry"):
        airflow.fail(f"{dag_id}.{task_id} ended {state} instead of waiting for input")
    return state == "awaiting_input"


def _hitl(airflow: RealAirflow, dag_id: str, run_id: str, task_id: str = "approve") -> dict[str, Any]:
    return dict(airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"))


class Responder:
    """The responder DAG's runs: inject a reply, wait for the run that handled it."""

    DAG_ID = "yxt_sms_approval_responder"

    def __init__(self, airflow: RealAirflow, sandbox: SandboxServer) -> None:
        self.airflow = airflow
        self.sandbox = sandbox
        self.seen = 0

    def finished_runs(self) -> list[dict[str, Any]]:
        runs = self.airflow.get(f"/dags/{self.DAG_ID}/dagRuns?order_by=start_date")["dag_runs"]
        return [r for r in runs if r["state"] in ("success", "failed")]

    def reply(self, number: str, text: str) -> dict[str, Any]:
        """Inject a reply; the responder's counts of the run that handled it."""
        self.sandbox.inject_reply(ACCESS_NUMBER, text, user_number=number)
        run = self.airflow.wait_for(
            f"the responder run after {text!r}",
            lambda: (runs := self.finished_runs())[self.seen :] and runs[-1],
        )
        self.seen = len(self.finished_runs())
        if run["state"] != "success":
            self.airflow.fail(f"responder run {run['dag_run_id']} ended {run['state']}")
        path = f"/dags/{self.DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/answer_approvals/xcomEntries/return_value"
        value = self.airflow.get(path)["value"]
        return json.loads(value) if isinstance(value, str) else dict(value)


def _ledger(airflow: RealAirflow) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{airflow.home / 'yxt_ledger.db'}")


def test_the_first_matching_sms_answer_wins(
    real_airflow: RealAirflow, sandbox: SandboxServer, record_property: pytest.RecordProperty
) -> None:
    airflow = real_airflow
    responder = Responder(airflow, sandbox)
    airflow.unpause(Responder.DAG_ID)
    release = airflow.trigger("yxt_sms_approval")
    in_ui = airflow.trigger("approval_in_ui")
    for dag_id, run_id, task_id in (
        ("yxt_sms_approval", release, "approve_release"),
        ("approval_in_ui", in_ui, "approve"),
    ):
        airflow.wait_for(
            f"{dag_id}.{task_id} waiting for input",
            lambda d=dag_id, r=run_id, t=task_id: _waiting(airflow, d, r, t),
        )

    # The approver got both questions, each with its own code.
    engine = _ledger(airflow)
    with engine.connect() as conn:
        codes = dict(conn.execute(sa.text("SELECT dag_id, code FROM yxt_approval_questions")).all())
    assert set(codes) == {"yxt_sms_approval", "approval_in_ui"} and len(set(codes.values())) == 2
    texts = [r.content for r in sandbox.accepted() if list(r.numbers) == [APPROVER]]
    release_code, ui_code = codes["yxt_sms_approval"], codes["approval_in_ui"]
    assert any(f"回复 {release_code}1 发布，{release_code}2 推迟" in t for t in texts), texts
    assert any(f"回复 {ui_code}1 同意，{ui_code}2 拒绝" in t for t in texts), texts

    # Nothing of these changes anything; each is recorded.
    assert responder.reply(STRANGER, f"{release_code}1")["outcomes"] == {"not_an_approver": 1}
    assert responder.reply(APPROVER, "好的收到")["outcomes"] == {"no_match": 1}
    assert responder.reply(APPROVER, "1")["outcomes"] == {"ambiguous": 1}  # two questions open
    assert _ti(airflow, "yxt_sms_approval", release, "approve_release")["state"] == "awaiting_input"

    # Answered in the UI (the REST API, as the UI does) first: a later SMS changes nothing.
    airflow.api(
        "PATCH", f"/dags/approval_in_ui/dagRuns/{in_ui}/taskInstances/approve/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {}},
    ).raise_for_status()  # fmt: skip
    airflow.wait_run("approval_in_ui", in_ui)
    assert responder.reply(APPROVER, f"{ui_code}2")["outcomes"] == {"closed": 1}
    ui_detail = _hitl(airflow, "approval_in_ui", in_ui)
    assert ui_detail["chosen_options"] == ["Approve"] and ui_detail["responded_by_user"]["name"] == "admin"
    assert _ti(airflow, "approval_in_ui", in_ui, "scale_out")["state"] == "success"

    # The approver's answer, now the only open question, with its code and full-width digit.
    injected = time.monotonic()
    counts = responder.reply(APPROVER, f"{release_code}１")
    assert counts["answered"] == 1
    airflow.wait_for(
        "approve_release resumed",
        lambda: _ti(airflow, "yxt_sms_approval", release, "approve_release")["state"] == "success",
    )
    delay = time.monotonic() - injected
    record_property("sms_reply_to_task_resumed_seconds", round(delay, 1))
    print(f"an approver's SMS → the HITL task resumed in {delay:.1f} s")
    airflow.wait_run("yxt_sms_approval", release)
    assert _ti(airflow, "yxt_sms_approval", release, "publish")["state"] == "success"
    assert _ti(airflow, "yxt_sms_approval", release, "postpone")["state"] == "skipped"
    detail = _hitl(airflow, "yxt_sms_approval", release, "approve_release")
    assert detail["chosen_options"] == ["发布"]
    assert detail["responded_by_user"]["name"] == "sms-bridge"
    assert detail["params_input"]["sms_answer"].startswith("138****0001")

    with engine.connect() as conn:
        outcomes = sorted(conn.execute(sa.text("SELECT outcome FROM yxt_approval_outcomes")).scalars())
    engine.dispose()
    assert outcomes == ["ambiguous", "answered", "closed", "no_match", "not_an_approver"]


def test_a_timeout_takes_the_default(real_airflow: RealAirflow) -> None:
    run_id = real_airflow.trigger("approval_times_out")
    real_airflow.wait_run("approval_times_out", run_id)
    assert _hitl(real_airflow, "approval_times_out", run_id)["chosen_options"] == ["Reject"]
    assert _ti(real_airflow, "approval_times_out", run_id, "drop_partitions")["state"] == "skipped"


def test_no_full_number_in_any_log(real_airflow: RealAirflow) -> None:
    leaked = {
        path.name: len(FULL_MOBILE.findall(path.read_text(errors="replace")))
        for path in real_airflow.log_paths()
        if FULL_MOBILE.search(path.read_text(errors="replace"))
    }
    assert not leaked, f"full phone numbers in the logs: {leaked}"
