"""The sandbox gateway's rules and in-memory state, independent of HTTP.

``SandboxState.handle`` takes one call (endpoint, headers, client IP, raw body) and returns
the protocol's answer; the FastAPI app only moves bytes. All state sits behind one lock so
tests can inspect and reconfigure it from other threads while the server runs.
"""

from __future__ import annotations

import contextlib
import heapq
import hmac
import itertools
import json
import logging
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from yxt_provider.client.numbers import is_mobile, is_mobile_list, mask_number
from yxt_provider.client.protocol import MAX_NUMBERS_PER_REQUEST, SERIAL_PATTERN
from yxt_provider.client.request_id import request_id_time_ms
from yxt_provider.client.signing import sign
from yxt_provider.sandbox.config import ENDPOINTS, SandboxConfig
from yxt_provider.sandbox.faults import FaultAction, FaultPlan
from yxt_provider.sandbox.outcomes import (
    MAGIC_REFUSED_AT_SEND,
    MAGIC_REJECT_BALANCE,
    MAGIC_REPLIES,
    planned_result,
)
from yxt_provider.sandbox.records import (
    BEIJING,
    MESSAGES,
    AcceptedRequest,
    CallResult,
    PlannedReceipt,
    SendRequest,
    compile_template,
    error_result,
    format_reply_time,
)

__all__ = [
    "BEIJING",
    "MESSAGES",
    "AcceptedRequest",
    "CallResult",
    "PlannedReceipt",
    "SandboxState",
    "compile_template",
]

log = logging.getLogger(__name__)

_HEADERS = ("x-sp-code", "x-app-key", "x-request-id", "x-sign")
_SEND_FIELDS = ("type", "userNumber", "templateId", "messageContent", "serialNumber")
_MAX_ID = re.compile(r"[0-9]{1,19}")


