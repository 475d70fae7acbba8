"""One error taxonomy for the gateway: every result code maps to a class and a retry rule.

``error_for_code`` is the single place that turns a ``code``/``msg`` pair into an exception;
:func:`explain` the single place that says in plain words what a failure means.
"""

from __future__ import annotations

from typing import ClassVar

from yxt_provider.client.numbers import mask_numbers_in_text

__all__ = [
    "ERRORS_BY_CODE",
    "YxtAccountError",
    "YxtAuthError",
    "YxtBalanceExhaustedError",
    "YxtCallerError",
    "YxtClockSkewError",
    "YxtConfigError",
    "YxtDuplicateSerialError",
    "YxtError",
    "YxtGatewayError",
    "YxtInvalidAccountError",
    "YxtIpNotAllowedError",
    "YxtMissingParameterError",
    "YxtNoDataError",
    "YxtParameterError",
    "YxtProtocolError",
    "YxtResultError",
    "YxtSendFailedError",
    "YxtSendTypeError",
    "YxtSerialFormatError",
    "YxtSignatureError",
    "YxtTemplateMismatchError",
    "YxtThrottledError",
    "YxtTooManyNumbersError",
    "YxtTransportError",
    "YxtWrongCredentialsError",
    "error_for_code",
    "explain",
    "truncate_for_message",
]

_SNIPPET_LIMIT = 200


