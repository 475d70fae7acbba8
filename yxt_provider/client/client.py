"""``YxtClient``: the four gateway calls over one keep-alive ``requests.Session``."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from yxt_provider.client.errors import (
    YxtNoDataError,
    YxtProtocolError,
    YxtTransportError,
)
from yxt_provider.client.fail_list import read_fail_list
from yxt_provider.client.models import Receipt, Reply, ReplyPage, SendResult, parse_gateway_time
from yxt_provider.client.numbers import mask_number
from yxt_provider.client.protocol import (
    MAX_NUMBERS_PER_REQUEST,
    PATH_CONFIRM,
    PATH_QUERY,
    PATH_REPORT,
    PATH_SEND,
    SERIAL_PATTERN,
    broken_answer,
    build_send_body,
    describe_data,
    parse_envelope,
)
from yxt_provider.client.request_id import new_request_id
from yxt_provider.client.retry import RetrySettings, build_retrying
from yxt_provider.client.secret import Secret
from yxt_provider.client.signing import sign
from yxt_provider.client.transport import transport_error

__all__ = [
    "MAX_NUMBERS_PER_REQUEST",
    "PATH_CONFIRM",
    "PATH_QUERY",
    "PATH_REPORT",
    "PATH_SEND",
    "SERIAL_PATTERN",
    "YxtClient",
    "build_send_body",
]

log = logging.getLogger(__name__)

_JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class YxtClient:
    """A client of the YXT SMS gateway: signs every request, retries what can be retried.

    Importing or using it needs no Airflow.

    :param base_url: send base URL, e.g. ``https://sms.example.com:8080``.
    :param sp_code: the enterprise code sent as ``x-sp-code``.
    :param app_key: the account name sent as ``x-app-key``.
    :param app_secret: the account secret (used to sign, never sent, never shown).
    :param info_base_url: base URL of the ``/info/...`` calls when another host serves them.
    :param timeout: seconds to connect and to read, as a number or a ``(connect, read)`` pair.
    :param sign_uppercase: sign with upper-case hex, for deployments that expect it.
    :param verify_ssl: verify TLS certificates (a path to a CA bundle also works).
    :param pool_size: connections kept alive per host; size it to the concurrency you use.
    :param retry: how transient failures are retried.
    :param on_retry: called with the exception and attempt number before each retry
        (the operator uses it to slow down on code 11).
    """

    def __init__(
        self,
        base_url: str,
        sp_code: str,
        app_key: str,
        app_secret: str,
        *,
        info_base_url: str | None = None,
        timeout: float | tuple[float, float] = (5.0, 30.0),
        sign_uppercase: bool = False,
        verify_ssl: bool | str = True,
        pool_size: int = 10,
        retry: RetrySettings | None = None,
        on_retry: Callable[[BaseException, int], None] | None = None,
    ) -> None:
        for name, value in (("base_url", base_url), ("sp_code", sp_code), ("app_key", app_key)):
            if not value or not str(value).strip():
                raise ValueError(f"YxtClient needs a non-empty {name}")
        if not app_secret:
            raise ValueError("YxtClient needs a non-empty app_secret")
        self.base_url = base_url.rstrip("/")
        self.info_base_url = (info_base_url or base_url).rstrip("/")
        self.sp_code = str(sp_code)
        self.app_key = str(app_key)
        self._app_secret = Secret(app_secret)
        self.timeout = timeout
        self.sign_uppercase = sign_uppercase
        self.retry = retry or RetrySettings()
        self.on_retry = on_retry
        self.verify_ssl = verify_ssl
        self.session = requests.Session()
        self.session.verify = verify_ssl
        if verify_ssl is False and self.base_url.startswith("https://"):
            # Once per client (a hook keeps one per task), not per request: the warning says
            # what is off and where, urllib3's per-request warning says neither.
            log.warning(
                "TLS certificate verification is OFF for %s (verify_ssl false): anyone on the path can "
                "read the messages and the signed calls; name the gateway's CA bundle in the "
                "connection's ca_bundle extra instead", self.base_url,
            )  # fmt: skip
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(1, pool_size), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"YxtClient(base_url={self.base_url!r}, sp_code={self.sp_code!r}, app_key={self.app_key!r})"

    def __enter__(self) -> YxtClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()

    # -- the four calls -------------------------------------------------------------------

    def send(self, numbers: Iterable[str], content: str, template_id: str, serial_number: str) -> SendResult:
        """Send one message text to up to 1000 numbers under ``serial_number``.

        Validation happens before any request. Retries reuse the serial, so a repeat of a
        request the gateway already accepted comes back as code 15
        (:class:`~yxt_provider.client.errors.YxtDuplicateSerialError`), which callers decide on.
        """
        body = build_send_body(numbers, content, template_id, serial_number)
        return self.send_body(body)

    def send_body(
        self, body: Mapping[str, str], *, on_retry: Callable[[BaseException, int], None] | None = None
    ) -> SendResult:
        """Send an already validated body (see :func:`build_send_body`).

        :param on_retry: called before each retry of this request, in addition to the client's
            own ``on_retry`` (the campaign sender uses it to know a code 15 answers a repeat).
        """
        data = self._call(
            self.base_url,
            PATH_SEND,
            dict(body),
            what=f"send serial {body['serialNumber']}",
            on_retry=on_retry,
        )
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if task_id is None:
            raise _broken_data(f"send serial {body['serialNumber']}", "code 0 but no data.taskId", data)
        return SendResult(
            task_id=str(task_id),
            serial_number=body["serialNumber"],
            count=body["userNumber"].count(",") + 1,
            refused=self._refused(data.get("failList"), body),
        )

    @staticmethod
    def _refused(value: object, body: Mapping[str, str]) -> tuple[str, ...]:
        """The numbers ``data.failList`` refused; what cannot be read is logged (masked), never raised."""
        fail_list = read_fail_list(value, body["userNumber"])
        serial = body["serialNumber"]
        if fail_list.unreadable:
            log.warning(
                "send serial %s: data.failList is a %s, neither a list nor a comma-separated string; "
                "taking every number as accepted (receipts will tell)", serial, fail_list.unreadable,
            )  # fmt: skip
        if fail_list.unmatched:
            log.warning(
                "send serial %s: data.failList names %d entries that are no number of this request; ignored",
                serial, fail_list.unmatched,
            )  # fmt: skip
        if fail_list.refused:
            log.warning(
                "send serial %s: the gateway refused %d of its numbers (data.failList): %s",
                serial, len(fail_list.refused), ", ".join(mask_number(n) for n in fail_list.refused[:5])
                + (", ..." if len(fail_list.refused) > 5 else ""),
            )  # fmt: skip
        return fail_list.refused

    def fetch_receipts(self) -> list[Receipt]:
        """Read one page of delivery receipts. They are gone from the gateway once read: store them."""
        data = self._call(self.info_base_url, PATH_REPORT, None, what="report", empty_ok=True)
        if data is None:
            return []
        if not isinstance(data, list):
            raise _broken_data("report", "code 0 but data is not a list", data)
        try:
            return [
                Receipt(
                    serial_number=str(item["serialNumber"]),
                    user_number=str(item["userNumber"]),
                    result=int(item["result"]),
                )
                for item in data
            ]
        # OverflowError: int() of an infinite float ("result": 1e999).
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise _broken_data(
                "report", f"a report item lacks serialNumber/userNumber/result ({exc!r})", data
            ) from None

    def query_replies(self) -> ReplyPage:
        """Read unconfirmed inbound replies; they stay until :meth:`confirm_replies`."""
        data = self._call(self.info_base_url, PATH_QUERY, None, what="reply/query", empty_ok=True)
        if not data:
            return ReplyPage(replies=[], max_id=None)
        if not isinstance(data, dict) or not isinstance(data.get("apiSmsReplyBoList", []), list):
            raise _broken_data("reply/query", "code 0 but data has no apiSmsReplyBoList", data)
        try:
            replies = [
                Reply(
                    call_mdn=str(item["callMdn"]),
                    content=str(item.get("content") or ""),
                    reply_time=parse_gateway_time(str(item["replyTime"])),
                    user_number=str(item.get("userNumber") or ""),
                    reply_id=str(item["id"]) if item.get("id") is not None else None,
                )
                for item in data.get("apiSmsReplyBoList") or []
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise _broken_data(
                "reply/query", f"a reply item lacks callMdn/replyTime ({exc!r})", data
            ) from None
        max_id = data.get("maxId")
        return ReplyPage(replies=replies, max_id=None if max_id in (None, "") else str(max_id))

    def confirm_replies(self, max_id: str) -> None:
        """Confirm every reply up to ``max_id``; the gateway then forgets them. Store them first."""
        if not str(max_id).strip():
            raise ValueError("confirm_replies needs the maxId returned by query_replies")
        self._call(self.info_base_url, PATH_CONFIRM, {"maxId": str(max_id)}, what="reply/confirm")

    # -- plumbing --------------------------------------------------------------------------

    def signed_headers(
        self, params: Mapping[str, Any] | None, request_id: str | None = None
    ) -> dict[str, str]:
        """Return the four protocol headers for one attempt (a fresh request id unless given)."""
        rid = request_id or new_request_id()
        return {
            "Content-Type": _JSON_CONTENT_TYPE,
            "x-sp-code": self.sp_code,
            "x-app-key": self.app_key,
            "x-request-id": rid,
            "x-sign": sign(
                self.sp_code,
                self.app_key,
                self._app_secret.reveal(),
                rid,
                params,
                uppercase=self.sign_uppercase,
            ),
        }

    def _call(
        self,
        base: str,
        path: str,
        params: dict[str, str] | None,
        *,
        what: str,
        empty_ok: bool = False,
        on_retry: Callable[[BaseException, int], None] | None = None,
    ) -> Any:
        payload = json.dumps(params if params is not None else {}, ensure_ascii=False).encode("utf-8")
        url = base + path
        callbacks = [cb for cb in (self.on_retry, on_retry) if cb is not None]

        def notify(exc: BaseException, attempt_number: int) -> None:
            for callback in callbacks:
                callback(exc, attempt_number)

        for attempt in build_retrying(self.retry, what, notify if callbacks else None):
            with attempt:
                try:
                    return self._attempt(url, params, payload, what)
                except YxtNoDataError:
                    if empty_ok:
                        return None
                    raise
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _attempt(self, url: str, params: dict[str, str] | None, payload: bytes, what: str) -> Any:
        headers = self.signed_headers(params)
        try:
            # Never follow a redirect: it would carry the signed headers and the recipients'
            # numbers to wherever Location points; a 3xx is a protocol error (wrong URL).
            # verify= on each request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the
            # environment override the session's verify, which would silently replace the
            # connection's CA bundle or turn verification back on.
            response = self.session.post(
                url,
                data=payload,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                verify=self.verify_ssl,
            )
        except requests.RequestException as exc:
            raise transport_error(what, url, exc, self.timeout) from None
        except OSError as exc:  # requests' "Could not find a suitable TLS CA certificate bundle"
            raise YxtTransportError(
                f"{what}: the CA bundle {self.verify_ssl!r} cannot be read ({exc}). Name an existing "
                "PEM file in the connection's ca_bundle extra on every worker",
                endpoint=urlsplit(url).netloc,
                kind="tls",
                cause=str(exc),
            ) from None
        return parse_envelope(response.status_code, response.content, what)


def _broken_data(what: str, problem: str, data: object) -> YxtProtocolError:
    """A code-0 answer whose ``data`` does not have the protocol's shape."""
    return broken_answer(what, problem, describe_data(data))
