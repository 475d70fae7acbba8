"""Sending a recorded campaign plan exactly once, batch by batch, with bounded concurrency.

Each batch is marked *attempted* in the ledger before its request and *sent* after the
gateway accepts it. A re-run skips sent batches and re-sends attempted ones under the same
serial, so the gateway's code 15 turns an accidental repeat into a no-op.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from yxt_provider.campaign.account_pace import make_pacer
from yxt_provider.campaign.circuit import GatewayCircuit
from yxt_provider.campaign.errors import (
    CampaignIncompleteError,
    CampaignStoppedError,
    GatewayUnreachableError,
)
from yxt_provider.campaign.ratelimit import Pacer, check_rate
from yxt_provider.client.client import YxtClient, build_send_body
from yxt_provider.client.errors import (
    YxtAccountError,
    YxtCallerError,
    YxtClockSkewError,
    YxtConfigError,
    YxtDuplicateSerialError,
    YxtError,
    YxtProtocolError,
    YxtThrottledError,
    YxtTransportError,
)
from yxt_provider.ledger.models import BatchRecord
from yxt_provider.ledger.store import Ledger

__all__ = [
    "FATAL_ERRORS",
    "CampaignIncompleteError",
    "CampaignSender",
    "CampaignStoppedError",
    "SendOutcome",
    "SendSettings",
    "SerialCollisionError",
]

log = logging.getLogger(__name__)


# Failures after which the gateway may have accepted the request: no answer, or not one
# from the protocol (a proxy's 5xx, a truncated body).
_UNKNOWN_OUTCOME: tuple[type[BaseException], ...] = (YxtTransportError, YxtProtocolError)


class SerialCollisionError(YxtError):
    """Code 15 on a batch no attempt from this ledger may have delivered: another sender used the serial."""

    code = 15


#: Errors that no retry can fix: they stop the campaign at once. Clock skew (507) is among them: the
#: client already retried once with a fresh request id, and a task retry on the same worker would
#: meet the same clock.
FATAL_ERRORS: tuple[type[BaseException], ...] = (
    YxtConfigError,
    YxtAccountError,
    YxtCallerError,
    SerialCollisionError,
    # The client already retried once with a fresh request id: the clock is off, and a
    # task retry on the same worker would meet the same clock.
    YxtClockSkewError,
    ValueError,
)


@dataclass(frozen=True)
class SendSettings:
    """How fast a campaign goes out.

    :param max_in_flight: concurrent requests within the task.
    :param max_requests_per_second: this task's own ceiling, requests per second; ``None``:
        none of its own (without an account limit either, it paces only after a throttle).
    :param account_max_requests_per_second: the gateway account's limit (the connection's
        ``max_requests_per_second``), shared through the ledger by every task of the account
        (:class:`~yxt_provider.campaign.account_pace.AccountPacer`); ``None``: not shared.
    :param progress_interval: seconds between progress lines in the log.
    :param throttle_patience: seconds a batch keeps waiting out code 11 before the task fails
        (a retry then resumes).
    :param unreachable_after: requests in a row without an HTTP answer after which the gateway
        counts as unreachable (see :mod:`yxt_provider.campaign.circuit`).
    """

    max_in_flight: int = 4
    max_requests_per_second: float | None = None
    account_max_requests_per_second: float | None = None
    progress_interval: float = 10.0
    throttle_patience: float = 600.0
    unreachable_after: int = 3

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        # Refused here, before the plan is written: a rate of 0 or -5 would never send or never pace.
        if self.max_requests_per_second is not None:
            check_rate(self.max_requests_per_second, "max_requests_per_second")
        if self.account_max_requests_per_second is not None:
            check_rate(self.account_max_requests_per_second, "the connection's max_requests_per_second")


@dataclass
class SendOutcome:
    """What one send pass did.

    :param batches: batches in the plan.
    :param recipients: recipients in the plan.
    :param sent_batches: batches accepted in this pass.
    :param sent_recipients: recipients in those batches the gateway took (less ``refused_recipients``).
    :param skipped_batches: batches already sent by an earlier try (not sent again).
    :param skipped_recipients: recipients in those batches.
    :param duplicate_batches: batches this pass found accepted already (code 15 on a re-send
        after an attempt whose answer was lost): sent by an earlier attempt, not this one.
    :param duplicate_recipients: recipients in those batches.
    :param throttled: code 11 answers ridden out.
    :param opted_out_recipients: numbers taken out of batches before their first attempt,
        because they opted out after the plan was written.
    :param refused_recipients: numbers the gateway refused inside batches it accepted in this
        pass (``data.failList``).
    :param failed_batches: batches this pass could not send.
    :param paused: the send window closed before every batch was sent; the rest waits for
        its next opening.
    """

    batches: int = 0
    recipients: int = 0
    sent_batches: int = 0
    sent_recipients: int = 0
    skipped_batches: int = 0
    skipped_recipients: int = 0
    duplicate_batches: int = 0
    duplicate_recipients: int = 0
    throttled: int = 0
    opted_out_recipients: int = 0
    refused_recipients: int = 0
    failed_batches: list[int] = field(default_factory=list)
    paused: bool = False

    @property
    def accepted_recipients(self) -> int:
        """Recipients the gateway holds, by this pass or before."""
        return self.sent_recipients + self.duplicate_recipients + self.skipped_recipients

    @property
    def unsent_recipients(self) -> int:
        """Recipients whose batch is not sent yet."""
        return (
            self.recipients - self.accepted_recipients - self.opted_out_recipients - self.refused_recipients
        )


class CampaignSender:
    """Sends the recorded plan of one campaign.

    :param ledger: where the plan and progress live.
    :param client: the gateway client (its pool should hold ``max_in_flight`` connections).
    :param settings: concurrency, pacing and logging.
    :param limiter: the pacer; omitted, it comes from ``settings``: the account's pace shared
        through ``ledger`` when ``account_max_requests_per_second`` is set, else a per-task
        :class:`~yxt_provider.campaign.ratelimit.AdaptiveRateLimiter`.
    :param respect_opt_out: before a batch's first attempt, drop its numbers that opted out
        since the plan was written.
    :param stop_at: start no batch at or after this moment (aware): the send window's end.
        The pass then ends ``paused`` and a later pass sends the rest.
    :param clock: monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        ledger: Ledger,
        client: YxtClient,
        settings: SendSettings | None = None,
        *,
        limiter: Pacer | None = None,
        respect_opt_out: bool = False,
        stop_at: datetime | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.client = client
        self.settings = settings or SendSettings()
        self.limiter: Pacer = limiter or make_pacer(
            ledger,
            client,
            account_rate=self.settings.account_max_requests_per_second,
            task_rate=self.settings.max_requests_per_second,
        )
        self.respect_opt_out = respect_opt_out
        self.stop_at = stop_at
        self._clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # Batches of this pass whose outcome is unknown: some attempt may have been accepted.
        self._uncertain: set[int] = set()
        self._circuit = GatewayCircuit(self.settings.unreachable_after)

    def send(self, campaign_id: str, numbers: Mapping[int, Sequence[str]] | None = None) -> SendOutcome:
        """Send every batch of ``campaign_id`` not yet sent.

        :param campaign_id: the campaign, planned in the ledger.
        :param numbers: batch index → numbers, when the caller still holds the plan it just
            recorded (saves reading them back); otherwise they come from the ledger.

        :raises CampaignStoppedError: on a non-retryable gateway error (after in-flight requests end).
        :raises CampaignIncompleteError: when transient failures left batches unsent.
        :raises GatewayUnreachableError: when the gateway gave no answer several times in a row.
        """
        # Batches emptied by opt-outs are no longer part of the campaign's sending.
        batches = [b for b in self.ledger.iter_batches(campaign_id) if b.state != "skipped"]
        outcome = SendOutcome(batches=len(batches), recipients=sum(b.size for b in batches))
        pending = [b for b in batches if b.state != "sent"]
        outcome.skipped_batches = len(batches) - len(pending)
        outcome.skipped_recipients = sum(b.size for b in batches if b.state == "sent")
        if outcome.skipped_batches:
            log.info(
                "Campaign %s: %d of %d batches (%d recipients) were sent by an earlier try; not sending them again",
                campaign_id, outcome.skipped_batches, outcome.batches, outcome.skipped_recipients,
            )  # fmt: skip
        if not pending:
            # A try killed after its last batch but before this status write leaves "sending".
            self.ledger.set_campaign_status(campaign_id, "sent")
            return outcome
        self.ledger.set_campaign_status(campaign_id, "sending")
        fatal: BaseException | None = None
        progress = _Progress(outcome, self.settings.progress_interval, self._clock)

        pool = ThreadPoolExecutor(self.settings.max_in_flight, thread_name_prefix="yxt-send")
        in_flight: dict[Future[bool], BatchRecord] = {}
        queue = iter(pending)
        # Batches held back while the circuit was open, sent first once it closes.
        held: deque[BatchRecord] = deque()
        unreachable: YxtTransportError | None = None
        # What left the last batch unsent, for the error that ends the pass.
        last_error: BaseException | None = None
        try:
            while True:
                while (
                    not self._stop.is_set()
                    and not self._circuit.is_open
                    and len(in_flight) < self.settings.max_in_flight * 2
                ):
                    if self._window_closed():
                        outcome.paused = True
                        break
                    batch = held.popleft() if held else next(queue, None)
                    if batch is None:
                        break
                    known = numbers.get(batch.batch_index) if numbers is not None else None
                    in_flight[pool.submit(self._send_batch, batch, outcome, known)] = batch
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    batch = in_flight.pop(future)
                    error = future.exception()
                    if error is None:
                        continue
                    if isinstance(error, _Held):
                        held.append(batch)
                        continue
                    if isinstance(error, _Paused):
                        outcome.paused = True
                        continue
                    self._record_error(batch, error)
                    outcome.failed_batches.append(batch.batch_index)
                    if not isinstance(error, _Cancelled):
                        last_error = error
                    if isinstance(error, YxtTransportError) and self._circuit.is_probe(batch.batch_index):
                        # The probe spent its own retries without an answer: give up on this try.
                        unreachable = error
                        self._stop.set()
                    if isinstance(error, FATAL_ERRORS) and fatal is None:
                        fatal = error
                        self._stop.set()
                progress.maybe_log(campaign_id)
        except BaseException:
            # The task is being killed or the ledger failed: no queued batch may start now.
            self._stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

        progress.log(campaign_id)
        if fatal is not None:
            self.ledger.set_campaign_status(campaign_id, "failed", error=str(fatal))
            raise CampaignStoppedError(_stopped_message(campaign_id, fatal, outcome), fatal, outcome)
        if unreachable is not None:
            message = _unreachable_message(campaign_id, unreachable, self._circuit.threshold, outcome)
            # Still "sending": a retry resumes. The error says why this try ended, for reports.
            self.ledger.set_campaign_status(campaign_id, "sending", error=message)
            raise GatewayUnreachableError(message, outcome, unreachable)
        if outcome.paused and outcome.unsent_recipients:
            # Still "sending": the next pass, at the window's next opening, sends the rest.
            log.info(
                "Campaign %s paused: the send window closed with %d recipients not sent yet",
                campaign_id, outcome.unsent_recipients,
            )  # fmt: skip
        outcome.paused = outcome.paused and outcome.unsent_recipients > 0
        if outcome.failed_batches:
            message = (
                f"Campaign {campaign_id}: {len(outcome.failed_batches)} batches "
                f"({outcome.unsent_recipients} recipients) could not be sent this time; "
                "a retry of the task resumes with them and re-sends nothing already accepted"
            )
            if last_error is not None:
                message += f". Cause: {type(last_error).__name__}: {_sentence(str(last_error))}"
            self.ledger.set_campaign_status(campaign_id, "sending", error=message)
            raise CampaignIncompleteError(message, outcome, last_error)
        if outcome.refused_recipients:
            # Not an error of the campaign: the gateway's decision per number, kept in the ledger.
            log.warning(
                "Campaign %s: the gateway refused %d recipients inside accepted requests (data.failList); "
                "they are recorded as refused at send and no retry sends them",
                campaign_id, outcome.refused_recipients,
            )  # fmt: skip
        if not outcome.paused:
            self.ledger.set_campaign_status(campaign_id, "sent")
        return outcome

    def stop(self) -> None:
        """Start no further batch (requests already in flight finish); for ``on_kill``."""
        self._stop.set()

    def _window_closed(self) -> bool:
        return self.stop_at is not None and datetime.now(timezone.utc) >= self.stop_at

    def _send_batch(self, batch: BatchRecord, outcome: SendOutcome, numbers: Sequence[str] | None) -> bool:
        if self._stop.is_set():
            raise _Cancelled()
        if self._window_closed():
            # Queued before the window closed, not started: it waits for the next opening.
            raise _Paused()
        if self._circuit.is_open and not self._circuit.is_probe(batch.batch_index):
            raise _Held()
        try:
            return self._send_batch_once(batch, outcome, numbers)
        except FATAL_ERRORS:
            # Stop here, in the worker: a batch already queued must not start after this.
            self._stop.set()
            raise

    def _send_batch_once(
        self, batch: BatchRecord, outcome: SendOutcome, numbers: Sequence[str] | None
    ) -> bool:
        if numbers is None:
            numbers = self.ledger.batch_numbers(batch.campaign_id, batch.batch_index)
        body = build_send_body(numbers, batch.content, batch.template_id, batch.serial_number)
        # Read in the same transaction that marks this attempt, not from the snapshot taken
        # when the pass began: another process (a zombie try, a concurrent run of the same
        # campaign) may have attempted or sent the batch since.
        start = self.ledger.mark_attempted(
            batch.campaign_id, batch.batch_index, drop_opted_out=self.respect_opt_out
        )
        before = start.before
        if start.dropped:
            with self._lock:
                outcome.opted_out_recipients += start.dropped
            if start.skipped:
                with self._lock:
                    outcome.batches -= 1
                return True
            batch = replace(batch, size=batch.size - start.dropped)
            numbers = self.ledger.batch_numbers(batch.campaign_id, batch.batch_index)
            body = build_send_body(numbers, batch.content, batch.template_id, batch.serial_number)
        if before.state == "sent":
            with self._lock:
                outcome.skipped_batches += 1
                outcome.skipped_recipients += batch.size
            return True
        if before.maybe_accepted:
            self._uncertain.add(batch.batch_index)
        deadline = self._clock() + self.settings.throttle_patience

        def on_retry(exc: BaseException, _attempt: int) -> None:
            if isinstance(exc, _UNKNOWN_OUTCOME):
                self._uncertain.add(batch.batch_index)
            self._note_answer(batch.batch_index, exc)
            if self._stop.is_set() or (
                self._circuit.is_open and not self._circuit.is_probe(batch.batch_index)
            ):
                # Give up this request's retries: the probe (or a retry of the task) goes on.
                raise _Held()
            # The client's own retry is a request too: it takes its turn in the (account's) pace.
            self.limiter.acquire()

        while True:
            self.limiter.acquire()
            try:
                result = self.client.send_body(body, on_retry=on_retry)
                duplicate, task_id, refused = False, result.task_id, result.refused
                break
            except YxtDuplicateSerialError:
                # Code 15 is our own earlier send only if some earlier attempt may have been
                # accepted; after nothing but definite rejections it is someone else's serial.
                if batch.batch_index not in self._uncertain and not self._raced(batch, before):
                    raise SerialCollisionError(
                        f"serial {batch.serial_number} (batch {batch.batch_index}) was never accepted from "
                        "this ledger, yet the gateway has seen it: another campaign or system uses the same "
                        "serial. Give this campaign a distinct campaign_id"
                    ) from None
                # What the first answer's failList said is gone with it: receipts will tell.
                duplicate, task_id, refused = True, None, ()
                break
            except YxtThrottledError:
                # A definite rejection: wait for a slot at the lowered pace, up to the patience,
                # unless the campaign was stopped meanwhile.
                self._circuit.answered()
                self._throttled(outcome)
                if self._clock() > deadline or self._stop.is_set():
                    raise
            except _UNKNOWN_OUTCOME as exc:
                self._uncertain.add(batch.batch_index)
                self._note_answer(batch.batch_index, exc)
                raise
        self._circuit.answered()
        self.ledger.mark_sent(
            batch.campaign_id,
            batch.batch_index,
            gateway_task_id=task_id,
            duplicate=duplicate,
            refused=refused,
        )
        self.limiter.on_success()
        with self._lock:
            if duplicate:
                # Accepted by an earlier attempt (of an earlier try, or lost on the wire).
                outcome.duplicate_batches += 1
                outcome.duplicate_recipients += batch.size
            else:
                outcome.sent_batches += 1
                outcome.sent_recipients += batch.size - len(refused)
                outcome.refused_recipients += len(refused)
        return True

    def _note_answer(self, batch_index: int, exc: BaseException) -> None:
        """Tell the circuit whether a failed attempt got an HTTP answer."""
        if isinstance(exc, YxtTransportError):
            self._circuit.failed(batch_index, exc)
        else:
            self._circuit.answered()

    def _raced(self, batch: BatchRecord, before: BatchRecord) -> bool:
        """True when another sender of this ledger attempted the batch while we did."""
        now = self.ledger.get_batch(batch.campaign_id, batch.batch_index)
        return now is not None and (now.state == "sent" or now.attempts > before.attempts + 1)

    def _throttled(self, outcome: SendOutcome) -> None:
        self.limiter.on_throttled()
        with self._lock:
            outcome.throttled += 1

    def _record_error(self, batch: BatchRecord, error: BaseException) -> None:
        if isinstance(error, _Cancelled):
            return
        code = getattr(error, "code", None)
        if batch.batch_index in self._uncertain or not isinstance(code, int):
            # An attempt of this batch may have been accepted: record no result code, so a
            # later try reads the outcome as unknown and takes a code 15 as its own send.
            code = None
        self.ledger.mark_batch_error(batch.campaign_id, batch.batch_index, code=code, error=str(error))
        log.warning("Campaign %s batch %d not sent: %s", batch.campaign_id, batch.batch_index, error)


