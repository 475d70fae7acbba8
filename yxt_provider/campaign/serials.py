"""Deterministic 20-digit serial numbers: the same campaign and batch always get the same serial.

That is what makes a re-sent batch a no-op at the gateway (code 15) instead of a second message.
Layout: 14 digits from a SHA-256 of the ledger's key and the campaign id, then the batch
index in 6 digits. The ledger's key (random, made with the ledger) keeps two deployments on
one gateway account — staging and production running the same DAG for the same date —
from deriving the same serials; within one ledger, every retry derives the same ones.
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_BATCHES_PER_CAMPAIGN", "campaign_serial_prefix", "serial_for_batch"]

_PREFIX_DIGITS = 14
_INDEX_DIGITS = 6
#: Batches one campaign may have: the batch index takes the last six digits of the 20-digit serial.
MAX_BATCHES_PER_CAMPAIGN = 10**_INDEX_DIGITS


def campaign_serial_prefix(campaign_id: str, ledger_key: str = "") -> str:
    """Return the 14-digit prefix every batch serial of ``campaign_id`` shares.

    :param campaign_id: the campaign.
    :param ledger_key: the ledger's identity (``Ledger.identity``); empty gives the serials
        of ledgers made before schema version 2.
    """
    seed = f"{ledger_key}/{campaign_id}" if ledger_key else campaign_id
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**_PREFIX_DIGITS:0{_PREFIX_DIGITS}d}"


def serial_for_batch(campaign_id: str, batch_index: int, ledger_key: str = "") -> str:
    """Return the serial of batch ``batch_index`` of ``campaign_id``.

    :param campaign_id: the campaign.
    :param batch_index: the batch's position in the campaign.
    :param ledger_key: the ledger's identity (see :func:`campaign_serial_prefix`).
    :raises ValueError: when the index does not fit the 6 digits reserved for it.
    """
    if not 0 <= batch_index < MAX_BATCHES_PER_CAMPAIGN:
        raise ValueError(
            f"batch index {batch_index} is out of range: a campaign has at most {MAX_BATCHES_PER_CAMPAIGN} "
            "batches; shard it with dynamic task mapping"
        )
    return f"{campaign_serial_prefix(campaign_id, ledger_key)}{batch_index:0{_INDEX_DIGITS}d}"
