"""SIGKILL at every named crash point (and at seeded random moments), then retries: exactly-once holds.

Three loops, one per job: a campaign send, a receipt drain, a reply drain. Each run gets a
fresh sandbox state and a fresh SQLite ledger, kills one try at a drawn point (see
:mod:`tests.reliability.crash_points`), retries in fresh processes until the job is done,
then checks the outcome against the sandbox's records (:mod:`tests.fixtures.witness`).

``YXT_CRASH_RUNS`` sets the runs over all points (default: each point once, a few
seconds); ``YXT_CRASH_SEED`` the seed. For a soak::

    YXT_CRASH_RUNS=300 pytest tests/reliability/test_crash_safety.py -q -p no:cacheprovider
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.witness import receipt_violations, reply_violations, send_violations
from tests.reliability.crash_child import Job, client_for, send_campaign
from tests.reliability.crash_gateway import GatewayTap
from tests.reliability.crash_loop import CrashLoop, LoopTally, crash_runs, crash_seed, runs_of
from yxt_provider.ledger import Ledger
from yxt_provider.sandbox import SandboxConfig, SandboxServer, run_sandbox

# Five batches of twenty: the send points' hits (batch 1..5) are all reached.
AUDIENCE = tuple(f"138{i:08d}" for i in range(100))
# Sixty receipts in pages of seven: nine pages.
RECEIPT_AUDIENCE = AUDIENCE[:60]
RECEIPTS = SandboxConfig(report_page_size=7, receipt_fail_share=0.2)
# Thirty replies in pages of four: eight pages. Only 7 numbers, 3 texts and one time, so
# identical replies (same number, text and time) fall on different pages.
REPLIES = SandboxConfig(reply_page_size=4)
REPLY_TIME = "2026-12-02 09:30:00"
REPLY_TEXTS = ("1", "2", "好的")


@pytest.fixture
def tapped_sandbox() -> Iterator[tuple[SandboxServer, GatewayTap]]:
    """A sandbox whose answers a crash loop can cut short by killing the task."""
    with run_sandbox() as server:
        tap = GatewayTap(server)
        try:
            yield server, tap
        finally:
            tap.remove()


def finish(tally: LoopTally, capsys: pytest.CaptureFixture[str]) -> None:
    """Print the loop's summary line (also under ``-q``) and fail on any violation."""
    with capsys.disabled():
        print(f"\n{tally.summary()}")
    assert not tally.violations, "\n".join(tally.violations[:10])


def test_send_killed_anywhere_then_retried_sends_each_recipient_once(
    tapped_sandbox: tuple[SandboxServer, GatewayTap], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, tap = tapped_sandbox
    seed = crash_seed()
    loop, tally = CrashLoop("send", tap, seed, moment_horizon=0.25), LoopTally("send", seed)
    for index, point in loop.schedule(runs_of("send", crash_runs())):
        sandbox.reset()
        job = Job("send", f"sqlite:///{tmp_path}/send-{index}.db", sandbox.base_url, numbers=AUDIENCE)
        run = loop.run(point, job)
        ledger = Ledger.from_url(job.ledger_url)
        tally.add(run, index, send_violations(sandbox, ledger, job.campaign_id, AUDIENCE) if run.done else [])
        ledger.dispose()
    finish(tally, capsys)


def test_receipt_drain_killed_anywhere_then_retried_stores_each_receipt_once(
    tapped_sandbox: tuple[SandboxServer, GatewayTap], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, tap = tapped_sandbox
    seed = crash_seed()
    loop, tally = CrashLoop("receipts", tap, seed, moment_horizon=0.15), LoopTally("receipts", seed)
    for index, point in loop.schedule(runs_of("receipts", crash_runs())):
        sandbox.reset(RECEIPTS)
        sandbox.configure(seed=index)
        job = Job("receipts", f"sqlite:///{tmp_path}/receipts-{index}.db", sandbox.base_url)
        ledger = Ledger.from_url(job.ledger_url)
        with client_for(sandbox.base_url) as client:  # the campaign whose receipts are drained
            send_campaign(
                Job("send", job.ledger_url, sandbox.base_url, numbers=RECEIPT_AUDIENCE), ledger, client
            )
        run = loop.run(point, job)
        # Receipts are read once with no acknowledgement: the page in hand at the kill is the
        # only one allowed to go missing, and only at the points that hold a page uncommitted.
        in_hand = run.pages[-1] if run.killed and point.loses_page and run.pages else frozenset()
        check = receipt_violations(sandbox, ledger, may_lose=in_hand)
        tally.lost_receipts += len(check.lost)
        tally.add(run, index, check.violations if run.done else [])
        ledger.dispose()
    finish(tally, capsys)


def test_reply_drain_killed_anywhere_then_retried_stores_each_reply_once_and_confirms_it(
    tapped_sandbox: tuple[SandboxServer, GatewayTap], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sandbox, tap = tapped_sandbox
    seed = crash_seed()
    loop, tally = CrashLoop("replies", tap, seed, moment_horizon=0.15), LoopTally("replies", seed)
    for index, point in loop.schedule(runs_of("replies", crash_runs())):
        sandbox.reset(REPLIES)
        injected = {}
        for i in range(30):
            number, text = f"1390000{i % 7:04d}", REPLY_TEXTS[i % 3]
            injected[sandbox.inject_reply("10690000123", text, number, REPLY_TIME)] = (number, text)
        job = Job("replies", f"sqlite:///{tmp_path}/replies-{index}.db", sandbox.base_url)
        run = loop.run(point, job)
        ledger = Ledger.from_url(job.ledger_url)
        tally.add(run, index, reply_violations(sandbox, ledger, injected) if run.done else [])
        ledger.dispose()
    finish(tally, capsys)
