"""What a YXT connection says, validated: :class:`YxtConnectionSettings` and its parser.

Connection mapping (``conn_type`` ``yxt``):

* ``host`` — the send base URL (scheme, host, port, optional path prefix); a bare host gets
  ``https://``; ``port``, when set, is applied if ``host`` has no port.
* ``login`` — the app key (``x-app-key``); ``password`` — the app secret (signs, never sent).
* extras — ``sp_code`` (required), ``info_host``, ``sign_uppercase``, ``timeout``,
  ``verify_ssl``, ``ca_bundle``, ``pool_size``, ``max_in_flight``, ``max_requests_per_second``,
  ``templates``, ``retry_max_attempts``, ``retry_max_elapsed``, ``retry_initial_wait``,
  ``retry_max_wait``.

Nothing here imports Airflow: the settings are a pure function of the connection's fields, so
scripts, the sandbox and tests can use them without Airflow's metadata database or its
import cost. Every error names the connection, the field and the fix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from yxt_provider.client.retry import RetrySettings
from yxt_provider.get_provider_info import YXT_CONN_FIELDS

if TYPE_CHECKING:
    from yxt_provider.client.client import YxtClient

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_POOL_SIZE",
    "DEFAULT_TIMEOUT",
    "KNOWN_EXTRAS",
    "YxtConnectionError",
    "YxtConnectionSettings",
]

log = logging.getLogger(__name__)

#: Seconds to connect and to read when the ``timeout`` extra is not set.
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
#: HTTP connections kept per host when ``pool_size`` is not set (or ``max_in_flight``, if larger).
DEFAULT_POOL_SIZE = 10
#: Send requests one task keeps in flight when ``max_in_flight`` is not set.
DEFAULT_MAX_IN_FLIGHT = 4
#: The extras a connection may have: the form's fields, one list, so a new field cannot be forgotten
#: here.
KNOWN_EXTRAS: frozenset[str] = frozenset(YXT_CONN_FIELDS)
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_TEMPLATE_ID = re.compile(r"^[\w.\-]+$")


class YxtConnectionError(ValueError):
    """The Airflow connection for the YXT gateway is missing a field or has a wrong one.

    Raised before any request is made.

    :param conn_id: the connection id.
    :param field: the connection field or extra at fault (e.g. ``host``, ``extra.sp_code``).
    :param problem: what is wrong and how to fix it.
    """

    def __init__(self, conn_id: str, field: str, problem: str) -> None:
        self.conn_id = conn_id
        self.field = field
        self.problem = problem
        super().__init__(f"YXT connection {conn_id!r}: {field}: {problem}")


def _is_unset(value: Any) -> bool:
    # The UI form and URIs send "" for a field left empty: that means "use the default".
    return value is None or (isinstance(value, str) and not value.strip())


def _load_extra(conn_id: str, extra: Any) -> dict[str, Any]:
    """The extras as a dict, from a JSON string or a mapping."""
    if _is_unset(extra):
        return {}
    raw = extra
    if isinstance(extra, str):
        try:
            raw = json.loads(extra)
        except json.JSONDecodeError as exc:
            raise YxtConnectionError(
                conn_id, "extra", f"is not valid JSON ({exc.msg} at {exc.pos})"
            ) from None
    if not isinstance(raw, Mapping):
        raise YxtConnectionError(conn_id, "extra", f"must be a JSON object, got {type(raw).__name__}")
    return dict(raw)


class _Parser:
    """Reads one connection's fields; every error it raises names the connection and the field.

    :param conn_id: the connection id, for error messages.
    :param extras: the connection's extras.
    """

    def __init__(self, conn_id: str, extras: dict[str, Any]) -> None:
        self.conn_id = conn_id
        self.extras = extras

    def fail(self, field: str, problem: str) -> NoReturn:
        raise YxtConnectionError(self.conn_id, field, problem)

    def extra(self, name: str) -> Any:
        """The extra ``name``, or ``None`` when it is absent or blank."""
        value = self.extras.get(name)
        return None if _is_unset(value) else value

    # -- scalars -----------------------------------------------------------------------------

    def integer(self, field: str, value: Any, *, minimum: int) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):  # left as text, refused just below
                value = int(value.strip())
        # bool is an int to Python, but ``true`` for a pool size is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field, f"must be an integer, got {value!r}")
        if value < minimum:
            self.fail(field, f"must be at least {minimum}, got {value}")
        return value

    def number(self, field: str, value: Any, *, positive: bool) -> float:
        number: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            with contextlib.suppress(ValueError):
                number = float(value.strip())
        if number is None:
            self.fail(field, f"must be a number, got {value!r}")
        if not math.isfinite(number):
            self.fail(field, f"must be a finite number, got {value!r}")
        if positive and number <= 0:
            self.fail(field, f"must be greater than 0, got {value!r}")
        if number < 0:
            self.fail(field, f"must not be negative, got {value!r}")
        return number

    def int_extra(self, name: str) -> int | None:
        value = self.extra(name)
        return None if value is None else self.integer(f"extra.{name}", value, minimum=1)

    def number_extra(self, name: str, *, positive: bool) -> float | None:
        value = self.extra(name)
        return None if value is None else self.number(f"extra.{name}", value, positive=positive)

    def bool_extra(self, name: str, default: bool) -> bool:
        value = self.extra(name)
        if value is None or isinstance(value, bool):
            return default if value is None else value
        text = value.strip().lower() if isinstance(value, str) else None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        self.fail(f"extra.{name}", f"must be true or false, got {value!r}")

    def list_from_text(self, field: str, value: Any, expected: str) -> Any:
        """A list typed as text — JSON (``[...]``) or comma-separated — as a list; anything else as is.

        Extras arrive as text from the UI form and from URIs, so lists need reading back.
        """
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            with contextlib.suppress(ValueError):
                parsed = json.loads(text)
                if isinstance(parsed, list):
                    return parsed
            self.fail(field, f"must be {expected}, got {value!r}")
        if "," in text or "\n" in text:
            return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
        return value

    # -- fields ------------------------------------------------------------------------------

    def url(self, field: str, raw: Any, port: Any = None) -> str:
        """``scheme://host[:port][/prefix]`` with no trailing slash; a bare host gets https."""
        if _is_unset(raw) or not isinstance(raw, str):
            self.fail(field, "is empty; give the gateway's base URL, e.g. https://sms.example.com:8080")
        text = raw.strip()
        parts = urlsplit(text if "://" in text else "https://" + text)
        if parts.scheme.lower() not in ("http", "https"):
            self.fail(field, f"scheme must be http or https, got {parts.scheme!r} in {raw!r}")
        if not parts.hostname:
            self.fail(field, f"has no host name: {raw!r}")
        if parts.username or parts.password:
            self.fail(field, "must not contain credentials; put the app key in login, the secret in password")
        if parts.query or parts.fragment:
            self.fail(field, f"must not have a query or fragment: {raw!r}")
        try:
            url_port = parts.port
        except ValueError:
            self.fail(field, f"has an invalid port: {raw!r}")
        netloc = parts.netloc
        if not _is_unset(port):
            port_value = self.integer("port", port, minimum=1)
            if port_value > 65535:
                self.fail("port", f"must be 1–65535, got {port!r}")
            if url_port is None:
                netloc = f"{netloc}:{port_value}"
            elif url_port != port_value:
                self.fail(
                    "port", f"is {port_value} but host already names port {url_port}; remove one of them"
                )
        return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))

    def timeout(self) -> float | tuple[float, float]:
        field, value = "extra.timeout", self.extra("timeout")
        if value is None:
            return DEFAULT_TIMEOUT
        value = self.list_from_text(field, value, "seconds or [connect, read]")
        if not isinstance(value, (list, tuple)):
            return self.number(field, value, positive=True)
        if len(value) != 2:
            self.fail(field, f"as a list must be [connect, read] seconds, got {len(value)} items")
        return (self.number(field, value[0], positive=True), self.number(field, value[1], positive=True))

    def verify(self) -> bool | str:
        raw, ca_bundle = self.extras.get("verify_ssl"), self.extra("ca_bundle")
        verify: bool | str
        if isinstance(raw, str) and raw.strip().lower() not in _TRUE | _FALSE | {""}:
            verify = raw.strip()  # a CA bundle path, as requests takes it
        else:
            verify = self.bool_extra("verify_ssl", True)
        if ca_bundle is None:
            return verify
        if not isinstance(ca_bundle, str):
            self.fail("extra.ca_bundle", f"must be a file path, got {ca_bundle!r}")
        if verify is False:
            self.fail("extra.ca_bundle", "is set but verify_ssl is false; clear one of them")
        if isinstance(verify, str) and verify != ca_bundle.strip():
            self.fail("extra.ca_bundle", "and verify_ssl name different CA bundles; keep one")
        return ca_bundle.strip()

    def templates(self) -> tuple[str, ...] | None:
        field, value = "extra.templates", self.extra("templates")
        if value is None:
            return None
        items = self.list_from_text(field, value, "a list of template ids")
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, (list, tuple)):
            self.fail(field, f"must be a list of template ids, got {value!r}")
        for item in items:
            # A JSON number is a fine id (ids are digits); true, null or "" are mistakes.
            if (
                isinstance(item, bool)
                or not isinstance(item, (str, int))
                or not _TEMPLATE_ID.match(str(item).strip())
            ):
                self.fail(field, f"has an invalid template id {item!r} (letters, digits, '.', '_', '-')")
        return tuple(dict.fromkeys(str(item).strip() for item in items)) or None

    def retry(self) -> RetrySettings:
        values: dict[str, Any] = {
            "max_attempts": self.int_extra("retry_max_attempts"),
            "max_elapsed": self.number_extra("retry_max_elapsed", positive=True),
            "initial_wait": self.number_extra("retry_initial_wait", positive=False),
            "max_wait": self.number_extra("retry_max_wait", positive=False),
        }
        try:
            return RetrySettings(**{name: value for name, value in values.items() if value is not None})
        except ValueError as exc:  # pragma: no cover - the checks above catch these first
            self.fail("extra.retry_*", str(exc))


