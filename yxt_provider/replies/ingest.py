"""Drain ``/info/sms/reply/query`` into the ledger: store a page, then confirm it, page after page.

The gateway keeps replies until ``reply/confirm(maxId)``, then forgets every reply up to
that id. So each page is committed to the ledger *before* it is confirmed: a reply
confirmed before it is stored is gone for good, while a page stored and not confirmed (the
confirm failed, the process died in between) is simply delivered again and stored as
nothing new (``Ledger.store_replies`` is idempotent). Unlike receipts, no crash window can
lose a reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from yxt_provider.client.errors import YxtProtocolError
from yxt_provider.ledger.opt_out_keywords import DEFAULT_OPT_OUT_KEYWORDS

if TYPE_CHECKING:
    from yxt_provider.client.models import ReplyPage
    from yxt_provider.ledger import Ledger, StoredReply

__all__ = [
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_SECONDS",
    "ReplyIngestResult",
    "ReplySource",
    "adrain_replies",
    "drain_replies",
]

log = logging.getLogger(__name__)

#: Pages one drain reads at most by default.
DEFAULT_MAX_PAGES = 100
#: Seconds one drain runs at most by default.
DEFAULT_MAX_SECONDS = 60.0
_DEFAULT_WINDOW = timedelta(days=7)


class ReplySource(Protocol):
    """Where replies come from: a ``YxtHook`` or a ``YxtClient``."""

    def query_replies(self) -> ReplyPage:
        """The unconfirmed replies and the ``maxId`` to confirm them with."""
        ...

    def confirm_replies(self, max_id: str) -> None:
        """Tell the gateway it may forget every reply up to ``max_id``."""
        ...


@dataclass(frozen=True)
class ReplyIngestResult:
    """What one drain did. Counts only in :meth:`to_dict`: no number, no reply text.

    :param read: replies read from the gateway.
    :param stored: stored for the first time.
    :param already_stored: stored before (a page delivered again after a failed confirm).
    :param attributed: of the stored ones, linked to a campaign of this ledger.
    :param opted_out: numbers these replies put on the opt-out list.
    :param pages: pages read, stored and confirmed.
    :param max_id: the last ``maxId`` confirmed, ``None`` when nothing was.
    :param stopped: ``exhausted`` (nothing more waiting), ``max_pages`` or ``max_seconds``.
    :param elapsed_seconds: wall time of the drain.
    :param new: the replies stored for the first time, at most as many as the caller kept.
    """

    read: int = 0
    stored: int = 0
    already_stored: int = 0
    attributed: int = 0
    opted_out: int = 0
    pages: int = 0
    max_id: str | None = None
    stopped: str = "exhausted"
    elapsed_seconds: float = 0.0
    new: tuple[StoredReply, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The counts as a JSON-able dict (for XCom and trigger events)."""
        return {
            "read": self.read,
            "stored": self.stored,
            "already_stored": self.already_stored,
            "attributed": self.attributed,
            "opted_out": self.opted_out,
            "pages": self.pages,
            "max_id": self.max_id,
            "stopped": self.stopped,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


def drain_replies(
    source: ReplySource,
    ledger: Ledger,
    *,
    max_pages: int | None = DEFAULT_MAX_PAGES,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    attribution_window: timedelta = _DEFAULT_WINDOW,
    opt_out_keywords: Iterable[str] | None = DEFAULT_OPT_OUT_KEYWORDS,
    keep_new: int = 0,
) -> ReplyIngestResult:
    """Read, store, confirm, until the gateway has nothing more (or a bound is hit).

    :param source: the gateway (a ``YxtHook`` or ``YxtClient``).
    :param ledger: the ledger.
    :param max_pages: pages at most (``None``: no limit); at least one query is always made.
    :param max_seconds: no new query after this many seconds (``None``: no limit).
    :param attribution_window: how long after a campaign messaged a number a reply still answers it.
    :param opt_out_keywords: replies that put their number on the opt-out list; ``None``: none.
    :param keep_new: keep up to this many of the newly stored replies in the result.
    :raises YxtError: when a call fails after the client's retries. Every page stored before
        is confirmed, except perhaps the last one, which the gateway then delivers again.
    :raises YxtProtocolError: when the gateway sends replies without a ``maxId``; they are
        stored, but cannot be confirmed.
    """
    if max_pages is not None and max_pages < 1:
        raise ValueError(f"max_pages must be at least 1, got {max_pages}")
    started = time.monotonic()
    read = stored = already = attributed = opted_out = pages = 0
    max_id: str | None = None
    new: list[StoredReply] = []
    stopped = "exhausted"
    while True:
        page = source.query_replies()
        if not page.replies:
            break
        counts = ledger.store_replies(  # store first
            page.replies, attribution_window=attribution_window, opt_out_keywords=opt_out_keywords
        )
        if page.max_id is None:
            raise YxtProtocolError(
                f"reply/query returned {len(page.replies)} replies without a maxId: they are stored in the "
                "ledger but cannot be confirmed, so the gateway will deliver them again"
            )
        source.confirm_replies(page.max_id)  # then confirm
        pages += 1
        max_id = page.max_id
        read += counts.read
        stored += counts.stored
        already += counts.already_stored
        attributed += counts.attributed
        opted_out += counts.opted_out
        new.extend(counts.new[: max(0, keep_new - len(new))])
        if max_pages is not None and pages >= max_pages:
            stopped = "max_pages"
            break
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            stopped = "max_seconds"
            break
    result = ReplyIngestResult(
        read=read, stored=stored, already_stored=already, attributed=attributed, opted_out=opted_out,
        pages=pages, max_id=max_id, stopped=stopped, elapsed_seconds=time.monotonic() - started, new=tuple(new),
    )  # fmt: skip
    log.debug("replies drained: %s", result)
    return result


async def adrain_replies(
    source: ReplySource,
    ledger: Ledger,
    *,
    max_pages: int | None = DEFAULT_MAX_PAGES,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    attribution_window: timedelta = _DEFAULT_WINDOW,
    opt_out_keywords: Iterable[str] | None = DEFAULT_OPT_OUT_KEYWORDS,
) -> ReplyIngestResult:
    """:func:`drain_replies` for an event loop (triggers): runs in a worker thread.

    If the awaiting task is cancelled, the thread still finishes the page in hand (store,
    then confirm), so cancelling never leaves a page confirmed but not stored.

    :param source: the gateway.
    :param ledger: the ledger.
    :param max_pages: see :func:`drain_replies`.
    :param max_seconds: see :func:`drain_replies`.
    :param attribution_window: see :func:`drain_replies`.
    :param opt_out_keywords: see :func:`drain_replies`.
    """
    return await asyncio.to_thread(
        drain_replies,
        source,
        ledger,
        max_pages=max_pages,
        max_seconds=max_seconds,
        attribution_window=attribution_window,
        opt_out_keywords=opt_out_keywords,
    )