class _Cancelled(Exception):
    """A queued batch that was not started because the campaign stopped."""


class _Paused(_Cancelled):
    """A queued batch that was not started because the send window closed."""


class _Held(Exception):
    """A batch held back (not started, or its retries given up) while the gateway seems unreachable."""


def _unreachable_message(
    campaign_id: str, cause: YxtTransportError, threshold: int, outcome: SendOutcome
) -> str:
    return (
        f"Campaign {campaign_id}: the gateway is unreachable: {cause.endpoint or 'gateway'}: {cause.cause}. "
        f"Stopped after {threshold} requests in a row got no answer and a last one spent its retries. "
        f"{outcome.accepted_recipients} of {outcome.recipients} recipients are sent; "
        f"{outcome.unsent_recipients} are not, and nothing was lost: a retry of the task (or a clear) "
        "sends them and re-sends nothing already accepted."
    )


def _sentence(text: str) -> str:
    """``text`` ending in a full stop, so the next sentence does not run into it."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "。", ")")) and not text.endswith("...") else f"{text}."


def _stopped_message(campaign_id: str, cause: BaseException, outcome: SendOutcome) -> str:
    return (
        f"Campaign {campaign_id} stopped: {_sentence(str(cause))} "
        f"Sent {outcome.accepted_recipients} of {outcome.recipients} recipients; {outcome.unsent_recipients} not sent. "
        "Fix the cause, then clear this task: it resumes where it stopped and sends nothing twice."
    )


class _Progress:
    """Progress lines: batches and recipients done of total, rate and ETA (no phone numbers)."""

    def __init__(self, outcome: SendOutcome, interval: float, clock: Callable[[], float]) -> None:
        self.outcome = outcome
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last = self.started

    def maybe_log(self, campaign_id: str) -> None:
        if self.clock() - self.last >= self.interval:
            self.log(campaign_id)

    def log(self, campaign_id: str) -> None:
        now = self.clock()
        self.last = now
        o = self.outcome
        elapsed = max(now - self.started, 1e-9)
        rate = o.sent_recipients / elapsed
        remaining = o.unsent_recipients
        eta = f"{remaining / rate:.0f}s" if rate > 0 and remaining else "-"
        log.info(
            "Campaign %s: %d/%d batches, %d/%d recipients sent, %.0f recipients/s, ETA %s",
            campaign_id, o.sent_batches + o.duplicate_batches + o.skipped_batches, o.batches,
            o.accepted_recipients, o.recipients, rate, eta,
        )  # fmt: skip