@dataclass(frozen=True)
class YxtConnectionSettings:
    """Everything a YXT connection says, validated; build it with :meth:`from_connection`.

    :param conn_id: the Airflow connection id (used in error messages).
    :param base_url: send base URL, normalised (``https://`` added to a bare host, no trailing ``/``).
    :param info_base_url: base URL of the ``/info/...`` calls (``base_url`` unless ``info_host`` is set).
    :param sp_code: the enterprise code (``x-sp-code``).
    :param app_key: the account name (``x-app-key``).
    :param app_secret: the account secret; hidden from ``repr``.
    :param sign_uppercase: sign with upper-case hex.
    :param timeout: seconds, or ``(connect, read)`` seconds.
    :param verify_ssl: verify TLS certificates, or the path of a CA bundle.
    :param pool_size: HTTP connections kept alive per host.
    :param max_in_flight: send requests one task keeps in flight (read by the send operator).
    :param max_requests_per_second: send-rate limit of the account, shared through the ledger by
        every task using it; ``None`` for none.
    :param templates: template ids the account has, ``None`` when not configured.
    :param retry: how transient failures are retried.
    """

    conn_id: str
    base_url: str
    info_base_url: str
    sp_code: str
    app_key: str
    app_secret: str = field(repr=False)
    sign_uppercase: bool = False
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT
    verify_ssl: bool | str = True
    pool_size: int = DEFAULT_POOL_SIZE
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    max_requests_per_second: float | None = None
    templates: tuple[str, ...] | None = None
    retry: RetrySettings = field(default_factory=RetrySettings)

    @classmethod
    def from_connection(cls, conn: Any) -> YxtConnectionSettings:
        """Parse an Airflow ``Connection`` (or anything with its attributes); raise ``YxtConnectionError``.

        :param conn: an object with ``conn_id``, ``host``, ``port``, ``login``, ``password`` and
            ``extra`` (a JSON string or a mapping), like ``airflow.sdk.Connection``.
        """
        return cls.from_fields(
            conn_id=str(getattr(conn, "conn_id", None) or "<unnamed>"),
            host=getattr(conn, "host", None),
            port=getattr(conn, "port", None),
            login=getattr(conn, "login", None),
            password=getattr(conn, "password", None),
            extra=getattr(conn, "extra", None),
        )

    @classmethod
    def from_fields(
        cls,
        *,
        conn_id: str,
        host: str | None,
        login: str | None,
        password: str | None,
        port: int | str | None = None,
        extra: str | Mapping[str, Any] | None = None,
    ) -> YxtConnectionSettings:
        """Parse the connection's fields one by one; see :meth:`from_connection`.

        :param conn_id: the connection id, for error messages.
        :param host: the send base URL.
        :param login: the app key.
        :param password: the app secret.
        :param port: applied to ``host`` when it has no port.
        :param extra: the extras, as a JSON string or a mapping.
        """
        extras = _load_extra(conn_id, extra)
        unknown = sorted(set(extras) - KNOWN_EXTRAS)
        if unknown:  # names only: a value could be a secret typed into the wrong key
            log.warning(
                "YXT connection %r: ignoring unknown extras %s (known: %s)",
                conn_id,
                ", ".join(unknown),
                ", ".join(sorted(KNOWN_EXTRAS)),
            )
        p = _Parser(conn_id, extras)
        base_url = p.url("host", host, port)
        info_host = p.extra("info_host")
        info_base_url = base_url if info_host is None else p.url("extra.info_host", info_host)
        if _is_unset(login):
            p.fail("login", "is empty; set it to the app key (the account name, x-app-key)")
        if not isinstance(password, str) or not password:  # not stripped: spaces can be part of it
            p.fail("password", "is empty; set it to the app secret")
        sp_code = p.extra("sp_code")
        if isinstance(sp_code, int) and not isinstance(sp_code, bool):
            sp_code = str(sp_code)  # a JSON number, e.g. {"sp_code": 100001}
        if not isinstance(sp_code, str):
            p.fail("extra.sp_code", "is missing; set it to the enterprise code the gateway gave (x-sp-code)")
        max_in_flight = p.int_extra("max_in_flight") or DEFAULT_MAX_IN_FLIGHT  # never 0: minimum is 1
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            info_base_url=info_base_url,
            sp_code=sp_code.strip(),
            app_key=str(login).strip(),
            app_secret=password,
            # Each request in flight holds a connection, so the pool grows with them by default.
            pool_size=p.int_extra("pool_size") or max(DEFAULT_POOL_SIZE, max_in_flight),
            max_in_flight=max_in_flight,
            max_requests_per_second=p.number_extra("max_requests_per_second", positive=True),
            sign_uppercase=p.bool_extra("sign_uppercase", False),
            timeout=p.timeout(),
            verify_ssl=p.verify(),
            templates=p.templates(),
            retry=p.retry(),
        )

    def client_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of :class:`~yxt_provider.client.YxtClient` (secret included)."""
        return {
            "base_url": self.base_url,
            "sp_code": self.sp_code,
            "app_key": self.app_key,
            "app_secret": self.app_secret,
            "info_base_url": self.info_base_url,
            "timeout": self.timeout,
            "sign_uppercase": self.sign_uppercase,
            "verify_ssl": self.verify_ssl,
            "pool_size": self.pool_size,
            "retry": self.retry,
        }

    def make_client(self, **overrides: Any) -> YxtClient:
        """Return a new :class:`~yxt_provider.client.YxtClient`; ``overrides`` replace its arguments.

        :param overrides: e.g. ``on_retry=...`` or ``retry=RetrySettings(max_attempts=1)``.
        """
        from yxt_provider.client.client import YxtClient  # requests loads when a client is made

        return YxtClient(**{**self.client_kwargs(), **overrides})