class SandboxState:
    """Everything the sandbox gateway remembers, and the protocol's rules over it.

    :param config: the starting configuration (defaults if ``None``); :meth:`reset` returns to it.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self._lock = threading.Lock()
        # Calls being answered, across resets: a stalled answer outlives the test that caused it.
        self._in_flight: Counter[str] = Counter()
        # The most calls answered at once per endpoint since the last reset: the witness that
        # a pool of senders kept to its bound.
        self._peak_in_flight: Counter[str] = Counter()
        self._initial = config or SandboxConfig()
        self.reset()

    # -- configuration ------------------------------------------------------------------------

    @property
    def config(self) -> SandboxConfig:
        """The configuration in force."""
        return self._config

    def reset(self, config: SandboxConfig | None = None) -> None:
        """Forget everything (accepted log, serials, receipts, replies, counters, fault counts).

        :param config: a new starting configuration; ``None`` goes back to the last one given.
        """
        with self._lock:
            if config is not None:
                self._initial = config
            cfg = self._initial
            self._config = cfg
            self._templates = {tid: compile_template(text) for tid, text in cfg.templates.items()}
            self._faults = FaultPlan(cfg.faults, cfg.seed)
            self._balance_left = cfg.balance
            self._tokens = float(cfg.burst)
            self._tokens_at = time.monotonic()
            self._serials: set[str] = set()
            self._accepted: list[AcceptedRequest] = []
            self._task_ids = itertools.count(10_000_000_001)
            # Receipts become "ready" in batches; the heap holds whole requests, not numbers.
            self._pending: list[tuple[float, int, list[str], list[tuple[str, str]]]] = []
            self._pending_seq = itertools.count()
            self._pending_count = 0
            self._ready: deque[str] = deque()
            self._handed_out = 0
            self._never = 0
            self._replies: deque[dict[str, Any]] = deque()
            self._reply_ids = itertools.count(1)
            self._replies_injected = 0
            self._replies_confirmed = 0
            self._requests: dict[str, Counter[str]] = {endpoint: Counter() for endpoint in ENDPOINTS}
            self._peak_in_flight = Counter(self._in_flight)

    def configure(self, **changes: Any) -> SandboxConfig:
        """Change configuration fields at runtime; returns the new configuration.

        Changing ``faults`` or ``seed`` restarts the fault counters; ``balance`` sets what is
        left; ``rate_limit``/``burst`` refill the bucket. Accepted messages keep their planned outcome.
        """
        with self._lock:
            new = SandboxConfig.from_mapping(changes, base=self._config)
            if "templates" in changes:
                self._templates = {tid: compile_template(text) for tid, text in new.templates.items()}
            if "faults" in changes or "seed" in changes:
                self._faults = FaultPlan(new.faults, new.seed)
            if "balance" in changes:
                self._balance_left = new.balance
            if "rate_limit" in changes or "burst" in changes:
                self._tokens, self._tokens_at = float(new.burst), time.monotonic()
            self._config = new
            return new

    # -- calls ----------------------------------------------------------------------------------

    def take_fault(self, endpoint: str) -> FaultAction:
        """Count a call against the fault rules and say what to do to it."""
        with self._lock:
            return self._faults.next_action(endpoint)

    @contextlib.contextmanager
    def in_flight(self, endpoint: str) -> Iterator[None]:
        """Count one call to ``endpoint`` as being answered for as long as the ``with`` block runs."""
        with self._lock:
            self._in_flight[endpoint] += 1
            self._peak_in_flight[endpoint] = max(self._peak_in_flight[endpoint], self._in_flight[endpoint])
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[endpoint] -= 1

    def count_fault(self, endpoint: str, kind: str) -> None:
        """Record a call answered by a fault instead of a result code."""
        with self._lock:
            self._requests[endpoint][kind] += 1

    def handle(
        self, endpoint: str, headers: Mapping[str, str], client_ip: str | None, body: bytes
    ) -> CallResult:
        """Answer one call to ``endpoint`` (``send``, ``report``, ``query`` or ``confirm``).

        :param headers: the request headers; keys lower-case unless the mapping ignores case.
        :param client_ip: the caller's address, checked against ``allowed_ips``.
        :param body: the raw request body.
        """
        cfg = self._config
        params, result = self._check_request(cfg, headers, client_ip, body)
        send: SendRequest | None = None
        if result is None and endpoint == "send":
            send_or_error = self._validate_send(cfg, params or {})
            if isinstance(send_or_error, CallResult):
                result = send_or_error
            else:
                send = send_or_error
        with self._lock:
            if result is None:
                result = self._take_token(cfg, endpoint)
            if result is None:
                if send is not None:
                    result = self._accept(cfg, send)
                elif endpoint == "report":
                    result = self._report(cfg)
                elif endpoint == "query":
                    result = self._query(cfg)
                else:
                    result = self._confirm(params or {})
            self._requests[endpoint][str(result.code)] += 1
        return result

    def _check_request(
        self, cfg: SandboxConfig, headers: Mapping[str, str], client_ip: str | None, body: bytes
    ) -> tuple[dict[str, Any] | None, CallResult | None]:
        values = {name: headers.get(name) for name in _HEADERS}
        missing = [name for name, value in values.items() if not value]
        if missing:
            return None, error_result(505, f"missing header {', '.join(missing)}")
        request_id = str(values["x-request-id"])
        try:
            sent_ms = request_id_time_ms(request_id)
        except ValueError:
            return None, error_result(
                1, "x-request-id must be 19 digits (13-digit Unix ms + 6 random digits)"
            )
        if values["x-app-key"] != cfg.app_key:
            return None, error_result(3, "unknown x-app-key")
        if values["x-sp-code"] != cfg.sp_code:
            return None, error_result(2, "x-sp-code does not belong to this account")
        if cfg.allowed_ips is not None and client_ip not in cfg.allowed_ips:
            return None, error_result(5, f"{client_ip} is not on the account's IP allow-list")
        params: dict[str, Any] | None = None
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                return None, error_result(1, "the body is not JSON")
            except RecursionError:
                return None, error_result(1, "the body is nested too deeply")
            if not isinstance(parsed, dict):
                return None, error_result(1, "the body is not a JSON object")
            params = parsed
        try:
            expected = sign(cfg.sp_code, cfg.app_key, cfg.app_secret, request_id, params)
        # A "\ud800" escape decodes to a lone surrogate, which has no UTF-8 bytes to hash; a
        # value nested near the recursion limit cannot be turned into text. No client can sign either.
        except UnicodeEncodeError:
            return params, error_result(1, "the body holds a lone surrogate (\\uD800-\\uDFFF), not text")
        except RecursionError:
            return params, error_result(1, "the body is nested too deeply")
        given = str(values["x-sign"])
        if cfg.accept_uppercase_sign:
            given = given.lower()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return params, error_result(35)
        skew_ms = abs(time.time() * 1000 - sent_ms)
        if skew_ms > cfg.request_max_age * 1000:
            return params, error_result(507, f"x-request-id is {skew_ms / 1000:.0f}s off the gateway clock")
        return params, None

    def _take_token(self, cfg: SandboxConfig, endpoint: str) -> CallResult | None:
        if cfg.rate_limit is None or endpoint not in cfg.rate_limit_endpoints:
            return None
        now = time.monotonic()
        self._tokens = min(float(cfg.burst), self._tokens + (now - self._tokens_at) * cfg.rate_limit)
        self._tokens_at = now
        if self._tokens < 1.0:
            return error_result(11)
        self._tokens -= 1.0
        return None

    def _validate_send(self, cfg: SandboxConfig, params: Mapping[str, Any]) -> SendRequest | CallResult:
        missing = [name for name in _SEND_FIELDS if params.get(name) in (None, "")]
        if missing:
            return error_result(505, ", ".join(missing))
        wrong_type = [name for name in _SEND_FIELDS if not isinstance(params[name], str)]
        if wrong_type:
            return error_result(1, f"{', '.join(wrong_type)} must be a string")
        if params["type"] != "1":
            return error_result(39, 'type must be "1" (SMS)')
        serial = params["serialNumber"]
        if not SERIAL_PATTERN.fullmatch(serial):
            return error_result(14, "serialNumber must be 20 digits")
        user_number: str = params["userNumber"]
        if user_number.count(",") + 1 > MAX_NUMBERS_PER_REQUEST:
            return error_result(9)
        numbers = user_number.split(",")
        if not is_mobile_list(user_number):
            bad = next((n for n in numbers if not is_mobile(n)), "")
            return error_result(1, f"userNumber {mask_number(bad)!r} is not a mobile number")
        template_id: str = params["templateId"]
        pattern = self._templates.get(template_id)
        if pattern is None:
            return error_result(28, f"unknown templateId {template_id}")
        if not pattern.fullmatch(params["messageContent"]):
            return error_result(28, f"messageContent does not fit template {template_id}")
        return SendRequest(serial, user_number, numbers, params["messageContent"], template_id)

    def _accept(self, cfg: SandboxConfig, send: SendRequest) -> CallResult:
        serial, numbers = send.serial_number, send.numbers
        if serial in self._serials:
            return error_result(15, serial)
        # A cheap substring test keeps the per-number scans off the common path.
        has_magic = "1990" in send.user_number
        if has_magic and any(n.startswith(MAGIC_REJECT_BALANCE) for n in numbers):
            return error_result(13)
        refused = [n for n in numbers if n.startswith(MAGIC_REFUSED_AT_SEND)] if has_magic else []
        if refused:
            numbers = [n for n in numbers if not n.startswith(MAGIC_REFUSED_AT_SEND)]
        if self._balance_left is not None:
            if len(numbers) > self._balance_left:
                return error_result(13, f"{self._balance_left} left, {len(numbers)} needed")
            self._balance_left -= len(numbers)
        if has_magic or cfg.receipt_fail_share or cfg.receipt_missing_share:
            results: tuple[int | None, ...] = tuple(
                planned_result(
                    cfg.seed,
                    serial,
                    n,
                    fail_share=cfg.receipt_fail_share,
                    missing_share=cfg.receipt_missing_share,
                    fail_result=cfg.fail_result,
                )
                for n in numbers
            )
            receipts = [
                f'{{"serialNumber":"{serial}","userNumber":"{n}","result":{r}}}'
                for n, r in zip(numbers, results, strict=True)
                if r is not None
            ]
        else:
            results = (0,) * len(numbers)
            receipts = [f'{{"serialNumber":"{serial}","userNumber":"{n}","result":0}}' for n in numbers]
        replies = [(n, MAGIC_REPLIES[n[:7]]) for n in numbers if n[:7] in MAGIC_REPLIES] if has_magic else []
        task_id = str(next(self._task_ids))
        self._serials.add(serial)
        self._accepted.append(
            AcceptedRequest(
                serial,
                tuple(numbers),
                send.content,
                send.template_id,
                task_id,
                time.time(),
                results,
                refused=tuple(refused),
            )
        )
        self._never += len(numbers) - len(receipts)
        if cfg.receipt_delay > 0:
            due = time.monotonic() + cfg.receipt_delay
            heapq.heappush(self._pending, (due, next(self._pending_seq), receipts, replies))
            self._pending_count += len(receipts)
        else:
            self._release(receipts, replies, cfg)
        log.info("send serial %s accepted: %d numbers, task %s", serial, len(numbers), task_id)
        # Public callers show failList always present, "" when nothing was refused.
        fail_list: str | list[str] = refused if cfg.fail_list_format == "list" else ",".join(refused)
        return CallResult(0, "OK", json.dumps({"taskId": task_id, "failList": fail_list}))

    def _release(self, receipts: list[str], replies: list[tuple[str, str]], cfg: SandboxConfig) -> None:
        self._ready.extend(receipts)
        for number, content in replies:
            self._add_reply(cfg.reply_call_mdn, content, number, format_reply_time(None))

    def _release_due(self) -> None:
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            _, _, receipts, replies = heapq.heappop(self._pending)
            self._pending_count -= len(receipts)
            self._release(receipts, replies, self._config)

    def _report(self, cfg: SandboxConfig) -> CallResult:
        self._release_due()
        count = min(cfg.report_page_size, len(self._ready))
        if not count:
            return error_result(38)
        popleft = self._ready.popleft
        page = [popleft() for _ in range(count)]
        self._handed_out += count
        return CallResult(0, "ok", "[" + ",".join(page) + "]")

    def _query(self, cfg: SandboxConfig) -> CallResult:
        self._release_due()
        if not self._replies:
            return error_result(38)
        page = list(itertools.islice(self._replies, cfg.reply_page_size))
        data = {
            "apiSmsReplyBoList": [{**reply, "id": str(reply["id"])} for reply in page],
            "maxId": str(page[-1]["id"]),
        }
        return CallResult(0, "ok", json.dumps(data, ensure_ascii=False))

    def _confirm(self, params: Mapping[str, Any]) -> CallResult:
        max_id = params.get("maxId")
        if max_id in (None, ""):
            return error_result(505, "maxId")
        # ASCII digits only, and no longer than an id can be: str.isdigit() let "²" through to
        # int() (ValueError), and 5000 digits passed int()'s str limit; both were HTTP 500s.
        if not _MAX_ID.fullmatch(str(max_id)):
            return error_result(1, "maxId must be the digits returned by reply/query")
        limit = int(max_id)
        while self._replies and self._replies[0]["id"] <= limit:
            self._replies.popleft()
            self._replies_confirmed += 1
        return CallResult(0, "ok")

    def _add_reply(self, call_mdn: str, content: str, user_number: str, reply_time: str) -> int:
        reply_id = next(self._reply_ids)
        self._replies.append(
            {
                "id": reply_id,
                "callMdn": call_mdn,
                "content": content,
                "replyTime": reply_time,
                "userNumber": user_number,
            }
        )
        self._replies_injected += 1
        return reply_id

    # -- inspection and control -----------------------------------------------------------------

    def inject_reply(
        self,
        call_mdn: str,
        content: str,
        user_number: str = "",
        reply_time: datetime | str | None = None,
    ) -> str:
        """Queue an inbound reply as if a recipient had answered; returns its id.

        :param call_mdn: the access number the reply was sent to (``callMdn``).
        :param content: the reply text.
        :param user_number: the replying mobile number.
        :param reply_time: when it was sent; a string must be ``YYYY-MM-DD HH:MM:SS`` Beijing
            time, a naive datetime is taken as Beijing time; ``None`` is now.
        """
        text_time = format_reply_time(reply_time)
        with self._lock:
            return str(self._add_reply(str(call_mdn), str(content), str(user_number), text_time))

    def accepted(self) -> list[AcceptedRequest]:
        """Every accepted send request, in order of acceptance."""
        with self._lock:
            return list(self._accepted)

    def truth(self) -> list[PlannedReceipt]:
        """The planned receipt of every accepted message, in order of acceptance."""
        with self._lock:
            accepted = list(self._accepted)
        return [
            PlannedReceipt(request.serial_number, number, result)
            for request in accepted
            for number, result in zip(request.numbers, request.results, strict=True)
        ]

    def counters(self) -> dict[str, Any]:
        """Calls per endpoint and outcome (result code or fault kind), calls in flight, queues and balance."""
        with self._lock:
            self._release_due()
            return {
                "requests": {endpoint: dict(counts) for endpoint, counts in self._requests.items()},
                "accepted_requests": len(self._accepted),
                "accepted_numbers": sum(len(request.numbers) for request in self._accepted),
                "receipts": {
                    "pending": self._pending_count,
                    "ready": len(self._ready),
                    "handed_out": self._handed_out,
                    "never": self._never,
                },
                "replies": {
                    "pending": len(self._replies),
                    "injected": self._replies_injected,
                    "confirmed": self._replies_confirmed,
                },
                "balance_left": self._balance_left,
                "in_flight": sum(self._in_flight.values()),
                "peak_in_flight": {endpoint: self._peak_in_flight[endpoint] for endpoint in ENDPOINTS},
            }
