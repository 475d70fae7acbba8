"""A send task killed with SIGKILL mid-campaign, then run again: every recipient exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa

from tests.fixtures.airflow import DagFiles, task_states, xcom_value
from tests.fixtures.witness import assert_sent_exactly_once
from tests.operators.dag_sources import numbers_expr, send_dag
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import Fault, SandboxServer

RUNNER = """
import sys
from airflow.dag_processing.dagbag import DagBag
DagBag(sys.argv[1]).get_dag(sys.argv[2]).test()
"""


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigkill_between_batches_then_retry_sends_each_once(
    dag_files: DagFiles, sandbox: SandboxServer, sqlite_ledger: str, tmp_path: object
) -> None:
    # Batch 3's request hangs at the gateway, so the task is killed with batches 1-2 sent
    # and batch 3 attempted but unanswered: the worst instant for exactly-once.
    sandbox.configure(faults=(Fault(endpoint="send", kind="latency", skip=2, times=1, seconds=3.0),))
    source = send_dag(
        "send_crash",
        f"recipients={numbers_expr(2500)}, content='hi', template_id='1000000000001', "
        "max_in_flight=1, campaign_id='crash-test'",
    )
    path = dag_files.write(source)
    runner = f"{tmp_path}/runner.py"
    with open(runner, "w") as handle:
        handle.write(RUNNER)
    proc = subprocess.Popen(
        [sys.executable, runner, str(path), "send_crash"],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ledger = Ledger.from_url(sqlite_ledger)
    try:

        def third_batch_in_flight() -> bool:
            try:
                batch = ledger.get_batch("crash-test", 2)
            except sa.exc.OperationalError:  # schema not created yet by the task
                return False
            return batch is not None and batch.state == "attempted"

        wait_for(third_batch_in_flight, 120, "the task to attempt batch 3")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    states = {b.batch_index: b.state for b in ledger.iter_batches("crash-test")}
    assert states == {0: "sent", 1: "sent", 2: "attempted"}

    sandbox.configure(faults=())
    run = dag_files.run(source, "send_crash")
    assert task_states(run) == {"send": "success"}
    summary = xcom_value(run, "send")
    # Batch 3 went out again under its serial: whether the first request reached the gateway
    # before the kill decides if it counts as sent now or as accepted earlier (code 15).
    assert summary["skipped"] in (2000, 2500) and summary["sent"] + summary["skipped"] == 2500
    assert_sent_exactly_once(sandbox, ledger, "crash-test", [f"138{i:08d}" for i in range(2500)])
