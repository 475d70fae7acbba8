"""Helpers for receipt tests: campaigns planned in a ledger and sent to the sandbox.

Receipt ingest runs on every backend the ledger supports, MariaDB/MySQL included.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.fixtures.ledger import ALL_BACKENDS, ledger_url_fixture
from yxt_provider.client import YxtClient
from yxt_provider.ledger import CampaignRecord, DeliveryReport, Ledger, PlannedBatch
from yxt_provider.receipts import IngestResult, drain_receipts
from yxt_provider.sandbox import SandboxServer

ANY_TEXT = "1000000000001"  # the sandbox's catch-all template

ledger_url = ledger_url_fixture(ALL_BACKENDS)


@dataclass(frozen=True)
class SentCampaign:
    """A campaign planned in the ledger and accepted by the sandbox."""

    campaign_id: str
    serials: frozenset[str]
    numbers: tuple[str, ...]


def send_campaign(
    ledger: Ledger,
    client: YxtClient,
    campaign_id: str,
    numbers: list[str],
    *,
    batch_size: int,
    tag: int,
    send_batches: int | None = None,
) -> SentCampaign:
    """Plan ``numbers`` in batches, send every batch (or the first ``send_batches``), mark it sent; return the serials sent."""
    batches = [
        PlannedBatch(
            campaign_id=campaign_id,
            batch_index=index,
            serial_number=f"{tag:08d}{index:012d}",
            template_id=ANY_TEXT,
            content=f"test {campaign_id}",
            content_hash="h",
            numbers=numbers[start : start + batch_size],
        )
        for index, start in enumerate(range(0, len(numbers), batch_size))
    ]
    record = CampaignRecord(
        campaign_id=campaign_id, dag_id="d", run_id="r", task_id="t", template_id=ANY_TEXT
    )
    assert ledger.create_plan(record, batches)
    sent = batches[:send_batches] if send_batches is not None else batches
    for batch in sent:
        result = client.send(batch.numbers, batch.content, ANY_TEXT, batch.serial_number)
        ledger.mark_sent(campaign_id, batch.batch_index, gateway_task_id=result.task_id, duplicate=False)
    return SentCampaign(
        campaign_id, frozenset(b.serial_number for b in sent), tuple(n for b in sent for n in b.numbers)
    )


def receipts_outstanding(sandbox: SandboxServer) -> int:
    """Receipts the sandbox has not handed out yet (waiting for their delay, or ready)."""
    receipts = sandbox.counters()["receipts"]
    return int(receipts["pending"]) + int(receipts["ready"])


def drain_until_settled(
    client: YxtClient, ledger: Ledger, sandbox: SandboxServer, *, deadline_seconds: float = 20.0
) -> IngestResult:
    """Drain repeatedly until the sandbox has handed out every receipt it will ever give (or fail)."""
    total = IngestResult()
    deadline = time.monotonic() + deadline_seconds
    while True:
        total += drain_receipts(client, ledger)
        if receipts_outstanding(sandbox) == 0:
            return total + drain_receipts(client, ledger)
        assert time.monotonic() < deadline, f"receipts still outstanding: {sandbox.counters()['receipts']}"
        time.sleep(0.05)


def report_counts(report: DeliveryReport) -> dict[str, object]:
    """The fields of a report that ``SandboxServer.expected_delivery`` predicts."""
    return {
        "sent": report.sent,
        "delivered": report.delivered,
        "failed": report.failed,
        "failed_by_code": report.failed_by_code,
        "pending": report.pending,
    }
