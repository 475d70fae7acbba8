"""Drain ``/info/sms/report`` into the ledger, one page at a time.

The gateway hands each receipt out once, to whoever asks first, for the whole account.
So every page is written to the ledger (``Ledger.store_receipts``: idempotent, safe to run
concurrently) *before* the next page is requested, and the function returns only after
everything it read is committed.

The one window that can lose receipts is the page in hand: read from the gateway, not yet
committed. A process killed inside that window loses at most that one page (at most
``report_page_size`` receipts); the gateway will not hand them out again. The same holds
for a ``report`` response lost on the network after the gateway handed the page out — a
limitation of the protocol, which has no acknowledgement for receipts. Keeping the window
to one page is why pages are never batched up in memory here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from yxt_provider.client.models import Receipt
    from yxt_provider.ledger import Ledger, ReceiptIngestCounts


class ReceiptSource(Protocol):
    """Anything that reads one page of receipts: a ``YxtClient`` or a ``YxtHook``."""

    def fetch_receipts(self) -> list[Receipt]:
        """One page of receipts; an empty list when there are none."""
        ...


__all__ = [
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_SECONDS",
    "IngestResult",
    "ReceiptSource",
    "adrain_receipts",
    "drain_receipts",
]

log = logging.getLogger(__name__)

#: Pages one drain reads at most by default.
DEFAULT_MAX_PAGES = 1000
#: Seconds one drain runs at most by default (at least one page is always read).
DEFAULT_MAX_SECONDS = 60.0

# Why a drain stopped.
STOP_EXHAUSTED = "exhausted"  # an empty page or code 38: nothing more to read right now
STOP_MAX_PAGES = "max_pages"
STOP_MAX_SECONDS = "max_seconds"


@dataclass(frozen=True)
class IngestResult:
    """What one drain did. Never contains a phone number, so it can be logged and pushed to XCom.

    ``stored_new == matched + unmatched``; ``read - stored_new`` receipts were already in the
    ledger (repeats within a page, or stored by another process).

    :param read: receipts read from the gateway.
    :param stored_new: receipts stored for the first time.
    :param matched: of those, receipts that settled a message of this ledger (now delivered/failed).
    :param unmatched: of those, receipts for serials this ledger never sent (another sender on
        the account) or for messages already final; kept in the raw receipts table.
    :param pages: ``report`` calls that returned receipts.
    :param stopped: ``exhausted`` (the queue was empty), ``max_pages`` or ``max_seconds``.
    :param elapsed_seconds: wall time of the drain.
    """

    read: int = 0
    stored_new: int = 0
    matched: int = 0
    unmatched: int = 0
    pages: int = 0
    stopped: str = STOP_EXHAUSTED
    elapsed_seconds: float = 0.0

    @property
    def exhausted(self) -> bool:
        """True when the drain saw the queue empty (more receipts may have arrived since)."""
        return self.stopped == STOP_EXHAUSTED

    @property
    def duplicates(self) -> int:
        """Receipts read that were already stored."""
        return self.read - self.stored_new

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for XCom and trigger events)."""
        return {**asdict(self), "elapsed_seconds": round(self.elapsed_seconds, 3)}

    def __add__(self, other: IngestResult) -> IngestResult:
        """Totals of two drains; ``stopped`` is the later one's."""
        return IngestResult(
            read=self.read + other.read,
            stored_new=self.stored_new + other.stored_new,
            matched=self.matched + other.matched,
            unmatched=self.unmatched + other.unmatched,
            pages=self.pages + other.pages,
            stopped=other.stopped,
            elapsed_seconds=self.elapsed_seconds + other.elapsed_seconds,
        )


def drain_receipts(
    client: ReceiptSource,
    ledger: Ledger,
    *,
    max_pages: int | None = DEFAULT_MAX_PAGES,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    on_page: Callable[[ReceiptIngestCounts], None] | None = None,
) -> IngestResult:
    """Read receipt pages until the queue is empty (or a bound is hit), storing each page first.

    Every receipt read is stored in the ledger's raw receipts table, also those for serials
    this ledger never sent; receipts naming a message of the ledger settle it (delivered or
    failed with the gateway's result code, receipt time). Safe to run in several processes
    at once: each receipt is handed out to one of them, and storing is idempotent.

    :param client: where receipts come from: a ``YxtHook`` or a ``YxtClient``.
    :param ledger: the ledger (``YxtLedgerHook(...).ledger``).
    :param max_pages: stop after this many non-empty pages (``None``: no limit). At least one
        page is always requested.
    :param max_seconds: do not request another page after this many seconds (``None``: no
        limit). A page already in hand is always stored.
    :param on_page: called with each page's counts after it is committed (progress reporting).
    :returns: totals of the drain.
    :raises YxtError: when the gateway call fails after the client's retries; every page read
        before it is already stored.
    """
    if max_pages is not None and max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, got {max_pages}")
    if max_seconds is not None and max_seconds < 0:
        raise ValueError(f"max_seconds must not be negative, got {max_seconds}")
    started = time.monotonic()
    read = stored = matched = unmatched = pages = 0
    stopped = STOP_EXHAUSTED
    while True:
        page = client.fetch_receipts()  # code 38 comes back as []
        if not page:
            break
        # Store before asking for more: the page in hand is the only thing a crash can lose.
        counts = ledger.store_receipts(page)
        pages += 1
        read += counts.read
        stored += counts.stored_new
        matched += counts.matched
        unmatched += counts.unmatched
        if on_page is not None:
            on_page(counts)
        if max_pages is not None and pages >= max_pages:
            stopped = STOP_MAX_PAGES
            break
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            stopped = STOP_MAX_SECONDS
            break
    result = IngestResult(
        read=read,
        stored_new=stored,
        matched=matched,
        unmatched=unmatched,
        pages=pages,
        stopped=stopped,
        elapsed_seconds=time.monotonic() - started,
    )
    log.debug("receipts drained: %s", result)
    return result


async def adrain_receipts(
    client: ReceiptSource,
    ledger: Ledger,
    *,
    max_pages: int | None = DEFAULT_MAX_PAGES,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
) -> IngestResult:
    """:func:`drain_receipts` for an event loop (triggers): runs in a worker thread.

    The client and the ledger are synchronous; the thread keeps the loop free. If the awaiting
    task is cancelled (the triggerer moves the trigger), the thread still finishes the page in
    hand and stores it — cancelling never strands a page read from the gateway.

    :param client: the gateway client.
    :param ledger: the ledger.
    :param max_pages: see :func:`drain_receipts`.
    :param max_seconds: see :func:`drain_receipts`.
    """
    return await asyncio.to_thread(
        drain_receipts, client, ledger, max_pages=max_pages, max_seconds=max_seconds
    )
