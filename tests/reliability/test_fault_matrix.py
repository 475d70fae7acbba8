"""The fault matrix: every sandbox fault against every call, with the sandbox and the ledger as witnesses.

Each cell injects its fault, makes its call, and then checks three things: the outcome
(retried and succeeded, recorded refused, or failed with the right error and a message that
says what to do), that nothing was sent twice or lost (the sandbox's accepted requests and
the ledger; a failed call is then repeated without the fault, as a task retry or the next
drain would, and must complete the work), and that no full number or secret reached a log
line or an error. The module writes the observed outcomes to ``docs/fault-matrix.md``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from tests.campaign.test_run import make_run
from tests.fixtures.leaks import find_leaks
from tests.fixtures.tasks import TaskLogs
from tests.notifications.test_sms_notifier import ALERTS, FakeTi
from tests.receipts.conftest import send_campaign
from tests.reliability.conftest import ControlPlane
from tests.reliability.matrix import (
    LOST_ANSWER_ADVICE,
    RECEIPTS_LOST,
    RECORDED_REFUSED,
    RETRIED,
    UNAFFECTED,
    Cell,
    cells,
    failed,
)
from tests.replies.conftest import ACCESS_NUMBER
from yxt_provider.campaign.errors import CampaignIncompleteError, CampaignStoppedError
from yxt_provider.campaign.identity import TaskIdentity
from yxt_provider.campaign.sender import SendSettings
from yxt_provider.client import YxtClient
from yxt_provider.client.errors import YxtError
from yxt_provider.ledger import Ledger, schema
from yxt_provider.notifications.sms import YxtSmsNotifier
from yxt_provider.receipts.ingest import drain_receipts
from yxt_provider.replies.ingest import drain_replies
from yxt_provider.sandbox import DEFAULT_APP_SECRET
from yxt_provider.sandbox.outcomes import MAGIC_REFUSED_AT_SEND

ALL_CELLS = cells()
# Paced well above what a cell sends, so the back-off after code 11 costs milliseconds.
SETTINGS = SendSettings(progress_interval=3600, max_requests_per_second=50)
RECIPIENTS = 3
# Where the client's retry policy says it is trying again (yxt_provider.client.retry).
_RETRY_LINE = re.compile(r"failed \(attempt \d+\): .*; retrying in")
_NOTIFIER_FAILURE = re.compile(r"(?:No alert SMS was sent|The alert SMS may have been sent[^:]*): (\w+):")


@dataclass
class CellRun:
    """What one cell saw: its outcome, the failure's message, and every text to scan for leaks."""

    outcome: str = ""
    message: str = ""
    texts: list[str] = field(default_factory=list)


def numbers_of(cell: Cell) -> list[str]:
    """The cell's own recipients (the failList row: one refused number among them)."""
    index = ALL_CELLS.index(cell)
    numbers = [f"139{index:04d}{n:04d}" for n in range(RECIPIENTS)]
    if cell.fault.kind is None:
        numbers[0] = f"{MAGIC_REFUSED_AT_SEND}{index:04d}"
    return numbers


def success(logs: TaskLogs) -> str:
    return RETRIED if _RETRY_LINE.search(logs.text()) else UNAFFECTED


def accepted_counts(control: ControlPlane) -> Counter[str]:
    return Counter(n for request in control.sandbox.accepted() for n in request.numbers)


def run_send(cell: Cell, control: ControlPlane, ledger: Ledger, client: YxtClient, logs: TaskLogs) -> CellRun:
    numbers = numbers_of(cell)
    rows = [{"phone": number, "name": "甲"} for number in numbers]
    task = TaskIdentity(dag_id="matrix", run_id=cell.id, task_id="send")
    run = CellRun()
    control.set_faults(*filter(None, [cell.fault.fault(cell.call)]))
    try:
        summary = make_run(ledger, rows, task=task).send(client, SETTINGS)
        run.outcome = RECORDED_REFUSED if summary.refused else success(logs)
        run.texts.append(str(summary.to_dict()) if hasattr(summary, "to_dict") else repr(summary))
    except (CampaignStoppedError, CampaignIncompleteError) as exc:
        cause = type(exc.cause).__name__ if exc.cause is not None else None
        run.outcome, run.message = failed(type(exc).__name__, cause), str(exc)
        run.texts.append(str(exc))
    control.settle()
    assert set(accepted_counts(control).values()) <= {1}, "a recipient was accepted twice"
    if run.message:
        # Nothing lost: the task's retry, once the gateway behaves, sends what is missing.
        control.set_faults()
        make_run(ledger, rows, task=task).send(client, SETTINGS)
        control.settle()
    refused = [n for n in numbers if n.startswith(MAGIC_REFUSED_AT_SEND)]
    assert accepted_counts(control) == Counter(n for n in numbers if n not in refused)
    report = ledger.delivery_report(task.campaign_id())
    assert (report.sent, report.refused, report.not_sent) == (len(numbers) - len(refused), len(refused), 0)
    return run


def stored_receipts(ledger: Ledger, numbers: list[str]) -> int:
    with ledger.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(schema.receipts.c.phone.in_(numbers))
        return int(conn.execute(query).scalar_one())


