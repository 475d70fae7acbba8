"""``FetchReceiptsOperator``: drain the gateway's delivery receipts into the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.receipts.ingest import DEFAULT_MAX_PAGES, DEFAULT_MAX_SECONDS

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.hooks.yxt import YxtHook
    from yxt_provider.ledger import ReceiptIngestCounts

__all__ = ["FetchReceiptsOperator"]


class FetchReceiptsOperator(LedgerUserMixin, BaseOperator):
    """Read every waiting delivery receipt and store it in the ledger, page by page.

    The receipt queue is read-once and shared by everything on the account, so each page is
    committed to the ledger before the next one is requested; receipts for serials this
    ledger never sent are kept too. Safe to run while sensors or other syncs read receipts:
    each receipt is handed to one reader and storing is idempotent.

    Returns (XCom) the counts: ``read``, ``stored_new``, ``matched`` (settled one of our
    messages), ``unmatched`` (another sender's, or a message already final), ``pages``,
    ``stopped`` (``exhausted``, ``max_pages`` or ``max_seconds``) and ``elapsed_seconds``.

    :param yxt_conn_id: the YXT connection (templated).
    :param ledger_conn_id: the ledger's SQL connection (templated); default the embedded SQLite file.
    :param max_pages: pages to read at most.
    :param max_seconds: stop requesting pages after this many seconds (keep it below the
        schedule interval so runs do not pile up).
    """

    template_fields: Sequence[str] = ("max_pages", "max_seconds", "yxt_conn_id", "ledger_conn_id")
    ui_color = "#eaf2e3"

    def __init__(
        self,
        *,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        ledger_conn_id: str | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.yxt_conn_id = yxt_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.max_pages = max_pages
        self.max_seconds = max_seconds

    @cached_property
    def hook(self) -> YxtHook:
        """The YXT hook (built on first use)."""
        from yxt_provider.hooks.yxt import YxtHook

        return YxtHook(self.yxt_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Drain the queue; return the counts."""
        from yxt_provider.receipts.ingest import drain_receipts

        pages = 0

        def progress(counts: ReceiptIngestCounts) -> None:
            nonlocal pages
            pages += 1
            if pages % 50 == 0:
                self.log.info("... %d pages read so far", pages)

        try:
            result = drain_receipts(
                self.hook,
                self.ledger,
                max_pages=int(self.max_pages),
                max_seconds=float(self.max_seconds),
                on_page=progress,
            )
        finally:
            self.hook.close()
        self.log.info(
            "Read %d receipts in %d pages (%s, %.1fs): %d settled messages of this ledger, "
            "%d for other senders or already final, %d already stored",
            result.read, result.pages, result.stopped, result.elapsed_seconds, result.matched,
            result.unmatched, result.duplicates,
        )  # fmt: skip
        return result.to_dict()
