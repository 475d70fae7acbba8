"""``SendSmsOperator``: send a batch campaign through the YXT gateway, exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cached_property
from itertools import islice
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from yxt_provider.campaign.planning import (
    CampaignPlan,
    ContentError,
    plan_campaign,
    plan_fingerprint,
    render_with,
)
from yxt_provider.campaign.recipients import CleanRecipients, Recipient, clean_recipients
from yxt_provider.campaign.sender import (
    CampaignSender,
    CampaignStoppedError,
    SendOutcome,
    SendSettings,
)
from yxt_provider.client.client import MAX_NUMBERS_PER_REQUEST
from yxt_provider.hooks.ledger import YxtLedgerHook
from yxt_provider.hooks.yxt import YxtHook
from yxt_provider.ledger.models import CampaignRecord
from yxt_provider.operators.recipient_sources import load_recipients

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.ledger.store import Ledger

__all__ = ["SendSmsOperator", "YxtCampaignStoppedError", "default_campaign_id"]


class YxtCampaignStoppedError(AirflowFailException):
    """The campaign hit an error no retry can fix (balance, template, credentials, IP, bad input).

    An ``AirflowFailException``: the task fails without spending its retries. What was sent
    stays sent; clearing the task after fixing the cause resumes where it stopped.
    """


def default_campaign_id(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The campaign id of one task instance: retries share it, other runs and map indexes do not."""
    return f"{dag_id}/{run_id}/{task_id}/{map_index}"


