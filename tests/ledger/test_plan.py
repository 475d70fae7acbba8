"""Writing plans: one transaction, chunked, lazily consumed, never twice."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timezone

import pytest
import sqlalchemy as sa

from tests.ledger.conftest import make_batches, make_campaign, phone
from yxt_provider.ledger import Ledger, PlannedBatch, dialects, schema, send_store


def test_create_plan_writes_campaign_batches_and_messages(ledger: Ledger) -> None:
    assert ledger.get_campaign("c1") is None
    assert ledger.create_plan(
        make_campaign("c1", planned=5, batches=2, segments=7), make_batches("c1", [3, 2])
    )
    campaign = ledger.get_campaign("c1")
    assert campaign is not None
    assert (campaign.status, campaign.planned, campaign.batches, campaign.segments) == ("planned", 5, 2, 7)
    assert campaign.source_fingerprint == "fp-1"
    assert campaign.created_at is not None and campaign.created_at.tzinfo == timezone.utc
    batches = ledger.iter_batches("c1")
    assert [b.batch_index for b in batches] == [0, 1]
    assert [b.size for b in batches] == [3, 2]
    assert all(b.state == "planned" and b.attempts == 0 and not b.duplicate for b in batches)
    assert ledger.batch_numbers("c1", 0) == [phone(0), phone(1), phone(2)]
    assert ledger.batch_numbers("c1", 1) == [phone(3), phone(4)]
    counts = ledger.campaign_counts("c1")
    assert (
        counts["batches_planned"] == 2 and counts["messages_planned"] == 5 and counts["messages_total"] == 5
    )


def test_counts_are_taken_from_what_was_written(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("c1", planned=0, batches=0), make_batches("c1", [4, 4, 1]))
    campaign = ledger.get_campaign("c1")
    assert campaign is not None and (campaign.planned, campaign.batches) == (9, 3)


def test_batch_numbers_keep_planned_order(ledger: Ledger) -> None:
    numbers = [phone(9), phone(2), phone(7), phone(1)]
    batch = PlannedBatch(
        campaign_id="c1",
        batch_index=0,
        serial_number="1" * 20,
        template_id="t",
        content="x",
        content_hash="h",
        numbers=numbers,
    )
    assert ledger.create_plan(make_campaign("c1"), [batch])
    assert ledger.batch_numbers("c1", 0) == numbers


def test_duplicate_plan_returns_false_and_writes_nothing(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [2]))
    consumed: list[int] = []

    def second() -> Iterator[PlannedBatch]:
        for batch in make_batches("c1", [5, 5], campaign_no=2):
            consumed.append(batch.batch_index)
            yield batch

    assert ledger.create_plan(make_campaign("c1", source_fingerprint="other"), second()) is False
    assert consumed == []  # not even read
    assert ledger.campaign_counts("c1")["messages_total"] == 2
    campaign = ledger.get_campaign("c1")
    assert campaign is not None and campaign.source_fingerprint == "fp-1"


def test_failed_plan_rolls_back_everything(ledger: Ledger) -> None:
    def bad() -> Iterator[PlannedBatch]:
        yield from make_batches("c1", [3])
        yield from make_batches("other", [3], campaign_no=9)

    with pytest.raises(ValueError, match="belongs to campaign"):
        ledger.create_plan(make_campaign("c1"), bad())
    assert ledger.get_campaign("c1") is None
    assert ledger.campaign_counts("c1")["messages_total"] == 0
    # ...and the id is free for a correct plan.
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [3]))


def test_serial_collision_across_campaigns_is_an_error(ledger: Ledger) -> None:
    assert ledger.create_plan(make_campaign("c1"), make_batches("c1", [1], campaign_no=1))
    with pytest.raises(sa.exc.IntegrityError):
        ledger.create_plan(make_campaign("c2"), make_batches("c2", [1], campaign_no=1, start=100))
    assert ledger.get_campaign("c2") is None


def test_large_plan_is_chunked_lazily_and_complete(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """50,000 rows through a small chunk size: many flushes, every row written once, in order."""
    monkeypatch.setattr(send_store, "PLAN_CHUNK_ROWS", 4_000)
    chunk_sizes: list[int] = []
    real_writer = dialects.message_writer

    def recording_writer(conn: sa.Connection) -> Callable[[list[tuple[str, str, str, int, int, str]]], None]:
        write = real_writer(conn)

        def record(rows: list[tuple[str, str, str, int, int, str]]) -> None:
            chunk_sizes.append(len(rows))
            write(rows)

        return record

    monkeypatch.setattr(dialects, "message_writer", recording_writer)
    in_flight = {"produced": 0}

    def batches() -> Iterator[PlannedBatch]:
        for batch in make_batches("big", [1000] * 50):
            in_flight["produced"] += 1
            yield batch

    assert ledger.create_plan(make_campaign("big"), batches())
    assert in_flight["produced"] == 50
    counts = ledger.campaign_counts("big")
    assert counts["messages_planned"] == 50_000 and counts["batches_planned"] == 50
    assert ledger.batch_numbers("big", 49)[-1] == phone(49_999)
    with ledger.engine.connect() as conn:
        distinct = conn.execute(
            sa.select(sa.func.count(sa.distinct(schema.messages.c.phone))).where(
                schema.messages.c.campaign_id == "big"
            )
        ).scalar()
    assert distinct == 50_000
    # Never one row per statement, never the whole plan in one call.
    assert chunk_sizes == [4_000] * 12 + [2_000]


def test_concurrent_create_plan_writes_one_plan(ledger_url: str, ledger: Ledger) -> None:
    ledgers = [Ledger.from_url(ledger_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results.append(
                ledgers[index].create_plan(
                    make_campaign("race", source_fingerprint=f"fp-{index}"), make_batches("race", [2000] * 5)
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for other in ledgers:
        other.dispose()
    assert not errors, errors
    assert sorted(results) == [False, True]
    assert ledger.campaign_counts("race")["messages_total"] == 10_000
