"""The sandbox's settings: one account, its templates, receipt behaviour, limits and faults.

Everything is a frozen dataclass so a running sandbox can swap its whole configuration
atomically (``SandboxServer.configure``) and a config file maps onto it field by field.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_SP_CODE",
    "DEFAULT_TEMPLATES",
    "ENDPOINTS",
    "FAULT_KINDS",
    "TIMED_FAULT_KINDS",
    "Fault",
    "SandboxConfig",
]

#: The enterprise code of the protocol document's test vectors, so its examples work against the
#: sandbox.
DEFAULT_SP_CODE = "100001"
#: The app key of the protocol document's test vectors.
DEFAULT_APP_KEY = "demo_app"
#: The app secret of the protocol document's test vectors.
DEFAULT_APP_SECRET = "s3cr3t"

#: The gateway calls, as faults and rate limits name them.
ENDPOINTS: tuple[str, ...] = ("send", "report", "query", "confirm")
#: The kinds of fault the sandbox can inject.
FAULT_KINDS: tuple[str, ...] = (
    "latency",
    "http_500",
    "drop",
    "accept_then_drop",
    "accept_then_500",
    "accept_then_cut",
    "accept_then_stall",
    "code_11",
    "code_20",
    "clock_skew",
    "html_error",
    "malformed_json",
    "wrong_type_code",
    "wrong_type_data",
)
#: The kinds that need ``seconds`` (how long they hold the answer).
TIMED_FAULT_KINDS: frozenset[str] = frozenset(("latency", "accept_then_stall"))

#: Template id → template text of the default account.
DEFAULT_TEMPLATES: dict[str, str] = {
    # Fits PROTOCOL.md's test-vector message ("您的验证码为 4578，有效期为30分钟。(测试)").
    "2031012220113": "您的验证码为{code}，有效期为{minutes}分钟。(测试)",
    # The sandbox's catch-all: any non-empty text.
    "1000000000001": "{content}",
    "1000000000002": "【{sign}】{name}您好，您预约的{service}将于{time}开始，请准时到达。",
    "1000000000003": "【{sign}】{name}您好，您本期应还{amount}元，请于{date}前还款。回复TD退订",
    # Alerts: YxtSmsNotifier's default text starts with this signature.
    "1000000000004": "【Airflow】{alert}",
    # Marketing: a signature, the offer, and the way to refuse that MIIT Order 31 requires.
    "1000000000005": "【{sign}】{offer}回复TD退订",
}


# Field → the JSON types it takes (``None`` where the field allows it). Checked first, so a value of
# the wrong type from the control plane is a clear ValueError (HTTP 400) and never reaches code
# that would trip over it later: ``templates: [1]`` had no ``.items()`` (HTTP 500), a
# ``report_page_size`` of 1.5 broke every later ``report`` call.
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "accept_uppercase_sign": (bool,),
    "control": (bool,),
    "request_max_age": (int, float),
    "balance": (int, type(None)),
    "rate_limit": (int, float, type(None)),
    "burst": (int,),
    "receipt_delay": (int, float),
    "receipt_fail_share": (int, float),
    "receipt_missing_share": (int, float),
    "fail_result": (int,),
    "seed": (int,),
    "report_page_size": (int,),
    "reply_page_size": (int,),
    "reply_call_mdn": (str,),
    "fail_list_format": (str,),
    "templates": (Mapping,),
}


def _check_types(config: SandboxConfig) -> None:
    for name, types in _FIELD_TYPES.items():
        value = getattr(config, name)
        # bool is an int subclass: True is no page size; and a flag must be a real bool.
        wrong_bool = isinstance(value, bool) and bool not in types
        if wrong_bool or not isinstance(value, types):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise ValueError(f"{name} must be {expected}, got {type(value).__name__} {value!r:.60}")
    for name in ("request_max_age", "receipt_delay"):
        if not math.isfinite(getattr(config, name)):
            raise ValueError(f"{name} must be a finite number of seconds")


def _check_share(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")


@dataclass(frozen=True)
class Fault:
    """A deterministic transport fault on one endpoint.

    Of the calls to ``endpoint`` (counted from when the rule was configured), the first
    ``skip`` pass untouched, the next ``times`` are hit (``None``: every one after that);
    ``probability`` below 1 hits only that share of those, drawn from the sandbox's seed.

    :param endpoint: ``"send"``, ``"report"``, ``"query"``, ``"confirm"`` or ``"*"`` for all four.
    :param kind: ``"latency"`` (wait ``seconds`` before answering), ``"http_500"`` (answer
        HTTP 500 without processing), ``"drop"`` (close the connection without processing or
        answering), ``"accept_then_drop"`` (process the call exactly as a success would —
        a send is accepted, receipts are handed out, replies confirmed — then close without
        answering), ``"accept_then_500"`` (process it, then answer HTTP 500: the call took
        effect but the client sees a failure) or ``"accept_then_cut"`` (process it, send the
        status line, the headers and half the body, then close: a reset mid-answer),
        ``"accept_then_stall"`` (process it, then hold the answer ``seconds``: longer than the
        client's read timeout, the client gives up on a call that took effect). These answer
        without processing the call: ``"code_11"`` (result code 11, rate-limited; with
        ``times=N``, a code-11 storm), ``"code_20"`` (code 20, send failed), ``"clock_skew"``
        (code 507, as a gateway whose clock is off by more than ``request_max_age``),
        ``"html_error"`` (HTTP 502 with an HTML page, as a proxy in front of the gateway
        answers), ``"malformed_json"`` (HTTP 200 with JSON cut off mid-way),
        ``"wrong_type_code"`` (``code`` as the string ``"0"``) and ``"wrong_type_data"``
        (code 0 with ``data`` a string where an object or list belongs).
    :param skip: matching calls to let through before the fault starts.
    :param times: calls to hit after ``skip``; ``None`` hits every later call.
    :param probability: share of the eligible calls actually hit.
    :param seconds: the delay of a ``latency`` or ``accept_then_stall`` fault.
    """

    endpoint: str
    kind: str
    skip: int = 0
    times: int | None = None
    probability: float = 1.0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.endpoint != "*" and self.endpoint not in ENDPOINTS:
            raise ValueError(f"Fault endpoint must be one of {(*ENDPOINTS, '*')}, got {self.endpoint!r}")
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Fault kind must be one of {FAULT_KINDS}, got {self.kind!r}")
        if self.skip < 0 or (self.times is not None and self.times < 0):
            raise ValueError("Fault skip and times must not be negative")
        _check_share("Fault probability", self.probability)
        if self.seconds < 0 or (self.kind in TIMED_FAULT_KINDS and self.seconds == 0):
            raise ValueError(f"a {self.kind} Fault needs seconds > 0")

    def matches(self, endpoint: str) -> bool:
        """True when this rule concerns calls to ``endpoint``."""
        return self.endpoint == "*" or self.endpoint == endpoint


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox gateway behaves. Every field can be changed at runtime.

    :param sp_code: the account's enterprise code (``x-sp-code``); a mismatch gives code 2.
    :param app_key: the account name (``x-app-key``); another name gives code 3.
    :param app_secret: the secret the signature is checked with.
    :param accept_uppercase_sign: also accept the signature in upper-case hex.
    :param allowed_ips: client IPs allowed to call (code 5 otherwise); ``None`` allows all.
    :param request_max_age: seconds a request id may be off the sandbox's clock, either way (code 507).
    :param templates: template id → text; ``{name}`` parts match any non-empty text (code 28 otherwise).
    :param balance: messages the account may still send (one per number); ``None`` is unlimited.
    :param rate_limit: calls per second allowed (token bucket, code 11 beyond); ``None`` is off.
    :param burst: the token bucket's size.
    :param rate_limit_endpoints: the endpoints whose calls take a token.
    :param receipt_delay: seconds from acceptance until a message's receipt can be read.
    :param receipt_fail_share: share of messages whose receipt reports failure.
    :param receipt_missing_share: share of messages that never get a receipt.
    :param fail_result: the ``result`` of a failed receipt.
    :param seed: makes the per-message outcomes and probabilistic faults reproducible.
    :param report_page_size: receipts handed out per ``report`` call at most.
    :param reply_page_size: replies returned per ``reply/query`` call at most.
    :param reply_call_mdn: the access number (``callMdn``) of the automatic replies of magic numbers.
    :param fail_list_format: how a send answer carries ``data.failList`` (the numbers refused
        inside an accepted request, see the magic range ``1990005``): ``"string"``, comma-separated
        and ``""`` when none, as public callers show it, or ``"list"``.
    :param faults: transport faults to inject (see :class:`Fault`).
    :param control: serve the ``/_sandbox/`` control plane (404 otherwise).
    """

    sp_code: str = DEFAULT_SP_CODE
    app_key: str = DEFAULT_APP_KEY
    app_secret: str = field(default=DEFAULT_APP_SECRET, repr=False)
    accept_uppercase_sign: bool = True
    allowed_ips: tuple[str, ...] | None = None
    request_max_age: float = 300.0
    templates: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))
    balance: int | None = None
    rate_limit: float | None = None
    burst: int = 10
    rate_limit_endpoints: tuple[str, ...] = ENDPOINTS
    receipt_delay: float = 0.0
    receipt_fail_share: float = 0.0
    receipt_missing_share: float = 0.0
    fail_result: int = 2
    seed: int = 0
    report_page_size: int = 500
    reply_page_size: int = 100
    reply_call_mdn: str = "10690000123"
    fail_list_format: str = "string"
    faults: tuple[Fault, ...] = ()
    control: bool = True

    def __post_init__(self) -> None:
        _check_types(self)
        # Lists arrive from JSON/TOML; keep the frozen config hashable-ish and immutable.
        if self.allowed_ips is not None and not isinstance(self.allowed_ips, tuple):
            object.__setattr__(self, "allowed_ips", tuple(self.allowed_ips))
        if not isinstance(self.rate_limit_endpoints, tuple):
            object.__setattr__(self, "rate_limit_endpoints", tuple(self.rate_limit_endpoints))
        faults = tuple(f if isinstance(f, Fault) else Fault(**f) for f in self.faults)
        object.__setattr__(self, "faults", faults)
        for name in ("sp_code", "app_key", "app_secret"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")
        for endpoint in self.rate_limit_endpoints:
            if endpoint not in ENDPOINTS:
                raise ValueError(f"rate_limit_endpoints: unknown endpoint {endpoint!r}; use {ENDPOINTS}")
        _check_share("receipt_fail_share", self.receipt_fail_share)
        _check_share("receipt_missing_share", self.receipt_missing_share)
        if self.receipt_fail_share + self.receipt_missing_share > 1.0 + 1e-9:
            raise ValueError("receipt_fail_share + receipt_missing_share must not exceed 1")
        if self.fail_list_format not in ("string", "list"):
            raise ValueError(f'fail_list_format must be "string" or "list", got {self.fail_list_format!r}')
        if self.fail_result == 0:
            raise ValueError("fail_result must be non-zero (0 means delivered)")
        if self.balance is not None and self.balance < 0:
            raise ValueError("balance must be >= 0 or None")
        if self.rate_limit is not None and not (self.rate_limit > 0 and math.isfinite(self.rate_limit)):
            raise ValueError("rate_limit must be a positive number of calls per second, or None")
        if self.burst < 1 or self.report_page_size < 1 or self.reply_page_size < 1:
            raise ValueError("burst, report_page_size and reply_page_size must be at least 1")
        if self.receipt_delay < 0 or self.request_max_age <= 0:
            raise ValueError("receipt_delay must be >= 0 and request_max_age > 0")
        for template_id, text in self.templates.items():
            if not isinstance(template_id, str) or not isinstance(text, str) or not text:
                raise ValueError(f"template {template_id!r} must map a string id to non-empty text")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: SandboxConfig | None = None) -> SandboxConfig:
        """Build a config from a JSON/TOML-style mapping, on top of ``base`` (defaults if ``None``).

        :raises ValueError: on an unknown field name or an invalid value.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown sandbox config field(s): {', '.join(unknown)}")
        return dataclasses.replace(base or cls(), **dict(values))

    def to_public_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data, without the app secret."""
        data = dataclasses.asdict(self)
        data["app_secret"] = "***"
        data["templates"] = dict(self.templates)
        return data