class SendSmsOperator(BaseOperator):
    """Send one message (uniform or personalised) to many recipients, in batches of at most 1000.

    The first try writes the campaign's plan (batches, serials, numbers) to the ledger, then
    sends it. A retry, a cleared task or a crashed worker re-sends only batches the gateway has
    not acknowledged, under the same serials, so no recipient gets the message twice.

    Returns (XCom) a summary: campaign id, counts, batches, estimated segments, elapsed time.
    Never the recipients.

    :param recipients: numbers as a list or a comma-separated string, or a list of mappings
        holding a number (key ``number``/``phone``/``mobile`` or ``number_field``) plus variables
        for the content. Templated; XCom-friendly; mappable with ``.expand()``.
    :param content: the message text, a Jinja template. Rendered by the operator with the task
        context, and per recipient with that recipient's variables (``{{ name }}`` or
        ``{{ recipient.name }}``) when it uses any. Recipients whose text comes out identical share
        batches.
    :param template_id: the gateway template the text fits.
    :param yxt_conn_id: the YXT connection.
    :param recipients_file: a CSV file (path or ``ObjectStoragePath``) with a header row.
    :param recipients_sql: a query whose rows are recipients (needs ``recipients_conn_id``).
    :param recipients_conn_id: the Airflow SQL connection ``recipients_sql`` runs on.
    :param recipients_sql_parameters: parameters for ``recipients_sql``.
    :param number_field: the key or column holding the phone number.
    :param campaign_id: the idempotency key. Default: dag id, run id, task id and map index, so a
        retry resumes and another run sends again. Set it (e.g. ``"reminders-{{ ds }}"``) to send
        at most once however often the DAG runs.
    :param ledger_conn_id: SQL connection of the ledger; default the embedded SQLite file.
    :param dry_run: plan, count and estimate segments; send nothing and write nothing.
    :param allow_empty: succeed with nothing to send when no recipient is valid (default: fail).
    :param max_in_flight: concurrent requests; default from the connection (extra ``max_in_flight``).
    :param max_requests_per_second: client-side pace; default from the connection.
    :param batch_size: numbers per request, at most 1000.
    :param progress_interval: seconds between progress lines in the log.
    """

    template_fields: Sequence[str] = (
        "recipients",
        "recipients_file",
        "recipients_sql",
        "recipients_sql_parameters",
        "template_id",
        "campaign_id",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"recipients_sql": "sql", "recipients": "py"}
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        content: str,
        template_id: str,
        recipients: Any = None,
        yxt_conn_id: str = YxtHook.default_conn_name,
        recipients_file: Any = None,
        recipients_sql: str | None = None,
        recipients_conn_id: str | None = None,
        recipients_sql_parameters: Any = None,
        number_field: str | None = None,
        campaign_id: str | None = None,
        ledger_conn_id: str | None = None,
        dry_run: bool = False,
        allow_empty: bool = False,
        max_in_flight: int | None = None,
        max_requests_per_second: float | None = None,
        batch_size: int = MAX_NUMBERS_PER_REQUEST,
        progress_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 1 <= batch_size <= MAX_NUMBERS_PER_REQUEST:
            raise ValueError(f"batch_size must be between 1 and {MAX_NUMBERS_PER_REQUEST}, got {batch_size}")
        self.recipients = recipients
        self.content = content
        self.template_id = template_id
        self.yxt_conn_id = yxt_conn_id
        self.recipients_file = recipients_file
        self.recipients_sql = recipients_sql
        self.recipients_conn_id = recipients_conn_id
        self.recipients_sql_parameters = recipients_sql_parameters
        self.number_field = number_field
        self.campaign_id = campaign_id
        self.ledger_conn_id = ledger_conn_id
        # Not self.dry_run: BaseOperator.dry_run() is a method Airflow calls.
        self.plan_only = dry_run
        self.allow_empty = allow_empty
        self.max_in_flight = max_in_flight
        self.max_requests_per_second = max_requests_per_second
        self.batch_size = batch_size
        self.progress_interval = progress_interval

    @cached_property
    def hook(self) -> YxtHook:
        """The YXT hook (created on first use, never at DAG parse time)."""
        return YxtHook(yxt_conn_id=self.yxt_conn_id)

    @cached_property
    def ledger(self) -> Ledger:
        """The delivery ledger."""
        return YxtLedgerHook(self.ledger_conn_id).ledger

    def execute(self, context: Context) -> dict[str, Any]:
        started = time.monotonic()
        ti = context["ti"]
        campaign_id = self._campaign_id(ti)
        self._check_template_id()

        if self.plan_only:
            clean, plan, _ = self._prepare(context, campaign_id)
            self.log.info(
                "Dry run of campaign %s: %d recipients in %d batches, about %d billable messages; nothing sent",
                campaign_id, plan.recipients, len(plan.batches), plan.segments,
            )  # fmt: skip
            return _summary(campaign_id, started, plan=plan, clean=clean, dry_run=True)

        # Numbers of a plan this very try records: the send then need not read them back.
        planned_numbers: dict[int, Sequence[str]] | None = None
        campaign = self.ledger.get_campaign(campaign_id)
        if campaign is None:
            clean, plan, fingerprint = self._prepare(context, campaign_id)
            if not plan.batches:
                self.log.info(
                    "Campaign %s has no valid recipient; nothing to send (allow_empty=True)", campaign_id
                )
                return _summary(campaign_id, started, plan=plan, clean=clean)
            record = CampaignRecord(
                campaign_id=campaign_id,
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=_map_index(ti),
                template_id=self.template_id,
                planned=plan.recipients,
                invalid=clean.invalid,
                duplicate=clean.duplicate,
                batches=len(plan.batches),
                segments=plan.segments,
                source_fingerprint=fingerprint,
            )
            if self.ledger.create_plan(record, plan.batches):
                self.log.info(
                    "Campaign %s planned: %d recipients in %d batches (about %d billable messages)",
                    campaign_id, plan.recipients, len(plan.batches), plan.segments,
                )  # fmt: skip
                planned_numbers = {batch.batch_index: batch.numbers for batch in plan.batches}
            else:
                self.log.info(
                    "Campaign %s was planned concurrently by another process; sending that plan", campaign_id
                )
            del plan, clean
        else:
            self._check_same_task(campaign, ti)
            self._warn_if_source_changed(context, campaign)

        campaign = self.ledger.get_campaign(campaign_id)
        assert campaign is not None
        outcome = self._send(campaign_id, planned_numbers)
        return _summary(campaign_id, started, campaign=campaign, outcome=outcome)

    def on_kill(self) -> None:
        """Start no further batch; requests in flight finish and are recorded."""
        sender = self.__dict__.get("_sender")
        if sender is not None:
            sender.stop()

    # -- planning ---------------------------------------------------------------------------

    def _campaign_id(self, ti: Any) -> str:
        map_index = _map_index(ti)
        if not self.campaign_id:
            return default_campaign_id(ti.dag_id, ti.run_id, ti.task_id, map_index)
        # Mapped shards of one task share the author's id; each must stay its own campaign.
        return self.campaign_id if map_index < 0 else f"{self.campaign_id}/{map_index}"

    def _check_same_task(self, campaign: CampaignRecord, ti: Any) -> None:
        planned_by = (campaign.dag_id, campaign.task_id, campaign.map_index)
        if planned_by != (ti.dag_id, ti.task_id, _map_index(ti)):
            raise AirflowFailException(
                f"campaign_id {campaign.campaign_id!r} was planned by another task "
                f"(dag {planned_by[0]!r}, task {planned_by[1]!r}, map index {planned_by[2]}); "
                "sending its plan from here would skip this task's recipients. Give each task its own campaign_id"
            )

    def _check_template_id(self) -> None:
        known = self.hook.templates
        if known is not None and self.template_id not in known:
            raise AirflowFailException(
                f"template_id {self.template_id!r} is not among the templates of connection "
                f"{self.yxt_conn_id!r} ({', '.join(known)}); fix template_id or the connection's 'templates' extra"
            )

    def _prepare(self, context: Context, campaign_id: str) -> tuple[CleanRecipients, CampaignPlan, str]:
        try:
            clean = clean_recipients(self._load_recipients())
        except (ValueError, TypeError, OSError) as exc:
            raise AirflowFailException(f"cannot read the recipients: {exc}") from exc
        if clean.invalid:
            self.log.warning(
                "Set aside %d invalid numbers (not sent), e.g. %s",
                clean.invalid,
                ", ".join(clean.invalid_samples),
            )
        if clean.duplicate:
            self.log.info("Dropped %d duplicate numbers", clean.duplicate)
        if not clean.valid and not self.allow_empty:
            raise AirflowFailException(
                f"campaign {campaign_id} has no valid recipient ({clean.invalid} invalid, "
                f"{clean.duplicate} duplicate). Check the recipient source, or set allow_empty=True "
                "to let an empty campaign succeed"
            )
        try:
            plan = self._plan(context, campaign_id, clean)
        except ContentError as exc:
            raise AirflowFailException(f"campaign {campaign_id}: {exc}") from exc
        return clean, plan, plan_fingerprint(self.template_id, plan)

    def _load_recipients(self) -> Any:
        return load_recipients(
            self.recipients,
            recipients_file=self.recipients_file,
            recipients_sql=self.recipients_sql,
            recipients_conn_id=self.recipients_conn_id,
            recipients_sql_parameters=self.recipients_sql_parameters,
            number_field=self.number_field,
        )

    def _plan(self, context: Context, campaign_id: str, clean: CleanRecipients) -> CampaignPlan:
        from jinja2 import meta

        env = self.get_template_env(dag=self.dag if self.has_dag() else None)
        template = env.from_string(self.content)
        base = dict(context)
        used = meta.find_undeclared_variables(env.parse(self.content))
        variable_names = {"recipient"}.union(*(v.keys() for v in islice(clean.valid.values(), 1000)))
        render: Callable[[Recipient], str] | None = None
        uniform: str | None = None
        if used & variable_names and clean.personalised:
            render = render_with(template, base)
        else:
            # Rendered once: a uniform campaign of a million recipients is one text.
            uniform = template.render(base)
        return plan_campaign(campaign_id, clean.valid, self.template_id, render, uniform, self.batch_size)

    def _warn_if_source_changed(self, context: Context, campaign: CampaignRecord) -> None:
        self.log.info(
            "Campaign %s already has a recorded plan (%d recipients, %d batches); resuming it",
            campaign.campaign_id, campaign.planned, campaign.batches,
        )  # fmt: skip
        try:
            _, plan, fingerprint = self._prepare(context, campaign.campaign_id)
        except Exception as exc:
            self.log.warning("Could not re-read the recipient source (%s); sending the recorded plan", exc)
            return
        if fingerprint != campaign.source_fingerprint:
            self.log.warning(
                "The recipients or content changed since campaign %s was planned (now %d recipients). "
                "Sending the recorded plan, so nobody gets a second or different message; "
                "use a new campaign_id to send the new audience",
                campaign.campaign_id, plan.recipients,
            )  # fmt: skip

    # -- sending ----------------------------------------------------------------------------

    def _send(self, campaign_id: str, numbers: dict[int, Sequence[str]] | None) -> SendOutcome:
        settings = SendSettings(
            max_in_flight=self.max_in_flight or self.hook.max_in_flight,
            max_requests_per_second=self.max_requests_per_second or self.hook.max_requests_per_second,
            progress_interval=self.progress_interval,
        )
        # The sender paces itself: it wants code 11 at once (to slow down), not after the
        # client's back-off. Everything else keeps the connection's retry settings.
        client = self.hook.settings.make_client(retry=replace(self.hook.retry, retry_throttled=False))
        sender = self._sender = CampaignSender(self.ledger, client, settings)
        try:
            return sender.send(campaign_id, numbers)
        except CampaignStoppedError as exc:
            raise YxtCampaignStoppedError(str(exc)) from exc
        finally:
            client.close()


