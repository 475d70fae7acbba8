"""No full phone number and no app secret in logs, errors, XComs or rendered template fields.

Every example DAG run gets the same check (``tests/dags/conftest.py``); the DAGs here aim at
the places a leak would come from: template fields that render to numbers (written in every
spelling), a task that logs the secret, a task that fails on a number.
"""

from __future__ import annotations

import logging

import pytest

from tests.fixtures import no_leaks as leak_fixtures
from tests.fixtures import tasks as task_fixtures
from tests.fixtures.airflow import DagFiles, task_states
from tests.fixtures.no_leaks import LeakCheck, secret_is_masked
from tests.fixtures.run_texts import rendered_field_texts, xcom_texts
from tests.fixtures.tasks import TaskLogs
from yxt_provider.operators.masked_fields import NumbersForDisplay, masked_for_display
from yxt_provider.sandbox import SandboxServer

# The fixtures of the task tests and the leak check, as fixtures of this module.
sandbox = task_fixtures.sandbox
sqlite_ledger = task_fixtures.sqlite_ledger
task_logs = task_fixtures.task_logs
no_full_numbers_in_logs = task_fixtures.no_full_numbers_in_logs
canary_secret = leak_fixtures.canary_secret
no_leaks = leak_fixtures.no_leaks

pytestmark = pytest.mark.usefixtures("no_leaks")


@pytest.fixture
def sandbox_app_secret(canary_secret: str) -> str:
    return canary_secret


RENDERED_NUMBERS_DAG = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.opt_outs import ManageOptOutsOperator
from yxt_provider.operators.sms import SendSmsOperator

with DAG("leaks_rendered", schedule=None, start_date=pendulum.datetime(2026, 1, 1), params={"vip": "13500135000"}):
    send = SendSmsOperator(
        task_id="send",
        recipients=["+86 138 0013 8000", "139-0013-9000", {"phone": "13700137000", "name": "王"}, "{{ params.vip }}"],
        content="hello {{ name | default('you') }}",
        template_id="1000000000001",
        ledger_conn_id="yxt_ledger",
    )
    send >> ManageOptOutsOperator(
        task_id="opt_out", add="{{ params.vip }}, 8613600136000", ledger_conn_id="yxt_ledger"
    )
"""

SENT = {"13800138000", "13900139000", "13700137000", "13500135000"}


def test_rendered_number_fields_are_stored_masked_and_sent_in_full(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, no_leaks: LeakCheck
) -> None:
    no_leaks.watch(numbers=SENT | {"13600136000"})
    run = dag_files.run(RENDERED_NUMBERS_DAG, "leaks_rendered")
    assert task_states(run) == {"send": "success", "opt_out": "success"}
    assert {n for request in sandbox.accepted() for n in request.numbers} == SENT  # the real values
    rendered = "\n".join(rendered_field_texts(run))
    for shown in ("+86 138 **** 8000", "139-****-9000", "137****7000", "135****5000", "86136****6000"):
        assert shown in rendered, rendered
    assert xcom_texts(run)  # the summaries were scanned too (by no_leaks, after the test)


SECRET_USING_DAG = """
import pendulum
from airflow.sdk import DAG, task

with DAG("leaks_secret", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):

    @task
    def connect() -> str:
        from yxt_provider.hooks.yxt import YxtHook

        return repr(YxtHook().client)

    connect()
"""


def test_the_hook_registers_the_secret_with_airflows_masker(
    dag_files: DagFiles, sandbox: SandboxServer, canary_secret: str
) -> None:
    from airflow.sdk.log import mask_logs

    assert not secret_is_masked(canary_secret)  # a fresh canary: only this run can register it
    run = dag_files.run(SECRET_USING_DAG, "leaks_secret")
    assert task_states(run) == {"connect": "success"}
    assert secret_is_masked(canary_secret)
    # mask_logs is the processor every task log line passes through (in the task or its supervisor).
    event = mask_logs(None, "error", {"event": f"gave up with {canary_secret}", "error": canary_secret})
    assert event == {"event": "gave up with ***", "error": "***"}


def test_a_refused_number_is_named_masked(
    dag_files: DagFiles, sqlite_ledger: str, task_logs: TaskLogs, no_leaks: LeakCheck
) -> None:
    no_leaks.watch(numbers=["13800138000"])
    source = """
import pendulum
from airflow.sdk import DAG
from yxt_provider.operators.opt_outs import ManageOptOutsOperator

with DAG("leaks_refused", schedule=None, start_date=pendulum.datetime(2026, 1, 1)):
    ManageOptOutsOperator(task_id="opt_out", add="13800138000, 2380013800", ledger_conn_id="yxt_ledger")
"""
    run = dag_files.run(source, "leaks_refused")
    assert task_states(run) == {"opt_out": "failed"}
    logs = task_logs.text()
    assert "opt-out list unchanged: '238*****00' is not a mainland China mobile number" in logs


def test_numbers_for_display_masks_every_shape() -> None:
    value = {"to": ["13800138000", 13900139000, "１３７００１３７０００"], "n": 3, "ok": True}
    assert masked_for_display(value) == {
        "to": ["138****8000", "139****9000", "137****7000"],
        "n": 3,
        "ok": True,
    }
    wrapped = NumbersForDisplay(["13800138000"])
    assert wrapped.value == ["13800138000"]
    assert "13800138000" not in f"{wrapped} {wrapped!r}"
    logging.getLogger(__name__).info("field: %s", wrapped)  # scanned by no_full_numbers_in_logs
