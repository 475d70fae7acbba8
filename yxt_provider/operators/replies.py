"""``FetchRepliesOperator``: read the gateway's inbound replies into the ledger, store first, confirm after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.ledger.opt_out_keywords import DEFAULT_OPT_OUT_KEYWORDS, check_opt_out_keywords
from yxt_provider.ledger.report import pending_timeout_of

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.hooks.yxt import YxtHook
    from yxt_provider.ledger import StoredReply

__all__ = ["FetchRepliesOperator", "reply_for_xcom"]


def reply_for_xcom(reply: StoredReply, *, unmask_number: bool = False) -> dict[str, Any]:
    """A stored reply as a JSON-able dict, its number masked unless asked otherwise.

    :param reply: the reply.
    :param unmask_number: put the full number in (the XCom is then personal data).
    """
    from yxt_provider.client.numbers import mask_number

    return {
        "user_number": reply.user_number if unmask_number else mask_number(reply.user_number),
        "content": reply.content,
        "reply_time": reply.reply_time.isoformat(),
        "campaign_id": reply.campaign_id,
    }


class FetchRepliesOperator(LedgerUserMixin, BaseOperator):
    """Read every waiting inbound reply into the ledger: query a page, store it, confirm it, repeat.

    The gateway forgets replies once confirmed, so each page is committed to the ledger
    before it is confirmed; a confirm that fails leaves the page on the gateway, and the next
    run stores nothing of it twice. Each new reply is linked to the campaign of this ledger
    that last messaged its number before the reply (within ``attribution_window``).

    A new reply that is an unsubscribe keyword (``TD``, ``退订``, …) puts its number on the
    ledger's opt-out list, with the reply as evidence; campaigns then skip it.

    Returns (XCom) the counts: ``read``, ``stored``, ``already_stored``, ``attributed``,
    ``opted_out``, ``pages``, ``max_id`` (the last one confirmed), ``stopped`` and ``elapsed_seconds``; with
    ``push_replies`` also ``replies``, up to that many of the new replies (numbers masked
    unless ``unmask_numbers``). Reply texts are never logged.

    :param yxt_conn_id: the YXT connection (templated).
    :param ledger_conn_id: the ledger's SQL connection (templated); default the embedded SQLite file.
    :param max_pages: pages to read at most.
    :param max_seconds: stop querying after this many seconds (keep it below the schedule interval).
    :param attribution_window: how long after a campaign messaged a number a reply from it still
        answers that campaign: seconds or a timedelta (default seven days).
    :param push_replies: push up to this many new replies to XCom (0: none).
    :param unmask_numbers: full numbers in the pushed replies (they are personal data).
    :param opt_out_keywords: replies that put their number on the opt-out list, compared
        after trimming and case-folding (default ``TD``, ``T``, ``N``, ``R``, ``退订``, ``取消``);
        an empty list: no reply opts out.
    """

    template_fields: Sequence[str] = ("yxt_conn_id", "ledger_conn_id", "max_pages", "max_seconds")
    ui_color = "#eef0e3"

    def __init__(
        self,
        *,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        ledger_conn_id: str | None = None,
        max_pages: int = 100,
        max_seconds: float = 60.0,
        attribution_window: float | timedelta = timedelta(days=7),
        push_replies: int = 0,
        unmask_numbers: bool = False,
        opt_out_keywords: Sequence[str] = DEFAULT_OPT_OUT_KEYWORDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if push_replies < 0:
            raise ValueError(f"push_replies must not be negative, got {push_replies}")
        window = pending_timeout_of(attribution_window)
        if window is None or window <= timedelta(0):
            raise ValueError(f"attribution_window must be a positive duration, got {attribution_window!r}")
        self.yxt_conn_id = yxt_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.max_pages = max_pages
        self.max_seconds = max_seconds
        self.attribution_window = window
        self.push_replies = push_replies
        self.unmask_numbers = unmask_numbers
        self.opt_out_keywords = check_opt_out_keywords(opt_out_keywords)

    @cached_property
    def hook(self) -> YxtHook:
        """The YXT hook (built on first use)."""
        from yxt_provider.hooks.yxt import YxtHook

        return YxtHook(self.yxt_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Drain the replies; return the counts (and the new replies, when asked)."""
        from yxt_provider.replies.ingest import drain_replies

        try:
            result = drain_replies(
                self.hook,
                self.ledger,
                max_pages=int(self.max_pages),
                max_seconds=float(self.max_seconds),
                attribution_window=self.attribution_window,
                opt_out_keywords=self.opt_out_keywords,
                keep_new=self.push_replies,
            )
        finally:
            self.hook.close()
        self.log.info(
            "Read %d replies in %d pages (%s): %d new (%d answer campaigns of this ledger, %d opted out), "
            "%d already stored; confirmed up to maxId %s",
            result.read, result.pages, result.stopped, result.stored, result.attributed, result.opted_out,
            result.already_stored, result.max_id,
        )  # fmt: skip
        counts = result.to_dict()
        if self.push_replies:
            counts["replies"] = [reply_for_xcom(r, unmask_number=self.unmask_numbers) for r in result.new]
        return counts