def _summary(
    campaign_id: str,
    started: float,
    *,
    plan: CampaignPlan | None = None,
    clean: CleanRecipients | None = None,
    campaign: CampaignRecord | None = None,
    outcome: SendOutcome | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "campaign_id": campaign_id,
        "dry_run": dry_run,
        "planned": 0,
        "sent": 0,
        "invalid": 0,
        "duplicate": 0,
        "skipped": 0,
        "failed": 0,
        "batches": 0,
        "segments": 0,
    }
    if plan is not None and clean is not None:
        summary.update(
            planned=plan.recipients,
            invalid=clean.invalid,
            duplicate=clean.duplicate,
            batches=len(plan.batches),
            segments=plan.segments,
        )
    if campaign is not None:
        summary.update(
            planned=campaign.planned,
            invalid=campaign.invalid,
            duplicate=campaign.duplicate,
            batches=campaign.batches,
            segments=campaign.segments,
        )
    if outcome is not None:
        summary.update(
            sent=outcome.sent_recipients,
            # Accepted before this try: batches it skipped, and re-sends the gateway knew (15).
            skipped=outcome.skipped_recipients + outcome.duplicate_recipients,
            failed=outcome.unsent_recipients,
        )
    summary["elapsed_seconds"] = round(time.monotonic() - started, 3)
    return summary


def _map_index(ti: Any) -> int:
    index = getattr(ti, "map_index", None)
    return -1 if index is None else int(index)