def run_report(
    cell: Cell, control: ControlPlane, ledger: Ledger, client: YxtClient, logs: TaskLogs
) -> CellRun:
    numbers = numbers_of(cell)
    index = ALL_CELLS.index(cell)
    send_campaign(ledger, client, cell.id, numbers, batch_size=RECIPIENTS, tag=90_000_000 + index)
    run = CellRun()
    control.set_faults(*filter(None, [cell.fault.fault(cell.call)]))
    try:
        drain_receipts(client, ledger)
        run.outcome = success(logs)
    except YxtError as exc:
        run.outcome, run.message = failed(type(exc).__name__), str(exc)
        run.texts.append(str(exc))
    control.settle()
    control.set_faults()
    drain_receipts(client, ledger)  # the next drain, once the gateway behaves
    handed_out = control.counters()["receipts"]["handed_out"]
    stored = stored_receipts(ledger, numbers)
    assert handed_out == RECIPIENTS, "every receipt was handed out once"
    # Read-once queue: a page whose answer was lost is gone; nothing may be stored twice.
    lost = handed_out - stored
    if lost and not run.message:
        run.outcome = f"{run.outcome}; {RECEIPTS_LOST}"
    report = ledger.delivery_report(cell.id)
    assert (report.sent, report.delivered, report.pending) == (RECIPIENTS, stored, lost)
    return run


def stored_replies(ledger: Ledger, numbers: list[str]) -> int:
    with ledger.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(schema.replies.c.user_number.in_(numbers))
        return int(conn.execute(query).scalar_one())


def run_replies(
    cell: Cell, control: ControlPlane, ledger: Ledger, client: YxtClient, logs: TaskLogs
) -> CellRun:
    numbers = numbers_of(cell)
    for number in numbers:
        control.sandbox.inject_reply(ACCESS_NUMBER, "收到", user_number=number)
    run = CellRun()
    control.set_faults(*filter(None, [cell.fault.fault(cell.call)]))
    try:
        drain_replies(client, ledger)
        run.outcome = success(logs)
    except YxtError as exc:
        run.outcome, run.message = failed(type(exc).__name__), str(exc)
        run.texts.append(str(exc))
    control.settle()
    # Confirmed only what is stored: the gateway forgets a confirmed reply.
    assert control.counters()["replies"]["confirmed"] <= stored_replies(ledger, numbers)
    control.set_faults()
    drain_replies(client, ledger)  # the next drain, once the gateway behaves
    replies = control.counters()["replies"]
    assert (replies["pending"], replies["confirmed"]) == (0, RECIPIENTS)
    assert stored_replies(ledger, numbers) == RECIPIENTS, "every reply stored exactly once"
    return run


def run_notifier(
    cell: Cell, control: ControlPlane, ledger: Ledger, client: YxtClient, logs: TaskLogs
) -> CellRun:
    numbers = numbers_of(cell)
    context = {"ti": FakeTi(run_id=cell.id), "exception": ValueError("bad row 17")}

    def notify() -> None:
        YxtSmsNotifier(recipients=numbers, template_id=ALERTS, deployment_key=cell.id)(context)

    run = CellRun()
    control.set_faults(*filter(None, [cell.fault.fault(cell.call)]))
    notify()  # never raises: a failed alert is logged
    text = logs.text()
    failure = _NOTIFIER_FAILURE.search(text)
    if failure:
        line = next(line for line in text.splitlines() if failure.group(0) in line)
        run.outcome, run.message = failed(failure.group(1)), line
    elif "refused 1 of" in text:
        run.outcome = RECORDED_REFUSED
    else:
        run.outcome = success(logs)
    control.settle()
    assert set(accepted_counts(control).values()) <= {1}, "an alert went out twice"
    control.set_faults()
    notify()  # a repeated callback for the same event sends nothing twice
    control.settle()
    refused = [n for n in numbers if n.startswith(MAGIC_REFUSED_AT_SEND)]
    assert accepted_counts(control) == Counter(n for n in numbers if n not in refused)
    return run


RUNNERS: dict[str, Callable[[Cell, ControlPlane, Ledger, YxtClient, TaskLogs], CellRun]] = {
    "send": run_send,
    "report": run_report,
    "reply_query": run_replies,
    "reply_confirm": run_replies,
    "notifier": run_notifier,
}


@pytest.mark.parametrize("cell", ALL_CELLS, ids=[cell.id for cell in ALL_CELLS])
def test_fault_matrix_cell(
    cell: Cell,
    control: ControlPlane,
    matrix_ledger: Ledger,
    cell_client: YxtClient,
    observed_outcomes: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    logs = TaskLogs(caplog, capfd)
    run = RUNNERS[cell.call](cell, control, matrix_ledger, cell_client, logs)
    observed_outcomes[cell.id] = run.outcome  # before asserting: the page shows what happened
    assert run.outcome == cell.expected
    if run.message:
        for phrase in cell.fault.advice:
            assert re.search(phrase, run.message), f"{phrase!r} missing from: {run.message}"
        if cell.fault.answer_unknown:
            advice = LOST_ANSWER_ADVICE[cell.call]
            assert re.search(advice, run.message), f"{advice!r} missing from: {run.message}"
    leaks = find_leaks([logs.text(), *run.texts], numbers=numbers_of(cell), secrets=[DEFAULT_APP_SECRET])
    assert not leaks, "\n".join(map(str, leaks))