def truncate_for_message(text: str, limit: int = _SNIPPET_LIMIT) -> str:
    """Shorten gateway output for an error message, with phone numbers masked."""
    text = mask_numbers_in_text(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


class YxtError(Exception):
    """Base of every error this package raises about the gateway.

    :ivar retryable: whether sending the same request again (with a fresh request id) can help.
    :ivar summary: one plain-words sentence saying what went wrong, for the people reading a
        connection test or a notification (see :func:`explain`); empty when the exception text
        says it best.
    """

    retryable: ClassVar[bool] = False
    summary: ClassVar[str] = ""


class YxtTransportError(YxtError):
    """The request did not get an HTTP answer: refused, reset, dropped or timed out.

    A send that failed this way may still have been accepted; retry under the same serial.

    :param message: the cause first, then what to do, then the detail
        (see :func:`yxt_provider.client.transport.transport_error`).
    :param endpoint: ``host:port`` of the gateway, when known.
    :param kind: ``refused``, ``timeout``, ``tls``, ``dns``, ``reset`` or ``other``.
    :param cause: the cause in a few words, e.g. ``connection refused (ConnectionRefusedError: …)``.
    """

    retryable = True
    summary = "Could not reach the gateway."

    def __init__(
        self, message: str, *, endpoint: str | None = None, kind: str = "other", cause: str = ""
    ) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.kind = kind
        self.cause = cause or message


class YxtProtocolError(YxtError):
    """The gateway answered, but not with the protocol's JSON envelope.

    :param status: the HTTP status, when there was one.
    :param body: what came back (already truncated and masked).
    """

    summary = "The server answered, but not as a YXT gateway (is the URL right?)."

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """Server-side HTTP errors (5xx) are transient; anything else is not."""
        return self.status is not None and self.status >= 500


class YxtResultError(YxtError):
    """The gateway answered with a non-zero result ``code``.

    :param code: the gateway's result code.
    :param msg: the gateway's ``msg`` (masked).
    """

    code: ClassVar[int] = -1
    meaning: ClassVar[str] = "unknown result code"
    hint: ClassVar[str] = ""

    def __init__(self, msg: str = "", *, code: int | None = None, context: str = "") -> None:
        self.code = self.code if code is None else code  # type: ignore[misc]
        self.msg = mask_numbers_in_text(msg or "")
        parts = [f"YXT gateway returned code {self.code} ({self.meaning})"]
        if self.msg:
            parts.append(f": {self.msg!r}")
        if context:
            parts.append(f" [{context}]")
        if self.hint:
            parts.append(f". {self.hint}")
        super().__init__("".join(parts))


class YxtCallerError(YxtResultError):
    """The request itself was wrong; fix the call, retrying will not help."""


class YxtConfigError(YxtResultError):
    """The connection's account settings are wrong; fix the connection."""


class YxtAuthError(YxtConfigError):
    """Credentials or signature rejected."""


class YxtAccountError(YxtResultError):
    """The account cannot send right now (e.g. balance exhausted)."""


class YxtParameterError(YxtCallerError):
    """Code 1: parameter validation failed."""

    code = 1
    meaning = "parameter validation failed"


class YxtInvalidAccountError(YxtAuthError):
    """Code 2: invalid account or no permission."""

    code = 2
    meaning = "invalid account or no permission"
    summary = "Authentication failed: the account is invalid or may not use this API."
    hint = "Check the connection's login (app key) and that the account may use this API"


class YxtWrongCredentialsError(YxtAuthError):
    """Code 3: wrong account or password."""

    code = 3
    meaning = "wrong account or password"
    summary = "Authentication failed: the gateway does not know this app key / secret."
    hint = "Check the connection's login (app key) and password (app secret)"


class YxtIpNotAllowedError(YxtConfigError):
    """Code 5: this machine's IP is not on the account's allow-list."""

    code = 5
    meaning = "IP not allowed"
    summary = "This machine's IP address is not on the account's IP allow-list."
    hint = "Ask the gateway operator to add this worker's egress IP to the account's IP allow-list"


class YxtTooManyNumbersError(YxtCallerError):
    """Code 9: more than 1000 numbers in one request."""

    code = 9
    meaning = "too many numbers (max 1000)"


class YxtThrottledError(YxtResultError):
    """Code 11: requests too frequent; back off and slow down."""

    code = 11
    meaning = "requests too frequent"
    retryable = True
    hint = (
        "Retried with back-off; if it keeps happening, lower max_requests_per_second or the "
        "Airflow pool's slots for this connection"
    )


class YxtBalanceExhaustedError(YxtAccountError):
    """Code 13: the SMS package balance is exhausted."""

    code = 13
    meaning = "SMS package balance exhausted"
    hint = "Top up the account; what was sent stays sent"


class YxtSerialFormatError(YxtCallerError):
    """Code 14: the serial number is not 20 digits."""

    code = 14
    meaning = "serial number format wrong"


class YxtDuplicateSerialError(YxtResultError):
    """Code 15: the serial was used before — the idempotency signal."""

    code = 15
    meaning = "serial number duplicated"


class YxtSendFailedError(YxtResultError):
    """Code 20: the gateway failed to send; retried a bounded number of times."""

    code = 20
    meaning = "send failed, contact administrator"
    retryable = True
    hint = (
        "The gateway failed on its side and was retried a bounded number of times; nothing was taken. "
        "If it persists, ask the gateway operator"
    )


class YxtTemplateMismatchError(YxtCallerError):
    """Code 28: the content does not match the template."""

    code = 28
    meaning = "content does not match template"
    hint = "Check that the template id is right and the text fits the template registered with the gateway"


class YxtSignatureError(YxtAuthError):
    """Code 35: signature verification failed."""

    code = 35
    meaning = "signature verification failed"
    summary = (
        "Signature rejected: the app secret, the sp_code extra or the sign case does not match the gateway's."
    )
    hint = (
        "Check the connection's password (app secret), its sp_code extra, and the sign_uppercase "
        "extra if this deployment expects upper-case hex"
    )


class YxtNoDataError(YxtResultError):
    """Code 38: nothing to fetch (not an error for receipts and replies)."""

    code = 38
    meaning = "no data"


class YxtSendTypeError(YxtCallerError):
    """Code 39: the send type is wrong (must be "1")."""

    code = 39
    meaning = "send type wrong"


class YxtMissingParameterError(YxtCallerError):
    """Code 505: a required parameter is missing."""

    code = 505
    meaning = "missing parameter"


class YxtClockSkewError(YxtResultError):
    """Code 507: the request id is older than five minutes.

    Retried once with a fresh id; when it repeats, this machine's clock is off.
    """

    code = 507
    meaning = "request older than five minutes"
    retryable = True
    summary = "The gateway says the request is too old: this machine's clock is off."
    hint = "If this repeats, the worker's clock is skewed: check NTP on this machine"


class YxtGatewayError(YxtResultError):
    """A result code the protocol does not list."""


#: Result code → the exception class raised for it; codes not listed raise :class:`YxtGatewayError`.
ERRORS_BY_CODE: dict[int, type[YxtResultError]] = {
    cls.code: cls
    for cls in (
        YxtParameterError,
        YxtInvalidAccountError,
        YxtWrongCredentialsError,
        YxtIpNotAllowedError,
        YxtTooManyNumbersError,
        YxtThrottledError,
        YxtBalanceExhaustedError,
        YxtSerialFormatError,
        YxtDuplicateSerialError,
        YxtSendFailedError,
        YxtTemplateMismatchError,
        YxtSignatureError,
        YxtNoDataError,
        YxtSendTypeError,
        YxtMissingParameterError,
        YxtClockSkewError,
    )
}


def error_for_code(code: int, msg: str = "", *, context: str = "") -> YxtResultError:
    """Build the exception for a non-zero result ``code``."""
    cls = ERRORS_BY_CODE.get(code, YxtGatewayError)
    return cls(msg, code=code, context=context)


def explain(exc: YxtError, *, fallback: str = "The gateway refused the call.") -> str:
    """Return ``"<summary> <exception text>"``: what went wrong in plain words, then the details.

    The summary comes from the exception's class (``YxtError.summary``); the exception
    text carries the code, the gateway's message and the class's hint.

    :param exc: the failure.
    :param fallback: the lead for a class without a summary of its own (e.g. code 20), worded
        for the caller's situation (``test_connection`` says "the test call").
    """
    return f"{exc.summary or fallback} {exc}"
