"""``SendSmsOperator``: send a batch campaign through the YXT gateway, exactly once.

A thin shell: the campaign rules live in :mod:`yxt_provider.campaign` (identity, plan or
resume, sending, the summary); this module maps the operator's arguments and the task
context onto them and turns the campaign's errors into Airflow's. Nothing heavy is imported
at module level, so a DAG file that imports the operator parses fast.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from yxt_provider.campaign.identity import default_campaign_id
from yxt_provider.campaign.ratelimit import check_rate
from yxt_provider.client.protocol import MAX_NUMBERS_PER_REQUEST
from yxt_provider.get_provider_info import DEFAULT_CONN_ID
from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.operators.links import SmsCampaignLink
from yxt_provider.operators.masked_fields import MaskedNumberFieldsMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

    from yxt_provider.campaign.compliance import FrequencyCap
    from yxt_provider.campaign.recipients import Recipient
    from yxt_provider.campaign.run import CampaignRun
    from yxt_provider.campaign.sender import SendSettings
    from yxt_provider.campaign.summary import CampaignSummary
    from yxt_provider.campaign.window import SendWindow
    from yxt_provider.hooks.yxt import YxtHook

__all__ = ["SendSmsOperator", "YxtCampaignStoppedError", "default_campaign_id"]


class YxtCampaignStoppedError(AirflowFailException):
    """The campaign hit an error no retry can fix (balance, template, credentials, IP, bad input).

    An ``AirflowFailException``: the task fails without spending its retries. What was sent
    stays sent; clearing the task after fixing the cause resumes where it stopped.
    """


class SendSmsOperator(MaskedNumberFieldsMixin, LedgerUserMixin, BaseOperator):
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
    :param yxt_conn_id: the YXT connection (templated).
    :param recipients_file: a CSV file (path or ``ObjectStoragePath``) with a header row.
    :param recipients_encoding: the CSV file's encoding; default UTF-8 (a byte-order mark is
        fine). Excel on Chinese Windows saves ``gbk``.
    :param recipients_sql: a query whose rows are recipients (needs ``recipients_conn_id``);
        give exactly one of ``recipients``, ``recipients_file`` and ``recipients_sql``;
        templated, and a value ending in ``.sql`` is read from that file.
    :param recipients_conn_id: the Airflow SQL connection ``recipients_sql`` runs on (templated).
    :param recipients_sql_parameters: parameters for ``recipients_sql``.
    :param number_field: the key or column holding the phone number.
    :param campaign_id: the idempotency key. Default: dag id, run id, task id and map index, so a
        retry resumes and another run sends again. Set it (e.g. ``"reminders-{{ ds }}"``) to send
        at most once however often the DAG runs.
    :param ledger_conn_id: SQL connection of the ledger (templated); default the embedded SQLite file.
    :param dry_run: plan, count and estimate segments; send nothing and write nothing.
    :param allow_empty: succeed with nothing to send when no recipient is valid (default: fail).
    :param max_in_flight: concurrent requests; default from the connection (extra ``max_in_flight``).
    :param max_requests_per_second: a ceiling for this task alone, requests per second, applied
        in addition to the account's limit (the connection's ``max_requests_per_second``, which
        every task on the account shares through the ledger); default none of its own.
    :param batch_size: numbers per request, at most 1000.
    :param progress_interval: seconds between progress lines in the log.
    :param respect_opt_out: skip numbers on the ledger's opt-out list (default). ``False`` only
        for transactional messages a recipient cannot refuse (a login code, a security alert,
        a notice the law requires); see the compliance guide.
    :param send_window: when the campaign may send, e.g. ``"08:00-21:00"``,
        ``"mon-fri 09:00-18:00"``, ``"22:00-06:00"``, several spans with ``;`` (or a list);
        templated.
        Started outside it, the task defers, holding no worker, until it opens; reaching its
        end, it stops between batches, defers, and resumes at the next opening.
    :param window_timezone: the zone of ``send_window``'s times (default Asia/Shanghai).
    :param marketing: a commercial message: before anything is sent, every text must carry a
        【signature】 and a way to refuse (such as 回复TD退订); opt-outs are always honoured, and
        the window defaults to 08:00-21:00.
    :param frequency_cap: at most this many messages to one number across every campaign of
        the ledger, e.g. ``"3/day"``, ``"1/hour"``, ``"5/7days"``; capped numbers are skipped and
        counted.
    """

    template_fields: Sequence[str] = (
        "recipients",
        "recipients_file",
        "recipients_sql",
        "recipients_sql_parameters",
        "template_id",
        "campaign_id",
        "yxt_conn_id",
        "ledger_conn_id",
        "recipients_conn_id",
        "send_window",
    )
    template_ext: Sequence[str] = (".sql",)
    number_template_fields: ClassVar[tuple[str, ...]] = ("recipients", "recipients_sql_parameters")
    template_fields_renderers: ClassVar[dict[str, str]] = {"recipients_sql": "sql", "recipients": "py"}
    ui_color = "#e8f4ea"
    # "SMS campaign": the campaign in the view of yxt_provider.plugins (the plugin this package installs).
    operator_extra_links = (SmsCampaignLink(),)

    def __init__(
        self,
        *,
        content: str,
        template_id: str,
        recipients: Any = None,
        yxt_conn_id: str = DEFAULT_CONN_ID,
        recipients_file: Any = None,
        recipients_encoding: str | None = None,
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
        respect_opt_out: bool = True,
        send_window: str | Sequence[str] | SendWindow | None = None,
        window_timezone: str = "Asia/Shanghai",
        marketing: bool = False,
        frequency_cap: str | FrequencyCap | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_arguments(
            recipients=recipients,
            recipients_file=recipients_file,
            recipients_sql=recipients_sql,
            recipients_conn_id=recipients_conn_id,
            batch_size=batch_size,
            max_in_flight=max_in_flight,
        )
        if max_requests_per_second is not None:
            check_rate(max_requests_per_second, "max_requests_per_second")
        self.recipients = recipients
        self.content = content
        self.template_id = template_id
        self.yxt_conn_id = yxt_conn_id
        self.recipients_file = recipients_file
        self.recipients_encoding = recipients_encoding
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
        self.respect_opt_out = respect_opt_out
        self.marketing = marketing
        self.send_window = send_window
        self.window_timezone = window_timezone
        # Parsed now (unless templated), so a mistyped window or cap fails when the DAG file is parsed.
        if not _is_template(send_window):
            _parse_window(send_window, window_timezone, marketing=marketing)
        self.frequency_cap = _parse_cap(frequency_cap)
        if marketing and not respect_opt_out:
            raise ValueError(
                "marketing=True needs respect_opt_out=True: MIIT Order 31 forbids commercial messages "
                "to people who refused them"
            )
        self._run: CampaignRun | None = None
        self._window: SendWindow | None = None

    @cached_property
    def hook(self) -> YxtHook:
        """The YXT hook (created on first use, never at DAG parse time)."""
        from yxt_provider.hooks.yxt import YxtHook

        return YxtHook(yxt_conn_id=self.yxt_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        """Plan or resume the campaign, then send it (or only plan it, for a dry run).

        Outside the send window, or when the window closes mid-campaign, the task defers
        until the next opening and comes back in :meth:`execute_in_window`.
        """
        from yxt_provider.campaign.compliance import CompliancePolicy
        from yxt_provider.campaign.content import MessageContent
        from yxt_provider.campaign.errors import (
            CampaignIncompleteError,
            CampaignRejected,
            CampaignStoppedError,
        )
        from yxt_provider.campaign.identity import TaskIdentity
        from yxt_provider.campaign.run import CampaignRun, check_template_id
        from yxt_provider.campaign.summary import CampaignSummary
        from yxt_provider.connection import YxtConnectionError

        task = TaskIdentity.of(context["ti"])
        try:
            window = self._window = _parse_window(
                self.send_window, self.window_timezone, marketing=self.marketing
            )
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from None
        run = self._run = CampaignRun(
            self.ledger,
            task,
            campaign_id=task.campaign_id(self.campaign_id),
            template_id=self.template_id,
            content=MessageContent(
                self.content, self.get_template_env(dag=self.dag if self.has_dag() else None), context
            ),
            recipients=self._read_recipients,
            batch_size=self.batch_size,
            allow_empty=self.allow_empty,
            policy=CompliancePolicy(
                respect_opt_out=self.respect_opt_out,
                frequency_cap=self.frequency_cap,
                marketing=self.marketing,
            ),
            window=window,
        )
        try:
            check_template_id(self.template_id, self.hook.templates, self.yxt_conn_id)
            if self.plan_only:
                return run.dry_run().to_dict()
            # The sender paces itself: it wants code 11 at once (to slow down), not after the
            # client's back-off. Everything else keeps the connection's retry settings.
            client = self.hook.settings.make_client(retry=replace(self.hook.retry, retry_throttled=False))
            try:
                summary = run.send(client, self._send_settings())
            finally:
                client.close()
            if summary.resume_at is not None:
                self._defer_until(summary)
            return summary.to_dict()
        except (CampaignRejected, CampaignStoppedError, CampaignIncompleteError, YxtConnectionError) as exc:
            summary = getattr(exc, "summary", None) or CampaignSummary(
                campaign_id=run.campaign_id, dry_run=self.plan_only, status="rejected", error=str(exc)
            )
            self._hand_on(context, summary.to_dict())
            # "from None": the message already says everything; a chained copy would print it twice.
            if isinstance(exc, CampaignStoppedError):
                raise YxtCampaignStoppedError(str(exc)) from None
            if isinstance(exc, CampaignIncompleteError):
                raise  # transient: the task's retries resume
            raise AirflowFailException(str(exc)) from None
        finally:
            self.hook.close()

    def execute_in_window(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after waiting for the send window: the same as :meth:`execute`, from the ledger.

        :param context: the task context.
        :param event: the time trigger's event (unused: the ledger says where to go on).
        """
        return self.execute(context)

    def _defer_until(self, summary: CampaignSummary) -> None:
        """Free the worker until the send window opens; the triggerer wakes the task then."""
        import pendulum
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        moment = pendulum.parse(str(summary.resume_at))
        assert isinstance(moment, pendulum.DateTime), summary.resume_at
        window = self._window
        assert window is not None, "only a send window defers the campaign"
        local = moment.in_timezone(window.timezone).strftime("%Y-%m-%d %H:%M:%S %Z")
        self.log.info(
            "Campaign %s %s (%d sent so far, %d to go): deferring, holding no worker, until the send "
            "window (%s) opens at %s",
            summary.campaign_id, summary.status, summary.sent + summary.skipped,
            summary.planned - summary.sent - summary.skipped,
            window.describe(), local,
        )  # fmt: skip
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="execute_in_window")

    def _hand_on(self, context: Context, summary: dict[str, Any]) -> None:
        """Push the summary of a failed try as the task's return value.

        ``send.output`` then holds what happened (``status``, ``error``, counts) for a report
        task with ``trigger_rule="all_done"``, as it does after a successful try.
        """
        if self.do_xcom_push:
            context["ti"].xcom_push("return_value", summary)

    def on_kill(self) -> None:
        """Start no further batch; requests in flight finish and are recorded."""
        if self._run is not None:
            self._run.stop()

    def _read_recipients(self) -> Iterator[Recipient]:
        from yxt_provider.campaign.recipients import iter_recipients
        from yxt_provider.campaign.sources import iter_file_recipients
        from yxt_provider.operators.recipient_sources import iter_sql_recipients

        if self.recipients_sql is not None:
            return iter_sql_recipients(
                self.recipients_sql,
                str(self.recipients_conn_id),
                parameters=self.unmasked("recipients_sql_parameters"),
                number_field=self.number_field,
            )
        if self.recipients_file is not None:
            return iter_file_recipients(
                self.recipients_file, number_field=self.number_field, encoding=self.recipients_encoding
            )
        return iter_recipients(self.unmasked("recipients"), number_field=self.number_field)

    def _send_settings(self) -> SendSettings:
        from yxt_provider.campaign.sender import SendSettings

        return SendSettings(
            max_in_flight=self.max_in_flight or self.hook.max_in_flight,
            # The operator's value is this task's own ceiling; the connection's is the account's
            # limit, shared through the ledger with every other task on the account.
            max_requests_per_second=self.max_requests_per_second,
            account_max_requests_per_second=self.hook.max_requests_per_second,
            progress_interval=self.progress_interval,
        )


def _is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _parse_window(spec: Any, timezone: str, *, marketing: bool) -> SendWindow | None:
    """The send window, parsed; marketing campaigns default to 08:00-21:00 in ``timezone``."""
    if spec is None and not marketing:
        return None
    from yxt_provider.campaign.window import MARKETING_WINDOW, SendWindow

    if spec is None:
        return SendWindow(spans=MARKETING_WINDOW.spans, timezone=timezone)
    return SendWindow.parse(spec, timezone)


def _parse_cap(spec: str | FrequencyCap | None) -> FrequencyCap | None:
    if spec is None:
        return None
    from yxt_provider.campaign.compliance import FrequencyCap

    return FrequencyCap.parse(spec)


def _check_arguments(
    *,
    recipients: Any,
    recipients_file: Any,
    recipients_sql: Any,
    recipients_conn_id: Any,
    batch_size: int,
    max_in_flight: int | None,
) -> None:
    """Refuse, when the DAG is parsed, arguments that can never work."""
    given = [
        name
        for name, value in (
            ("recipients", recipients),
            ("recipients_file", recipients_file),
            ("recipients_sql", recipients_sql),
        )
        if value is not None
    ]
    if not given:
        raise ValueError("SendSmsOperator needs one of recipients, recipients_file or recipients_sql")
    if len(given) > 1:
        raise ValueError(
            f"SendSmsOperator takes one recipient source, got {' and '.join(given)}; combine them upstream "
            "(for instance in the query, or in a task whose output is recipients)"
        )
    if recipients_sql is not None and not recipients_conn_id:
        raise ValueError("recipients_sql needs recipients_conn_id, the Airflow SQL connection to run it on")
    if not 1 <= batch_size <= MAX_NUMBERS_PER_REQUEST:
        raise ValueError(f"batch_size must be between 1 and {MAX_NUMBERS_PER_REQUEST}, got {batch_size}")
    if max_in_flight is not None and max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
