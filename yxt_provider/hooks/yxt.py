"""``YxtHook``: turns an Airflow connection into a ready :class:`~yxt_provider.client.YxtClient`.

Connection mapping (``conn_type`` ``yxt``):

* ``host`` — the send base URL (scheme, host, port, optional path prefix); a bare host gets
  ``https://``; ``port``, when set, is applied if ``host`` has no port.
* ``login`` — the app key (``x-app-key``); ``password`` — the app secret (signs, never sent).
* extras — ``sp_code`` (required), ``info_host``, ``sign_uppercase``, ``timeout``,
  ``verify_ssl``, ``ca_bundle``, ``pool_size``, ``max_in_flight``, ``max_requests_per_second``,
  ``templates``, ``retry_max_attempts``, ``retry_max_elapsed``, ``retry_initial_wait``,
  ``retry_max_wait``.

Parsing lives in :class:`YxtConnectionSettings`, a pure function of the connection's fields, so
it is testable without Airflow's metadata database. Nothing here touches the network or a
database at import time or when the hook is created.
"""

from __future__ import annotations

import json
import logging
import math
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret as _mask_secret

from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.client.errors import YxtError, explain
from yxt_provider.get_provider_info import (
    CONNECTION_TYPE,
    INTEGRATION_NAME,
    YXT_CONN_FIELDS,
    YXT_UI_FIELD_BEHAVIOUR,
)

try:  # Airflow 3.2+; 3.1's airflow.sdk.log has mask_secret but no amask_secret
    from airflow.sdk.log import amask_secret as _amask_secret
except ImportError:  # pragma: no cover - Airflow 3.1
    _amask_secret = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_POOL_SIZE",
    "DEFAULT_TIMEOUT",
    "KNOWN_EXTRAS",
    "YxtConnectionError",
    "YxtConnectionSettings",
    "YxtHook",
    "amask_secret",
    "mask_secret",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)
DEFAULT_POOL_SIZE = 10
DEFAULT_MAX_IN_FLIGHT = 4
KNOWN_EXTRAS: frozenset[str] = frozenset(YXT_CONN_FIELDS)
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})
_TEMPLATE_ID = re.compile(r"^[\w.\-]+$")


def mask_secret(secret: str | None) -> None:
    """Register ``secret`` with Airflow's secret masker, so logs show ``***`` instead."""
    if secret:
        _mask_secret(secret)


async def amask_secret(secret: str | None) -> None:
    """Like :func:`mask_secret`, safe inside an event loop (triggers, async tasks)."""
    if not secret:
        return
    if _amask_secret is None:  # pragma: no cover - Airflow 3.1: only the blocking call exists
        mask_secret(secret)
        return
    await _amask_secret(secret)  # tells the supervisor without blocking the loop


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


# -- parsing helpers ------------------------------------------------------------------------


def _is_unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _normalize_base_url(conn_id: str, field_name: str, raw: Any, port: Any = None) -> str:
    """Return ``scheme://host[:port][/prefix]`` with no trailing slash; a bare host gets https."""
    if not isinstance(raw, str) or not raw.strip():
        raise YxtConnectionError(
            conn_id, field_name, "is empty; give the gateway's base URL, e.g. https://sms.example.com:8080"
        )
    text = raw.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise YxtConnectionError(
            conn_id, field_name, f"scheme must be http or https, got {parts.scheme!r} in {raw!r}"
        )
    if not parts.hostname:
        raise YxtConnectionError(conn_id, field_name, f"has no host name: {raw!r}")
    if parts.username or parts.password:
        raise YxtConnectionError(
            conn_id,
            field_name,
            "must not contain credentials; put the app key in login, the secret in password",
        )
    if parts.query or parts.fragment:
        raise YxtConnectionError(conn_id, field_name, f"must not have a query or fragment: {raw!r}")
    try:
        url_port = parts.port
    except ValueError:
        raise YxtConnectionError(conn_id, field_name, f"has an invalid port: {raw!r}") from None
    netloc = parts.netloc
    if port is not None and port != "":
        port_value = _to_int(conn_id, "port", port, minimum=1)
        if port_value > 65535:
            raise YxtConnectionError(conn_id, "port", f"must be 1–65535, got {port!r}")
        if url_port is None:
            netloc = f"{netloc}:{port_value}"
        elif url_port != port_value:
            raise YxtConnectionError(
                conn_id,
                "port",
                f"is {port_value} but host already names port {url_port}; remove one of them",
            )
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), netloc, path, "", ""))


