"""The JSON API's answers (pydantic models, so the API's OpenAPI schema documents them)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from yxt_provider.ledger.overview import CampaignDetail, CampaignPage, CampaignSummary

__all__ = [
    "CampaignDetailOut",
    "CampaignListOut",
    "CampaignOut",
    "FailureOut",
    "FunnelOut",
    "ReceiptBucketOut",
    "ReplyOut",
]


class CampaignOut(BaseModel):
    """One campaign's line: its task instance and where its messages stand (shares in percent of recipients)."""

    campaign_id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    created_at: datetime
    status: str
    recipients: int
    sent: int
    delivered: int
    failed: int = Field(description="receipts saying failed (the delivery report's failed)")
    refused: int = Field(description="numbers the gateway refused inside an accepted send (data.failList)")
    pending: int = Field(description="accepted by the gateway, no receipt yet")
    not_sent: int
    replies: int
    opt_outs: int = Field(description="numbers that opted out by replying to this campaign")
    delivered_pct: float
    failed_pct: float = Field(description="failed or refused, in percent of the recipients")
    pending_pct: float

    @classmethod
    def of(cls, summary: CampaignSummary) -> CampaignOut:
        """The JSON form of a :class:`~yxt_provider.ledger.overview.CampaignSummary`."""
        return cls(
            **{name: getattr(summary, name) for name in CampaignSummary.__dataclass_fields__},
            delivered_pct=round(summary.delivered_pct, 2),
            failed_pct=round(summary.failed_pct, 2),
            pending_pct=round(summary.pending_pct, 2),
        )


class CampaignListOut(BaseModel):
    """A page of campaigns, newest first."""

    total_entries: int = Field(description="campaigns matching the filters, on all pages")
    limit: int
    offset: int
    campaigns: list[CampaignOut]

    @classmethod
    def of(cls, page: CampaignPage) -> CampaignListOut:
        """The JSON form of a :class:`~yxt_provider.ledger.overview.CampaignPage`."""
        return cls(
            total_entries=page.total, limit=page.limit, offset=page.offset,
            campaigns=[CampaignOut.of(c) for c in page.campaigns],
        )  # fmt: skip


class FunnelOut(BaseModel):
    """Planned → sent → delivered / failed / pending, and what never reached the gateway."""

    planned: int
    sent: int
    delivered: int
    failed: int
    pending: int
    refused: int
    not_sent: int
    invalid: int
    duplicate: int
    opted_out: int
    capped: int


class FailureOut(BaseModel):
    """Messages that did not arrive for one reason (``kind``: receipt, refused, not_sent)."""

    kind: str
    code: int | None
    meaning: str
    count: int


class ReceiptBucketOut(BaseModel):
    """Receipts of one interval (``bucket_seconds`` long, from ``start``)."""

    start: datetime
    delivered: int
    failed: int


class ReplyOut(BaseModel):
    """A reply, its number masked (and any number in its text)."""

    number: str
    received_at: datetime
    content: str
    opted_out: bool


class CampaignDetailOut(BaseModel):
    """One campaign: its line, funnel, failures by code, receipts over time, latest replies."""

    campaign: CampaignOut
    funnel: FunnelOut
    failures: list[FailureOut]
    bucket_seconds: int
    receipts: list[ReceiptBucketOut]
    replies: list[ReplyOut]

    @classmethod
    def of(cls, detail: CampaignDetail) -> CampaignDetailOut:
        """The JSON form of a :class:`~yxt_provider.ledger.overview.CampaignDetail`."""
        r = detail.report
        return cls(
            campaign=CampaignOut.of(detail.summary),
            funnel=FunnelOut(
                planned=r.total, sent=r.sent, delivered=r.delivered, failed=r.failed, pending=r.pending,
                refused=r.refused, not_sent=r.not_sent, invalid=r.invalid, duplicate=r.duplicate,
                opted_out=r.opted_out, capped=r.capped,
            ),
            failures=[FailureOut(kind=f.kind, code=f.code, meaning=f.meaning, count=f.count) for f in detail.failures],
            bucket_seconds=detail.bucket_seconds,
            receipts=[ReceiptBucketOut(start=b.start, delivered=b.delivered, failed=b.failed) for b in detail.receipts],
            replies=[
                ReplyOut(number=x.number, received_at=x.received_at, content=x.content, opted_out=x.opted_out)
                for x in detail.replies
            ],
        )  # fmt: skip
