"""Several OS processes pacing against one PostgreSQL ledger, as Celery workers would."""

from __future__ import annotations

import itertools
import multiprocessing
import time
from typing import Any

import pytest

from yxt_provider.campaign.account_pace import AccountPacer, account_key
from yxt_provider.ledger import Ledger

KEY = account_key("https://gateway.example", "app", "100001")
RATE = 40.0
PROCESSES = 4
PER_PROCESS = 20


def _pace(url: str, start: Any, results: Any) -> None:
    """One worker: its own engine and pacer; N acquisitions, each timed on the wall clock."""
    ledger = Ledger.from_url(url)
    pacer = AccountPacer(ledger, KEY, RATE)
    start.wait(60)
    times: list[tuple[float, float]] = []
    for _ in range(PER_PROCESS):
        pacer.acquire()
        assert pacer.reserved_slot is not None
        times.append((time.time(), pacer.reserved_slot))
    ledger.dispose()
    results.put(times)


def test_processes_sharing_a_postgresql_ledger_stay_within_the_account_rate(postgres_schema_url: str) -> None:
    Ledger.from_url(postgres_schema_url).dispose()  # the schema, before the workers race for it
    # spawn: fresh interpreters, nothing shared with this process but the database.
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(target=_pace, args=(postgres_schema_url, start, results)) for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    start.set()
    batches = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0

    woke = sorted(wall for batch in batches for wall, _ in batch)
    slots = sorted(slot for batch in batches for _, slot in batch)
    total = PROCESSES * PER_PROCESS
    assert len(woke) == total
    # The database handed out slots exactly 1/rate apart across the processes...
    assert min(later - earlier for earlier, later in itertools.pairwise(slots)) >= 1 / RATE - 1e-6
    # ...and the requests they stand for never exceed the rate in any one-second window
    # (one slot of tolerance for a wake-up late enough to meet the next one early).
    busiest = max(sum(1 for t in woke[i:] if t < start_at + 1.0) for i, start_at in enumerate(woke))
    assert busiest <= RATE + 1
    # Together they went at the account's rate, not four times it.
    assert woke[-1] - woke[0] == pytest.approx((total - 1) / RATE, abs=0.25)
