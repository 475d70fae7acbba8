"""drain_receipts against the sandbox: every receipt stored once, bounds, concurrency, errors."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa

from tests.receipts.conftest import (
    drain_until_settled,
    receipts_outstanding,
    report_counts,
    send_campaign,
)
from yxt_provider.client import Receipt, RetrySettings, YxtClient
from yxt_provider.client.errors import YxtError
from yxt_provider.ledger import Ledger, expressions, schema
from yxt_provider.receipts import IngestResult, adrain_receipts, drain_receipts
from yxt_provider.sandbox import Fault, SandboxServer


def numbers(count: int, prefix: str = "138", start: int = 0) -> list[str]:
    return [f"{prefix}{i:08d}" for i in range(start, start + count)]


def stored_receipts(ledger: Ledger) -> dict[tuple[str, str], tuple[int, bool]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.receipts)).all()
    return {(r.serial_number, r.phone): (r.result, bool(r.matched)) for r in rows}


def message_outcomes(ledger: Ledger, campaign_id: str) -> dict[tuple[str, str], tuple[str, int | None]]:
    m = schema.messages.c
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            sa.select(m.serial_number, m.phone, expressions.message_status, m.result_code, m.receipt_at)
            .select_from(expressions.messages_with_batches)
            .where(m.campaign_id == campaign_id)
        ).all()
    assert all((r.receipt_at is not None) == (r.status in ("delivered", "failed")) for r in rows)
    return {(r.serial_number, r.phone): (r.status, r.result_code) for r in rows}


def test_every_receipt_is_stored_once_and_the_report_equals_the_ground_truth(
    ledger: Ledger, yxt_sandbox: SandboxServer, yxt_client: YxtClient
) -> None:
    yxt_sandbox.configure(
        receipt_delay=0.3,
        receipt_fail_share=0.15,
        receipt_missing_share=0.05,
        fail_result=7,
        report_page_size=50,
        seed=11,
    )
    ours = send_campaign(ledger, yxt_client, "c-ours", numbers(1200), batch_size=300, tag=1)
    # Another system on the same account: its receipts come through the same queue.
    foreign = "99999999000000000001"
    yxt_client.send(numbers(100, prefix="137"), "not ours", "1000000000001", foreign)

    total = drain_until_settled(yxt_client, ledger, yxt_sandbox)

    truth = yxt_sandbox.truth()
    arriving = {(t.serial_number, t.user_number): t.result for t in truth if t.result is not None}
    assert total.read == yxt_sandbox.counters()["receipts"]["handed_out"] == len(arriving)
    assert total.stored_new == len(arriving)  # nothing read twice, nothing lost
    assert total.pages >= len(arriving) // 50
    stored = stored_receipts(ledger)
    assert {key: result for key, (result, _) in stored.items()} == arriving
    foreign_arriving = sum(1 for serial, _ in arriving if serial == foreign)
    assert total.unmatched == foreign_arriving > 0  # kept although this ledger never sent them
    assert total.matched == len(arriving) - foreign_arriving
    assert all(matched == (serial != foreign) for (serial, _), (_, matched) in stored.items())

    outcomes = message_outcomes(ledger, "c-ours")
    for t in truth:
        if t.serial_number in ours.serials:
            want = (
                ("sent", None) if t.result is None else ("delivered" if t.result == 0 else "failed", t.result)
            )
            assert outcomes[(t.serial_number, t.user_number)] == want
    report = ledger.delivery_report("c-ours")
    assert report_counts(report) == yxt_sandbox.expected_delivery(ours.serials)
    assert report.failed_by_code == {7: report.failed} and report.failed > 100 and report.pending > 20

    # Draining again finds nothing and changes nothing.
    again = drain_receipts(yxt_client, ledger)
    assert (again.read, again.stored_new, again.stopped) == (0, 0, "exhausted")


def test_drain_stops_at_its_bounds_and_resumes(
    ledger: Ledger, yxt_sandbox: SandboxServer, yxt_client: YxtClient
) -> None:
    yxt_sandbox.configure(report_page_size=10)
    send_campaign(ledger, yxt_client, "c-bounds", numbers(100), batch_size=100, tag=2)

    first = drain_receipts(yxt_client, ledger, max_pages=3)
    assert (first.read, first.pages, first.stopped) == (30, 3, "max_pages")
    second = drain_receipts(yxt_client, ledger, max_seconds=0)
    assert (second.read, second.pages, second.stopped) == (10, 1, "max_seconds")  # a page at least
    rest = drain_receipts(yxt_client, ledger)
    assert (rest.read, rest.stored_new, rest.stopped, rest.exhausted) == (60, 60, "exhausted", True)
    assert ledger.delivery_report("c-bounds").delivered == 100
    with pytest.raises(ValueError, match="max_pages"):
        drain_receipts(yxt_client, ledger, max_pages=0)


def test_two_concurrent_ingests_lose_and_double_count_nothing(
    ledger_url: str, yxt_sandbox: SandboxServer
) -> None:
    setup = Ledger.from_url(ledger_url)
    yxt_sandbox.configure(report_page_size=20, receipt_fail_share=0.3, seed=5)
    client = yxt_sandbox.client()
    sent = send_campaign(setup, client, "c-race", numbers(2000), batch_size=1000, tag=3)
    assert receipts_outstanding(yxt_sandbox) == 2000

    # Two "workers": each with its own engine (connection pool) and its own HTTP client.
    workers = [(Ledger.from_url(ledger_url), yxt_sandbox.client()) for _ in range(2)]
    results: list[IngestResult] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(worker_ledger: Ledger, worker_client: YxtClient) -> None:
        try:
            barrier.wait()
            results.append(drain_receipts(worker_client, worker_ledger, max_seconds=60))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=worker) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(results) == 2
    assert all(r.read > 0 for r in results), results  # both really drained at the same time
    assert sum(r.read for r in results) == 2000
    assert sum(r.stored_new for r in results) == 2000
    assert sum(r.matched for r in results) == 2000
    assert len(stored_receipts(setup)) == 2000
    report = setup.delivery_report("c-race")
    assert report_counts(report) == yxt_sandbox.expected_delivery(sent.serials)
    for worker_ledger, worker_client in workers:
        worker_ledger.dispose()
        worker_client.close()
    setup.dispose()


class ReplayingClient:
    """Hands out the same pages again: what two readers would see if a gateway re-delivered."""

    def __init__(self, pages: list[list[Receipt]]) -> None:
        self.pages = list(pages)
        self.lock = threading.Lock()

    def fetch_receipts(self) -> list[Receipt]:
        with self.lock:
            return self.pages.pop(0) if self.pages else []


def test_concurrent_ingests_of_the_same_receipts_count_each_once(ledger_url: str) -> None:
    pages = [
        [Receipt(f"{p:020d}", f"138{i:08d}", i % 3) for i in range(p * 100, p * 100 + 100)] for p in range(20)
    ]
    ledgers = [Ledger.from_url(ledger_url) for _ in range(2)]
    results: list[IngestResult] = []
    barrier = threading.Barrier(2)

    def work(ledger: Ledger) -> None:
        barrier.wait()
        # Each reader is given every page: the same 2000 receipts reach the ledger twice, concurrently.
        results.append(drain_receipts(ReplayingClient(pages), ledger))  # type: ignore[arg-type]

    threads = [threading.Thread(target=work, args=(ledger,)) for ledger in ledgers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(r.read for r in results) == 4000
    assert sum(r.stored_new for r in results) == 2000
    assert sum(r.unmatched for r in results) == 2000  # no ledger message: kept as unmatched
    assert len(stored_receipts(ledgers[0])) == 2000
    for ledger in ledgers:
        ledger.dispose()


def test_a_failure_midway_keeps_every_page_already_read(ledger: Ledger, yxt_sandbox: SandboxServer) -> None:
    yxt_sandbox.configure(report_page_size=10)
    client = yxt_sandbox.client(retry=RetrySettings(max_attempts=1))
    send_campaign(ledger, client, "c-fail", numbers(50), batch_size=50, tag=4)
    yxt_sandbox.configure(faults=[Fault("report", "http_500", skip=2, times=1)])

    with pytest.raises(YxtError):
        drain_receipts(client, ledger)
    assert len(stored_receipts(ledger)) == 20  # the two pages read before the failure
    rest = drain_receipts(client, ledger)
    assert rest.read == 30 and len(stored_receipts(ledger)) == 50


def test_adrain_receipts_runs_off_the_event_loop(
    ledger: Ledger, yxt_sandbox: SandboxServer, yxt_client: YxtClient
) -> None:
    send_campaign(ledger, yxt_client, "c-async", numbers(30), batch_size=30, tag=6)
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = yxt_client.fetch_receipts

    def fetch() -> list[Receipt]:
        seen.append(threading.get_ident())
        return original()

    yxt_client.fetch_receipts = fetch  # type: ignore[method-assign]
    result = asyncio.run(adrain_receipts(yxt_client, ledger))
    assert result.read == 30 and result.matched == 30
    assert seen and loop_thread not in seen
