"""The summary of one campaign try: counts only, never a phone number, so it can go to XCom."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from yxt_provider.campaign.planning import CampaignPlan
from yxt_provider.campaign.recipients import CleanRecipients
from yxt_provider.campaign.sender import SendOutcome
from yxt_provider.ledger.models import CampaignRecord

__all__ = ["CampaignSummary"]


@dataclass(frozen=True)
class CampaignSummary:
    """What one try of a campaign did (``SendSmsOperator``'s return value, as :meth:`to_dict`).

    :param campaign_id: the campaign.
    :param dry_run: True when nothing was sent or recorded.
    :param planned: recipients in the plan.
    :param sent: recipients this try sent.
    :param invalid: recipients set aside as not mobile numbers.
    :param duplicate: recipients dropped as repeats.
    :param opted_out: recipients skipped as on the opt-out list (at planning, or before their
        batch's first attempt).
    :param capped: recipients skipped as over the frequency cap.
    :param refused: recipients the gateway refused inside a request it accepted
        (``data.failList``) in this try: not sent, and no retry sends them.
    :param skipped: recipients accepted before this try (sent batches, and re-sends the gateway knew).
    :param failed: recipients whose batch is not sent yet.
    :param batches: send requests in the plan.
    :param segments: estimated billable messages.
    :param elapsed_seconds: wall time of the try.
    :param status: how the try ended: ``sent`` (every recipient accepted), ``dry_run``,
        ``empty`` (no valid recipient, allowed), ``rejected`` (nothing planned or sent: bad
        input), ``stopped`` (an error no retry fixes), ``incomplete`` (transient failures; a
        retry resumes), ``unreachable`` (the gateway did not answer; a retry resumes),
        ``waiting`` (outside the send window; nothing sent yet) or ``paused`` (the window
        closed mid-campaign).
    :param error: why, when the try did not send everyone.
    :param resume_at: for ``waiting`` and ``paused``: when the window opens next (ISO 8601).
    """

    campaign_id: str
    dry_run: bool = False
    planned: int = 0
    sent: int = 0
    invalid: int = 0
    duplicate: int = 0
    opted_out: int = 0
    capped: int = 0
    refused: int = 0
    skipped: int = 0
    failed: int = 0
    batches: int = 0
    segments: int = 0
    elapsed_seconds: float = 0.0
    status: str = "sent"
    error: str | None = None
    resume_at: str | None = None

    @classmethod
    def of_plan(
        cls, campaign_id: str, plan: CampaignPlan, clean: CleanRecipients, *, elapsed: float, dry_run: bool
    ) -> CampaignSummary:
        """The summary of a plan nothing was sent from (a dry run, or an empty campaign).

        :param campaign_id: the campaign.
        :param plan: the plan.
        :param clean: the cleaned recipients it was made from.
        :param elapsed: seconds the try took.
        :param dry_run: whether this was a dry run.
        """
        return cls(
            campaign_id=campaign_id,
            dry_run=dry_run,
            planned=plan.recipients,
            invalid=clean.invalid,
            duplicate=clean.duplicate,
            opted_out=clean.opted_out,
            capped=clean.capped,
            batches=len(plan.batches),
            segments=plan.segments,
            elapsed_seconds=round(elapsed, 3),
            status="dry_run" if dry_run else "empty",
        )

    @classmethod
    def of_send(
        cls,
        campaign: CampaignRecord,
        outcome: SendOutcome,
        *,
        elapsed: float,
        status: str = "sent",
        error: str | None = None,
        resume_at: str | None = None,
    ) -> CampaignSummary:
        """The summary of a send pass over a recorded campaign.

        :param campaign: the campaign as recorded in the ledger.
        :param outcome: what the pass did.
        :param elapsed: seconds the try took.
        :param status: how the pass ended (see the class).
        :param error: why, when it did not send everyone.
        :param resume_at: when a ``paused`` campaign goes on.
        """
        return cls(
            campaign_id=campaign.campaign_id,
            planned=campaign.planned,
            sent=outcome.sent_recipients,
            invalid=campaign.invalid,
            duplicate=campaign.duplicate,
            opted_out=campaign.opted_out,
            capped=campaign.capped,
            refused=outcome.refused_recipients,
            # Accepted before this try: batches it skipped, and re-sends the gateway knew (15).
            skipped=outcome.skipped_recipients + outcome.duplicate_recipients,
            failed=outcome.unsent_recipients,
            batches=campaign.batches,
            segments=campaign.segments,
            elapsed_seconds=round(elapsed, 3),
            status=status,
            error=error,
            resume_at=resume_at,
        )

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-able dict."""
        return asdict(self)
