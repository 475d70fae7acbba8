"""One try of a campaign: plan it into the ledger (or resume the recorded plan), then send it.

This is everything ``SendSmsOperator`` does, without Airflow: the operator maps its
arguments and the task context onto a :class:`CampaignRun` and turns its errors into
Airflow's (see :mod:`yxt_provider.campaign.errors`).

The first try writes the plan (batches, serials, numbers) in one transaction before
anything is sent. A later try finds the plan and sends what the gateway has not accepted,
under the same serials; it never re-reads the audience into the plan, so nobody gets a
second or a different message when the source changed in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timezone

import pendulum

from yxt_provider.campaign.compliance import CompliancePolicy
from yxt_provider.campaign.content import MessageContent
from yxt_provider.campaign.errors import (
    CampaignIncompleteError,
    CampaignRejected,
    CampaignStoppedError,
    GatewayUnreachableError,
)
from yxt_provider.campaign.identity import TaskIdentity
from yxt_provider.campaign.planning import CampaignPlan, ContentError, plan_fingerprint, without_numbers
from yxt_provider.campaign.recipients import CleanRecipients, Recipient, clean_recipients
from yxt_provider.campaign.sender import CampaignSender, SendOutcome, SendSettings
from yxt_provider.campaign.summary import CampaignSummary
from yxt_provider.campaign.window import SendWindow
from yxt_provider.client.client import YxtClient
from yxt_provider.client.numbers import mask_numbers_in_text
from yxt_provider.ledger.models import CampaignRecord
from yxt_provider.ledger.store import Ledger

__all__ = ["CampaignRun", "check_template_id"]

log = logging.getLogger(__name__)


def check_template_id(template_id: str, known: Sequence[str] | None, conn_id: str) -> None:
    """Refuse a template the connection says the account does not have, before anything is sent.

    :param template_id: the campaign's template.
    :param known: the connection's ``templates`` extra (``None``: not configured, anything goes).
    :param conn_id: the connection, for the message.
    :raises CampaignRejected: when ``template_id`` is not among ``known``.
    """
    if known is not None and template_id not in known:
        raise CampaignRejected(
            f"template_id {template_id!r} is not among the templates of connection "
            f"{conn_id!r} ({', '.join(known)}); fix template_id or the connection's 'templates' extra"
        )


class CampaignRun:
    """One try of one campaign.

    :param ledger: where the plan and progress live.
    :param task: the task instance that sends (its retries share the campaign).
    :param campaign_id: the campaign (see :meth:`TaskIdentity.campaign_id`).
    :param template_id: the gateway template every batch uses.
    :param content: the message template and its context.
    :param recipients: reads the audience; called once per try that needs it.
    :param batch_size: numbers per request, at most 1000.
    :param allow_empty: an audience with no valid number succeeds with nothing sent (else rejected).
    :param policy: opt-outs, frequency cap and marketing checks, applied when the plan is written
        (default: opt-outs respected, no cap, not marketing).
    :param window: when the campaign may send; outside it a try sends nothing and says when
        to come back (status ``waiting``), and one that reaches its end stops between batches
        (status ``paused``).
    """

    def __init__(
        self,
        ledger: Ledger,
        task: TaskIdentity,
        *,
        campaign_id: str,
        template_id: str,
        content: MessageContent,
        recipients: Callable[[], Iterable[Recipient]],
        batch_size: int,
        allow_empty: bool = False,
        policy: CompliancePolicy | None = None,
        window: SendWindow | None = None,
    ) -> None:
        self.ledger = ledger
        self.task = task
        self.campaign_id = campaign_id
        self.template_id = template_id
        self.content = content
        self.read_recipients = recipients
        self.batch_size = batch_size
        self.allow_empty = allow_empty
        self.policy = policy or CompliancePolicy()
        self.window = window
        self._started = time.monotonic()
        self._sender: CampaignSender | None = None

    def dry_run(self) -> CampaignSummary:
        """Plan, count and estimate segments; send nothing and write nothing.

        :raises CampaignRejected: when the audience or the text cannot be used.
        """
        try:
            clean, plan, _ = self._prepare()
        except CampaignRejected as exc:
            exc.summary = CampaignSummary(
                campaign_id=self.campaign_id, dry_run=True, status="rejected", error=str(exc)
            )
            raise
        log.info(
            "Dry run of campaign %s: %d recipients in %d batches, about %d billable messages; nothing sent",
            self.campaign_id, plan.recipients, len(plan.batches), plan.segments,
        )  # fmt: skip
        return CampaignSummary.of_plan(self.campaign_id, plan, clean, elapsed=self._elapsed(), dry_run=True)

    def send(self, client: YxtClient, settings: SendSettings) -> CampaignSummary:
        """Plan (first try) or resume (later tries), then send every batch not yet accepted.

        Outside the send window nothing is planned or sent: the audience is read and checked,
        and the summary's ``status`` is ``waiting`` with ``resume_at``, the window's next
        opening. A pass that reaches the window's end ends ``paused``, also with ``resume_at``;
        the caller comes back then (``SendSmsOperator`` defers) and this method resumes.

        Every error raised carries the try's summary (``exc.summary``: counts, ``status``,
        ``error``), so the caller can hand on what happened even when the try fails.

        :param client: the gateway client; the caller closes it.
        :param settings: concurrency and pacing.
        :raises CampaignRejected: when the audience, the text or the campaign id cannot be used.
        :raises CampaignStoppedError: when the gateway refused in a way no retry can fix.
        :raises CampaignIncompleteError: when transient failures left batches unsent.
        """
        try:
            return self._send(client, settings)
        except CampaignRejected as exc:
            exc.summary = CampaignSummary(
                campaign_id=self.campaign_id,
                status="rejected",
                error=str(exc),
                elapsed_seconds=self._elapsed(),
            )
            raise
        except (CampaignStoppedError, CampaignIncompleteError) as exc:
            campaign = self.ledger.get_campaign(self.campaign_id)
            assert campaign is not None, "a send pass runs on a recorded plan"
            status = (
                "stopped"
                if isinstance(exc, CampaignStoppedError)
                else "unreachable"
                if isinstance(exc, GatewayUnreachableError)
                else "incomplete"
            )
            exc.summary = CampaignSummary.of_send(
                campaign, exc.outcome, elapsed=self._elapsed(), status=status, error=str(exc)
            )
            raise

    def _send(self, client: YxtClient, settings: SendSettings) -> CampaignSummary:
        now = _utcnow()
        recorded = self.ledger.get_campaign(self.campaign_id)
        if self.window is not None and not self.window.is_open(now):
            return self._wait_for_window(recorded, now)
        # Numbers of a plan this very try records: the send then need not read them back.
        planned_numbers: dict[int, Sequence[str]] | None = None
        if recorded is None:
            clean, plan, fingerprint = self._prepare()
            if not plan.batches and not clean.excluded:
                log.info(
                    "Campaign %s has no valid recipient; nothing to send (allow_empty=True)", self.campaign_id
                )
                return CampaignSummary.of_plan(
                    self.campaign_id, plan, clean, elapsed=self._elapsed(), dry_run=False
                )
            # Recorded even when nothing is left to send: every row set aside keeps its reason.
            if self.ledger.create_plan(self._record(clean, plan, fingerprint), plan.batches, clean.excluded):
                log.info(
                    "Campaign %s planned: %d recipients in %d batches (about %d billable messages)",
                    self.campaign_id, plan.recipients, len(plan.batches), plan.segments,
                )  # fmt: skip
                planned_numbers = {batch.batch_index: batch.numbers for batch in plan.batches}
            else:
                log.info(
                    "Campaign %s was planned concurrently by another process; sending that plan",
                    self.campaign_id,
                )
            del plan, clean
        else:
            self.task.check_planned_by(recorded)
            self._warn_if_source_changed(recorded)

        self._sender = CampaignSender(
            self.ledger,
            client,
            settings,
            respect_opt_out=self.policy.respect_opt_out,
            stop_at=self.window.closes_at(now) if self.window is not None else None,
        )
        outcome = self._sender.send(self.campaign_id, planned_numbers)
        campaign = self.ledger.get_campaign(self.campaign_id)
        assert campaign is not None, "the plan was just recorded"
        if outcome.paused:
            assert self.window is not None, "only a window pauses a campaign"
            resume_at = self.window.next_opening(_utcnow())
            return CampaignSummary.of_send(
                campaign, outcome, elapsed=self._elapsed(), status="paused", resume_at=resume_at.isoformat()
            )
        return CampaignSummary.of_send(
            campaign, outcome, elapsed=self._elapsed(), status="sent" if campaign.planned else "empty"
        )

    def _wait_for_window(self, recorded: CampaignRecord | None, now: datetime) -> CampaignSummary:
        """The summary of a try outside the send window: nothing sent, come back at its opening."""
        assert self.window is not None
        opens = self.window.next_opening(now)
        where = pendulum.instance(opens).in_timezone(self.window.timezone).strftime("%Y-%m-%d %H:%M:%S %Z")
        if recorded is None:
            # Checked now, planned at the opening: a mistake in the audience or the text shows
            # at once, and the plan (opt-outs, caps) is as fresh as the moment it goes out.
            clean, plan, _ = self._prepare()
            log.info(
                "Campaign %s is outside its send window (%s): %d recipients checked, nothing planned "
                "or sent; waiting until %s",
                self.campaign_id, self.window.describe(), plan.recipients, where,
            )  # fmt: skip
            summary = CampaignSummary.of_plan(
                self.campaign_id, plan, clean, elapsed=self._elapsed(), dry_run=False
            )
            return replace(summary, status="waiting", resume_at=opens.isoformat())
        log.info(
            "Campaign %s is outside its send window (%s); %d of its recipients wait until %s",
            self.campaign_id, self.window.describe(), recorded.planned, where,
        )  # fmt: skip
        batches = self.ledger.iter_batches(self.campaign_id)
        so_far = SendOutcome(
            batches=len(batches),
            recipients=sum(batch.size for batch in batches),
            skipped_recipients=sum(batch.size for batch in batches if batch.state == "sent"),
        )
        return CampaignSummary.of_send(
            recorded, so_far, elapsed=self._elapsed(), status="waiting", resume_at=opens.isoformat()
        )

    def stop(self) -> None:
        """Start no further batch; requests in flight finish and are recorded (for ``on_kill``)."""
        if self._sender is not None:
            self._sender.stop()

    # -- planning ---------------------------------------------------------------------------

    def _prepare(self, *, apply_policy: bool = True) -> tuple[CleanRecipients, CampaignPlan, str]:
        """Read, clean and plan the audience; the fingerprint is of the plan before compliance.

        :param apply_policy: set aside opted-out and capped numbers (a retry comparing the
            source with the recorded plan does not: those depend on the time, not the source).
        """
        try:
            clean = clean_recipients(self.read_recipients())
        except (ValueError, TypeError, OSError) as exc:
            raise CampaignRejected(f"cannot read the recipients: {exc}") from exc
        if clean.invalid:
            log.warning(
                "Set aside %d invalid numbers (not sent), e.g. %s",
                clean.invalid,
                ", ".join(clean.invalid_samples),
            )
        if clean.duplicate:
            log.info("Dropped %d duplicate numbers", clean.duplicate)
        if not clean.valid and not self.allow_empty:
            raise CampaignRejected(
                f"campaign {self.campaign_id} has no valid recipient ({clean.invalid} invalid, "
                f"{clean.duplicate} duplicate). Check the recipient source, or set allow_empty=True "
                "to let an empty campaign succeed"
            )
        try:
            plan, uniform = self.content.plan(
                self.campaign_id, clean, self.template_id, self.batch_size, ledger_key=self.ledger.identity
            )
        except ContentError as exc:
            raise CampaignRejected(f"campaign {self.campaign_id}: {exc}") from exc
        self.policy.check_texts(dict.fromkeys(batch.content for batch in plan.batches))
        fingerprint = plan_fingerprint(self.template_id, plan)
        if apply_policy:
            aside = self.policy.set_aside(self.ledger, clean, _utcnow())
            if aside:
                plan = without_numbers(
                    plan, aside, batch_size=self.batch_size, ledger_key=self.ledger.identity
                )
                log.info(
                    "Campaign %s skips %d opted-out numbers and %d over the frequency cap%s",
                    self.campaign_id, clean.opted_out, clean.capped,
                    f" ({self.policy.frequency_cap.describe()})" if self.policy.frequency_cap else "",
                )  # fmt: skip
        if uniform is not None and plan.batches:
            log.info(
                "Campaign %s sends one text to every recipient: %s",
                self.campaign_id,
                mask_numbers_in_text(uniform),
            )
        return clean, plan, fingerprint

    def _record(self, clean: CleanRecipients, plan: CampaignPlan, fingerprint: str) -> CampaignRecord:
        return CampaignRecord(
            campaign_id=self.campaign_id,
            dag_id=self.task.dag_id,
            run_id=self.task.run_id,
            task_id=self.task.task_id,
            map_index=self.task.map_index,
            template_id=self.template_id,
            planned=plan.recipients,
            invalid=clean.invalid,
            duplicate=clean.duplicate,
            opted_out=clean.opted_out,
            capped=clean.capped,
            batches=len(plan.batches),
            segments=plan.segments,
            source_fingerprint=fingerprint,
        )

    def _warn_if_source_changed(self, campaign: CampaignRecord) -> None:
        log.info(
            "Campaign %s already has a recorded plan (%d recipients, %d batches); resuming it",
            campaign.campaign_id, campaign.planned, campaign.batches,
        )  # fmt: skip
        try:
            _, plan, fingerprint = self._prepare(apply_policy=False)
        except Exception as exc:
            log.warning("Could not re-read the recipient source (%s); sending the recorded plan", exc)
            return
        if fingerprint != campaign.source_fingerprint:
            log.warning(
                "The recipients or content changed since campaign %s was planned (now %d recipients). "
                "Sending the recorded plan, so nobody gets a second or different message; "
                "use a new campaign_id to send the new audience",
                campaign.campaign_id, plan.recipients,
            )  # fmt: skip

    def _elapsed(self) -> float:
        return time.monotonic() - self._started


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)
