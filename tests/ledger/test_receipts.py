"""Storing receipts: idempotent, unmatched kept, final statuses kept, exact under concurrency."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tests.ledger.conftest import make_batches, make_campaign, phone, serial
from yxt_provider.client.models import Receipt
from yxt_provider.ledger import Ledger, ReceiptIngestCounts, dialects, receipt_store, schema

FOREIGN_SERIAL = "99999999999999999999"


@pytest.fixture
def sent(ledger: Ledger) -> Ledger:
    """Campaign c1: batch 0 (numbers 0-2) and batch 1 (3-4), both accepted."""
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [3, 2]))
    for index in (0, 1):
        ledger.mark_sent("c1", index, gateway_task_id=f"T{index}", duplicate=False)
    return ledger


def _receipt_rows(ledger: Ledger) -> dict[tuple[str, str], tuple[int, bool]]:
    with ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.receipts)).all()
    return {(r.serial_number, r.phone): (r.result, bool(r.matched)) for r in rows}


def test_store_receipts_applies_results(sent: Ledger) -> None:
    counts = sent.store_receipts(
        [
            Receipt(serial(1, 0), phone(0), 0),
            Receipt(serial(1, 0), phone(1), 7),
            Receipt(serial(1, 1), phone(3), 0),
        ]
    )
    assert counts == ReceiptIngestCounts(read=3, stored_new=3, matched=3, unmatched=0)
    c = sent.campaign_counts("c1")
    assert (c["messages_delivered"], c["messages_failed"], c["messages_sent"]) == (2, 1, 2)
    report = sent.delivery_report("c1")
    assert report.failed_by_code == {7: 1}


def test_store_receipts_is_idempotent(sent: Ledger) -> None:
    page = [Receipt(serial(1, 0), phone(0), 0), Receipt(FOREIGN_SERIAL, phone(50), 0)]
    assert sent.store_receipts(page) == ReceiptIngestCounts(read=2, stored_new=2, matched=1, unmatched=1)
    assert sent.store_receipts(page) == ReceiptIngestCounts(read=2, stored_new=0, matched=0, unmatched=0)
    assert len(_receipt_rows(sent)) == 2


def test_repeats_within_a_page_count_once(sent: Ledger) -> None:
    page = [Receipt(serial(1, 0), phone(0), 0)] * 3
    assert sent.store_receipts(page) == ReceiptIngestCounts(read=3, stored_new=1, matched=1, unmatched=0)


def test_unmatched_receipts_are_kept(sent: Ledger) -> None:
    counts = sent.store_receipts([Receipt(FOREIGN_SERIAL, phone(60), 5), Receipt(serial(1, 0), phone(99), 0)])
    assert counts == ReceiptIngestCounts(read=2, stored_new=2, matched=0, unmatched=2)
    rows = _receipt_rows(sent)
    assert rows[(FOREIGN_SERIAL, phone(60))] == (5, False)
    assert rows[(serial(1, 0), phone(99))] == (0, False)
    assert sent.campaign_counts("c1")["messages_sent"] == 5


def test_final_status_is_not_overwritten(sent: Ledger) -> None:
    sent.store_receipts([Receipt(serial(1, 0), phone(0), 0)])
    # Force a second, conflicting receipt for the same message through a new key path:
    # the raw receipt is new, but the message is already final.
    with sent.engine.begin() as conn:
        conn.execute(sa.delete(schema.receipts))
    counts = sent.store_receipts([Receipt(serial(1, 0), phone(0), 9)])
    assert counts.stored_new == 1 and counts.matched == 0
    with sent.engine.connect() as conn:
        status, code = conn.execute(
            sa.select(schema.messages.c.status, schema.messages.c.result_code).where(
                schema.messages.c.phone == phone(0)
            )
        ).one()
    assert (status, code) == ("delivered", 0)


def test_receipt_before_mark_sent_wins(ledger: Ledger) -> None:
    """A receipt can be stored before the sender commits mark_sent (crash window)."""
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [2]))
    assert ledger.store_receipts([Receipt(serial(1, 0), phone(0), 0)]).matched == 1
    ledger.mark_sent("c1", 0, gateway_task_id="T", duplicate=True)
    counts = ledger.campaign_counts("c1")
    assert (counts["messages_delivered"], counts["messages_sent"]) == (1, 1)


def test_receipt_times_are_aware(sent: Ledger) -> None:
    sent.store_receipts([Receipt(serial(1, 0), phone(0), 0)])
    with sent.engine.connect() as conn:
        receipt_at = conn.execute(
            sa.select(schema.messages.c.receipt_at).where(schema.messages.c.phone == phone(0))
        ).scalar_one()
    assert receipt_at is not None and receipt_at.utcoffset() is not None


def test_empty_page(sent: Ledger) -> None:
    assert sent.store_receipts([]) == ReceiptIngestCounts(read=0, stored_new=0, matched=0, unmatched=0)


def test_large_pages_span_statement_chunks(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receipt_store, "RECEIPT_CHUNK_ROWS", 700)
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [1000] * 5))
    for index in range(5):
        ledger.mark_sent("c1", index, gateway_task_id="T", duplicate=False)
    page = [Receipt(serial(1, i // 1000), phone(i), i % 3) for i in range(0, 5000, 2)]
    page += [Receipt(FOREIGN_SERIAL, phone(i), 0) for i in range(500)]
    counts = ledger.store_receipts(page)
    assert counts == ReceiptIngestCounts(read=3000, stored_new=3000, matched=2500, unmatched=500)
    report = ledger.delivery_report("c1")
    assert (report.delivered, report.failed, report.pending) == (834, 1666, 2500)
    assert report.failed_by_code == {1: 833, 2: 833}


def test_generic_path_for_backends_without_returning(sent: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """The MySQL code path, exercised on the backends at hand."""
    monkeypatch.setattr(dialects, "supports_insert_returning", lambda dialect: False)
    page = [
        Receipt(serial(1, 0), phone(0), 0),
        Receipt(serial(1, 0), phone(1), 4),
        Receipt(FOREIGN_SERIAL, phone(1), 0),
    ]
    assert sent.store_receipts(page) == ReceiptIngestCounts(read=3, stored_new=3, matched=2, unmatched=1)
    assert sent.store_receipts(page) == ReceiptIngestCounts(read=3, stored_new=0, matched=0, unmatched=0)
    report = sent.delivery_report("c1")
    assert (report.delivered, report.failed, report.failed_by_code) == (1, 1, {4: 1})


def test_concurrent_overlapping_stores_count_exactly(ledger_url: str, ledger: Ledger) -> None:
    """Two "processes" store overlapping receipt sets at once: every total is exact."""
    n = 6000
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [1000] * (n // 1000)))
    for index in range(n // 1000):
        ledger.mark_sent("c1", index, gateway_task_id="T", duplicate=False)
    everything = [Receipt(serial(1, i // 1000), phone(i), 0 if i % 4 else 2) for i in range(n)]
    everything += [Receipt(FOREIGN_SERIAL, phone(i), 0) for i in range(1000)]
    # Worker A gets the first 2/3, worker B the last 2/3, in different orders and pages.
    part_a = everything[: len(everything) * 2 // 3]
    part_b = list(reversed(everything[len(everything) // 3 :]))
    ledgers = [Ledger.from_url(ledger_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[list[ReceiptIngestCounts]] = [[], []]
    errors: list[BaseException] = []

    def run(index: int, receipts: list[Receipt]) -> None:
        try:
            barrier.wait()
            for start in range(0, len(receipts), 500):
                results[index].append(ledgers[index].store_receipts(receipts[start : start + 500]))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(0, part_a)), threading.Thread(target=run, args=(1, part_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for other in ledgers:
        other.dispose()
    assert not errors, errors
    totals = [c for per_worker in results for c in per_worker]
    assert sum(c.read for c in totals) == len(part_a) + len(part_b)
    assert sum(c.stored_new for c in totals) == len(everything)
    assert sum(c.matched for c in totals) == n
    assert sum(c.unmatched for c in totals) == 1000
    report = ledger.delivery_report("c1")
    assert (report.delivered, report.failed, report.pending) == (n * 3 // 4, n // 4, 0)
    assert len(_receipt_rows(ledger)) == len(everything)
