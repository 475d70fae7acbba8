"""``YxtRepliesTrigger``: an event trigger that reads replies into the ledger and wakes DAGs when any arrive.

For Airflow 3's event-driven scheduling: an ``Asset`` with an ``AssetWatcher`` running this
trigger (directly, or as ``MessageQueueTrigger(scheme="yxt", ...)`` from
``apache-airflow-providers-common-messaging``) is updated each time new replies are stored,
and DAGs scheduled on the asset run.

The event is only a wake-up. Each poll stores and confirms exactly as
``FetchRepliesOperator`` does *before* yielding, so by the time a DAG runs its replies are in
the ledger; the consumer takes them from there (``Ledger.take_replies``), which is what makes
a lost event (the triggerer died after yielding) or a repeated one harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.hooks.ledger import open_ledger
from yxt_provider.ledger.opt_out_keywords import DEFAULT_OPT_OUT_KEYWORDS, check_opt_out_keywords

if TYPE_CHECKING:
    from yxt_provider.ledger import Ledger

__all__ = ["YxtRepliesTrigger"]

# After consecutive failed polls, wait up to this many poll intervals before the next one.
_MAX_BACKOFF_INTERVALS = 10


class YxtRepliesTrigger(BaseEventTrigger):
    """Poll the gateway's replies, store and confirm them, and fire an event when new ones are stored.

    Runs for as long as the watching DAG is active; a failed poll is logged and retried later
    (with a growing pause), never ends the trigger. Its event payload: ``stored``,
    ``already_stored``, ``attributed``, ``pages``, ``max_id`` and ``ledger_conn_id`` — counts,
    never a number or a reply text.

    :param yxt_conn_id: the YXT connection.
    :param ledger_conn_id: the ledger's SQL connection; ``None`` for the embedded SQLite file.
    :param poll_interval: seconds between polls.
    :param max_pages: pages read at most per poll.
    :param attribution_window_seconds: how long after a campaign messaged a number a reply
        from it still answers that campaign.
    :param opt_out_keywords: replies that put their number on the opt-out list (see
        ``FetchRepliesOperator``).
    """

    def __init__(
        self,
        *,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        ledger_conn_id: str | None = None,
        poll_interval: float = 30.0,
        max_pages: int = 100,
        attribution_window_seconds: float = 7 * 86_400,
        opt_out_keywords: Sequence[str] = DEFAULT_OPT_OUT_KEYWORDS,
    ) -> None:
        super().__init__()
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval}")
        self.yxt_conn_id = yxt_conn_id
        self.ledger_conn_id = ledger_conn_id
        self.poll_interval = float(poll_interval)
        self.max_pages = int(max_pages)
        self.attribution_window_seconds = float(attribution_window_seconds)
        self.opt_out_keywords = list(check_opt_out_keywords(opt_out_keywords))

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and JSON-able kwargs; connection ids only, never credentials."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "yxt_conn_id": self.yxt_conn_id,
                "ledger_conn_id": self.ledger_conn_id,
                "poll_interval": self.poll_interval,
                "max_pages": self.max_pages,
                "attribution_window_seconds": self.attribution_window_seconds,
                "opt_out_keywords": self.opt_out_keywords,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll, store, confirm; yield an event after every poll that stored new replies."""
        from yxt_provider.hooks.yxt import YxtHook
        from yxt_provider.replies.ingest import adrain_replies

        hook = YxtHook(self.yxt_conn_id)
        ledger: Ledger | None = None
        failures = 0
        try:
            while True:
                try:
                    await hook.aget_settings()
                    if ledger is None:
                        ledger = await asyncio.to_thread(open_ledger, self.ledger_conn_id)
                    result = await adrain_replies(
                        hook,
                        ledger,
                        max_pages=self.max_pages,
                        max_seconds=self.poll_interval,
                        attribution_window=timedelta(seconds=self.attribution_window_seconds),
                        opt_out_keywords=self.opt_out_keywords,
                    )
                # Broad on purpose: a watcher that dies stops the DAG's event schedule, while a
                # gateway, connection or database fixed later should simply be polled again.
                except Exception as exc:
                    failures += 1
                    self.log.warning(
                        "Reading replies failed (%s: %s); polling again later", type(exc).__name__, exc
                    )
                else:
                    failures = 0
                    if result.stored:
                        self.log.info(
                            "Stored %d new replies (confirmed up to maxId %s)", result.stored, result.max_id
                        )
                        payload = {**result.to_dict(), "ledger_conn_id": self.ledger_conn_id}
                        payload.pop("elapsed_seconds")
                        yield TriggerEvent(payload)
                await asyncio.sleep(self.poll_interval * min(2**failures, _MAX_BACKOFF_INTERVALS))
        finally:
            hook.close()