def _to_bool(conn_id: str, name: str, value: Any, default: bool) -> bool:
    if _is_unset(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise YxtConnectionError(conn_id, f"extra.{name}", f"must be true or false, got {value!r}")


def _to_int(conn_id: str, name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool):
        raise YxtConnectionError(conn_id, name, f"must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise YxtConnectionError(conn_id, name, f"must be an integer, got {value!r}") from None
    if not isinstance(value, int):
        raise YxtConnectionError(conn_id, name, f"must be an integer, got {value!r}")
    if value < minimum:
        raise YxtConnectionError(conn_id, name, f"must be at least {minimum}, got {value}")
    return value


def _to_number(conn_id: str, name: str, value: Any, *, positive: bool) -> float:
    number: float
    if isinstance(value, bool):
        raise YxtConnectionError(conn_id, name, f"must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise YxtConnectionError(conn_id, name, f"must be a number, got {value!r}") from None
    else:
        raise YxtConnectionError(conn_id, name, f"must be a number, got {value!r}")
    if not math.isfinite(number):
        raise YxtConnectionError(conn_id, name, f"must be a finite number, got {value!r}")
    if positive and number <= 0:
        raise YxtConnectionError(conn_id, name, f"must be greater than 0, got {value!r}")
    if number < 0:
        raise YxtConnectionError(conn_id, name, f"must not be negative, got {value!r}")
    return number


def _list_from_text(conn_id: str, name: str, value: Any, expected: str) -> Any:
    """A list typed as text — JSON (``[...]``) or comma-separated — as a list; anything else as is.

    Extras arrive as text from the UI form and from URIs, so lists need reading back.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if not isinstance(parsed, list):
            raise YxtConnectionError(conn_id, name, f"must be {expected}, got {value!r}")
        return parsed
    if "," in text or "\n" in text:
        return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]
    return value


def _parse_timeout(conn_id: str, value: Any) -> float | tuple[float, float]:
    name = "extra.timeout"
    if _is_unset(value):
        return DEFAULT_TIMEOUT
    value = _list_from_text(conn_id, name, value, "seconds or [connect, read]")
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise YxtConnectionError(
                conn_id, name, f"as a list must be [connect, read] seconds, got {len(value)} items"
            )
        return (
            _to_number(conn_id, name, value[0], positive=True),
            _to_number(conn_id, name, value[1], positive=True),
        )
    return _to_number(conn_id, name, value, positive=True)


def _parse_verify(conn_id: str, verify_value: Any, ca_bundle: Any) -> bool | str:
    verify: bool | str
    if isinstance(verify_value, str) and verify_value.strip().lower() not in _TRUE | _FALSE | {""}:
        verify = verify_value.strip()  # a CA bundle path, as requests takes it
    else:
        verify = _to_bool(conn_id, "verify_ssl", verify_value, True)
    if _is_unset(ca_bundle):
        return verify
    if not isinstance(ca_bundle, str):
        raise YxtConnectionError(conn_id, "extra.ca_bundle", f"must be a file path, got {ca_bundle!r}")
    if verify is False:
        raise YxtConnectionError(
            conn_id, "extra.ca_bundle", "is set but verify_ssl is false; clear one of them"
        )
    if isinstance(verify, str) and verify != ca_bundle.strip():
        raise YxtConnectionError(
            conn_id, "extra.ca_bundle", "and verify_ssl name different CA bundles; keep one"
        )
    return ca_bundle.strip()


def _parse_templates(conn_id: str, value: Any) -> tuple[str, ...] | None:
    name = "extra.templates"
    if _is_unset(value):
        return None
    items = _list_from_text(conn_id, name, value, "a list of template ids")
    if isinstance(items, str):
        items = [items.strip()] if items.strip() else []
    elif isinstance(items, tuple):
        items = list(items)
    elif not isinstance(items, list):
        raise YxtConnectionError(conn_id, name, f"must be a list of template ids, got {value!r}")
    templates: list[str] = []
    for item in items:
        if (
            isinstance(item, bool)
            or not isinstance(item, (str, int))
            or not _TEMPLATE_ID.match(str(item).strip())
        ):
            raise YxtConnectionError(
                conn_id, name, f"has an invalid template id {item!r} (letters, digits, '.', '_', '-')"
            )
        templates.append(str(item).strip())
    return tuple(dict.fromkeys(templates)) or None


def _load_extra(conn_id: str, extra: Any) -> dict[str, Any]:
    if _is_unset(extra):
        return {}
    if isinstance(extra, Mapping):
        raw = dict(extra)
    elif isinstance(extra, str):
        try:
            raw = json.loads(extra)
        except json.JSONDecodeError as exc:
            raise YxtConnectionError(
                conn_id, "extra", f"is not valid JSON ({exc.msg} at {exc.pos})"
            ) from None
    else:
        raise YxtConnectionError(conn_id, "extra", f"must be a JSON object, got {type(extra).__name__}")
    if not isinstance(raw, dict):
        raise YxtConnectionError(conn_id, "extra", f"must be a JSON object, got {type(raw).__name__}")
    return raw


# -- the settings ---------------------------------------------------------------------------


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
    :param max_requests_per_second: send-rate limit per task, ``None`` for none.
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
        if unknown:
            log.warning(
                "YXT connection %r: ignoring unknown extras %s (known: %s)",
                conn_id,
                ", ".join(unknown),
                ", ".join(sorted(KNOWN_EXTRAS)),
            )

        base_url = _normalize_base_url(conn_id, "host", host, port)
        info_raw = extras.get("info_host")
        info_base_url = (
            base_url if _is_unset(info_raw) else _normalize_base_url(conn_id, "extra.info_host", info_raw)
        )

        if _is_unset(login):
            raise YxtConnectionError(
                conn_id, "login", "is empty; set it to the app key (the account name, x-app-key)"
            )
        if not isinstance(password, str) or not password:
            raise YxtConnectionError(conn_id, "password", "is empty; set it to the app secret")
        sp_code = extras.get("sp_code")
        if isinstance(sp_code, int) and not isinstance(sp_code, bool):
            sp_code = str(sp_code)
        if _is_unset(sp_code) or not isinstance(sp_code, str):
            raise YxtConnectionError(
                conn_id,
                "extra.sp_code",
                "is missing; set it to the enterprise code the gateway gave (x-sp-code)",
            )

        max_in_flight = (
            DEFAULT_MAX_IN_FLIGHT
            if _is_unset(extras.get("max_in_flight"))
            else _to_int(conn_id, "extra.max_in_flight", extras["max_in_flight"], minimum=1)
        )
        pool_size = (
            max(DEFAULT_POOL_SIZE, max_in_flight)
            if _is_unset(extras.get("pool_size"))
            else _to_int(conn_id, "extra.pool_size", extras["pool_size"], minimum=1)
        )
        rps_raw = extras.get("max_requests_per_second")
        rps = (
            None
            if _is_unset(rps_raw)
            else _to_number(conn_id, "extra.max_requests_per_second", rps_raw, positive=True)
        )

        return cls(
            conn_id=conn_id,
            base_url=base_url,
            info_base_url=info_base_url,
            sp_code=sp_code.strip(),
            app_key=str(login).strip(),
            app_secret=password,
            sign_uppercase=_to_bool(conn_id, "sign_uppercase", extras.get("sign_uppercase"), False),
            timeout=_parse_timeout(conn_id, extras.get("timeout")),
            verify_ssl=_parse_verify(conn_id, extras.get("verify_ssl"), extras.get("ca_bundle")),
            pool_size=pool_size,
            max_in_flight=max_in_flight,
            max_requests_per_second=rps,
            templates=_parse_templates(conn_id, extras.get("templates")),
            retry=cls._parse_retry(conn_id, extras),
        )

    @staticmethod
    def _parse_retry(conn_id: str, extras: Mapping[str, Any]) -> RetrySettings:
        kwargs: dict[str, Any] = {}
        if not _is_unset(extras.get("retry_max_attempts")):
            kwargs["max_attempts"] = _to_int(
                conn_id, "extra.retry_max_attempts", extras["retry_max_attempts"], minimum=1
            )
        for key, attr, positive in (
            ("retry_max_elapsed", "max_elapsed", True),
            ("retry_initial_wait", "initial_wait", False),
            ("retry_max_wait", "max_wait", False),
        ):
            if not _is_unset(extras.get(key)):
                kwargs[attr] = _to_number(conn_id, f"extra.{key}", extras[key], positive=positive)
        try:
            return RetrySettings(**kwargs)
        except ValueError as exc:  # pragma: no cover - the checks above catch these first
            raise YxtConnectionError(conn_id, "extra.retry_*", str(exc)) from None

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
        return YxtClient(**{**self.client_kwargs(), **overrides})


# -- the hook -------------------------------------------------------------------------------


class YxtHook(BaseHook):
    """Hook for the YXT (一信通) SMS gateway: builds a :class:`~yxt_provider.client.YxtClient`.

    The connection is read, and the client built, on first use, never when the hook is made.

    :param yxt_conn_id: the Airflow connection id (``conn_type`` ``yxt``).
    :param on_retry: passed to the client: called with the exception and attempt number before
        each retry (the send operator slows down on code 11 with it).
    :param logger_name: name of the hook's logger (Airflow's default when ``None``).
    """

    conn_name_attr = "yxt_conn_id"
    default_conn_name = "yxt_default"
    conn_type = CONNECTION_TYPE
    hook_name = INTEGRATION_NAME

    def __init__(
        self,
        yxt_conn_id: str = default_conn_name,
        *,
        on_retry: Callable[[BaseException, int], None] | None = None,
        logger_name: str | None = None,
    ) -> None:
        super().__init__(logger_name=logger_name)
        self.yxt_conn_id = yxt_conn_id
        self.on_retry = on_retry

    # -- connection and client -----------------------------------------------------------

    @cached_property
    def settings(self) -> YxtConnectionSettings:
        """The connection, read once and validated; the secret is masked as soon as it is read."""
        conn = self.get_connection(self.yxt_conn_id)
        mask_secret(conn.password)
        return YxtConnectionSettings.from_connection(conn)

    @cached_property
    def client(self) -> YxtClient:
        """The hook's client, built on first use and kept (one keep-alive session)."""
        return self.settings.make_client(on_retry=self.on_retry)

    def get_conn(self) -> YxtClient:
        """Return the cached :class:`~yxt_provider.client.YxtClient`."""
        return self.client

    async def aget_settings(self) -> YxtConnectionSettings:
        """:attr:`settings` for code running in an event loop (triggers): the lookup does not block it."""
        if "settings" not in self.__dict__:  # the cached_property's slot
            conn = await self.aget_connection(self.yxt_conn_id)
            await amask_secret(conn.password)
            self.__dict__["settings"] = YxtConnectionSettings.from_connection(conn)
        return self.settings

    async def aget_conn(self) -> YxtClient:
        """The cached client, with the connection read without blocking the event loop.

        The client itself is synchronous; call it through ``asyncio.to_thread``.
        """
        await self.aget_settings()
        return self.client

    def close(self) -> None:
        """Close the cached client's connections, if one was built."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    @property
    def max_in_flight(self) -> int:
        """Send requests one task keeps in flight (extra ``max_in_flight``, default 4)."""
        return self.settings.max_in_flight

    @property
    def max_requests_per_second(self) -> float | None:
        """Send-rate limit per task (extra ``max_requests_per_second``), ``None`` for no limit."""
        return self.settings.max_requests_per_second

    @property
    def templates(self) -> tuple[str, ...] | None:
        """Template ids the account has (extra ``templates``), ``None`` when not configured."""
        return self.settings.templates

    @property
    def retry(self) -> RetrySettings:
        """The retry settings from the connection's ``retry_*`` extras."""
        return self.settings.retry

    # -- connection test -----------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Make one signed ``reply/query`` call, which consumes nothing, and say what came of it.

        Replies stay on the gateway until confirmed and receipts are never read, so a test
        leaves both queues as they were. Code 38 (no data) counts as success.
        """
        try:
            settings = self.settings
        except YxtConnectionError as exc:
            return False, str(exc)
        except Exception as exc:  # e.g. AirflowNotFoundException
            return False, f"Could not read connection {self.yxt_conn_id!r}: {exc}"

        try:
            client = settings.make_client(retry=RetrySettings(max_attempts=1))
        except ValueError as exc:
            return False, f"YXT connection {settings.conn_id!r}: {exc}"
        try:
            page = client.query_replies()
        except YxtError as exc:
            return False, explain(exc, fallback="The gateway refused the test call.")
        finally:
            client.close()

        where = settings.info_base_url
        message = (
            f"Connected to {where} as app key {settings.app_key!r} (sp_code {settings.sp_code}): "
            f"signature accepted; {len(page.replies)} unconfirmed replies waiting, left untouched."
        )
        if settings.base_url != settings.info_base_url:
            reachable, detail = _tcp_reachable(settings.base_url, settings.timeout)
            if not reachable:
                return False, f"{message} But the send base URL {settings.base_url} is unreachable: {detail}"
            message += f" Send base URL {settings.base_url} accepts connections."
        return True, message

    # -- connection form -----------------------------------------------------------------

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form."""
        return {
            "hidden_fields": list(YXT_UI_FIELD_BEHAVIOUR["hidden-fields"]),
            "relabeling": dict(YXT_UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(YXT_UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Custom fields of the connection form, built from ``conn-fields``.

        Airflow 3.1's providers manager calls this and does not read ``conn-fields``; 3.2+ reads
        ``conn-fields`` from :func:`yxt_provider.get_provider_info.get_provider_info` instead.
        """
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, StringField
        from wtforms.validators import NumberRange, Optional

        widgets: dict[str, Any] = {}
        for name, spec in YXT_CONN_FIELDS.items():
            label = lazy_gettext(spec["label"])
            types = spec["schema"]["type"]
            description = spec.get("description", "")
            if "boolean" in types:
                widgets[name] = BooleanField(
                    label, default=spec["schema"].get("default", False), description=description
                )
            elif "integer" in types:
                widgets[name] = IntegerField(
                    label,
                    validators=[Optional(), NumberRange(min=spec["schema"].get("minimum", 0))],
                    widget=BS3TextFieldWidget(),
                    description=description,
                )
            else:  # strings, numbers that may be fractional, lists given comma-separated
                widgets[name] = StringField(label, widget=BS3TextFieldWidget(), description=description)
        return widgets


def _tcp_reachable(base_url: str, timeout: float | tuple[float, float]) -> tuple[bool, str]:
    """Open (and close) a TCP connection to the host of ``base_url``; no request is sent."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    connect_timeout = timeout[0] if isinstance(timeout, tuple) else timeout
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=connect_timeout):
            return True, "ok"
    except OSError as exc:
        return False, f"{type(exc).__name__}: {exc}"
