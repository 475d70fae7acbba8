"""The receipt side of the ledger: raw receipts stored once each, settling their messages.

:func:`store_receipts` is the body of :meth:`~yxt_provider.ledger.store.Ledger.store_receipts`,
which documents its contract. The statements themselves differ per backend and live in
:mod:`yxt_provider.ledger.dialects` (:func:`~yxt_provider.ledger.dialects.receipt_writer`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from yxt_provider.ledger import dialects
from yxt_provider.ledger.engine import retry_transient, write_transaction
from yxt_provider.ledger.models import ReceiptIngestCounts

if TYPE_CHECKING:
    from yxt_provider.client.models import Receipt

__all__ = ["RECEIPT_CHUNK_ROWS", "store_receipts"]

log = logging.getLogger(__name__)

#: Receipts per SQL statement when storing: bounds statement size (and SQLite's JSON text).
RECEIPT_CHUNK_ROWS = 5_000


def store_receipts(engine: Engine, receipts: Sequence[Receipt]) -> ReceiptIngestCounts:
    """Store a page of receipts in one transaction (retried whole after a deadlock).

    :param engine: the ledger's engine.
    :param receipts: the receipts (a page of any size).
    """
    # Dedupe within the page and sort: a stable lock order across concurrent callers, who
    # could deadlock inserting overlapping keys in different orders.
    unique = sorted({(r.serial_number, r.user_number): r.result for r in receipts}.items())
    if not unique:
        return ReceiptIngestCounts(read=len(receipts), stored_new=0, matched=0, unmatched=0)
    rows = [(serial, phone, int(result)) for (serial, phone), result in unique]
    store = dialects.receipt_writer(engine.dialect)

    def transaction() -> tuple[int, int]:
        now = datetime.now(timezone.utc)
        stored = matched = 0
        with write_transaction(engine) as conn:
            dialects.prepare_receipt_transaction(conn)
            for start in range(0, len(rows), RECEIPT_CHUNK_ROWS):
                s, m = store(conn, rows[start : start + RECEIPT_CHUNK_ROWS], now)
                stored += s
                matched += m
        return stored, matched

    stored, matched = retry_transient(transaction)
    counts = ReceiptIngestCounts(
        read=len(receipts), stored_new=stored, matched=matched, unmatched=stored - matched
    )
    log.debug("ledger: receipts stored: %s", counts)
    return counts
