"""The ledger's own exceptions (database errors come through as SQLAlchemy's)."""

from __future__ import annotations

__all__ = ["LedgerError", "UnknownBatchError", "UnknownCampaignError"]


class LedgerError(RuntimeError):
    """Base class of the ledger's own errors."""


class UnknownCampaignError(LedgerError, LookupError):
    """No campaign with that id is in the ledger."""


class UnknownBatchError(LedgerError, LookupError):
    """No batch with that (campaign, index) is in the ledger."""
