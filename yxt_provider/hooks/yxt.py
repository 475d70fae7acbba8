"""``YxtHook``: an Airflow connection as a ready :class:`~yxt_provider.client.YxtClient`.

:mod:`yxt_provider.connection` parses the connection (its names are re-exported here, where users
import them from); this module adds what needs Airflow: lookup, secret masking, test and form.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret as _mask_secret

from yxt_provider.client.errors import YxtError, explain
from yxt_provider.client.retry import RetrySettings
from yxt_provider.connection import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POOL_SIZE,
    DEFAULT_TIMEOUT,
    KNOWN_EXTRAS,
    YxtConnectionError,
    YxtConnectionSettings,
)
from yxt_provider.get_provider_info import (
    CONNECTION_TYPE,
    DEFAULT_CONN_ID,
    INTEGRATION_NAME,
    YXT_CONN_FIELDS,
    YXT_UI_FIELD_BEHAVIOUR,
)

if TYPE_CHECKING:
    # The client (and requests) load when the hook first makes a call, not when a DAG imports this.
    from yxt_provider.client import Receipt, ReplyPage, SendResult, YxtClient

try:  # Airflow 3.2+; 3.1's airflow.sdk.log has mask_secret but no amask_secret
    from airflow.sdk.log import amask_secret as _amask_secret
except ImportError:  # pragma: no cover - Airflow 3.1
    _amask_secret = None  # type: ignore[assignment]

# The id Airflow's "Test" button gives the connection it tests (airflow.utils.strings.get_random_string).
_RANDOM_TEST_ID = re.compile(r"[A-Za-z0-9]{8}")

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


def mask_secret(secret: str | None) -> None:
    """Register ``secret`` with Airflow's secret masker, so logs show ``***`` instead.

    :param secret: the secret; nothing happens when it is empty.
    """
    if secret:
        _mask_secret(secret)


async def amask_secret(secret: str | None) -> None:
    """Like :func:`mask_secret`, safe inside an event loop (triggers, async tasks).

    :param secret: the secret; nothing happens when it is empty.
    """
    if not secret:
        return
    if _amask_secret is None:  # pragma: no cover - Airflow 3.1: only the blocking call exists
        mask_secret(secret)
        return
    await _amask_secret(secret)  # tells the supervisor without blocking the loop


class YxtHook(BaseHook):
    """Hook for the YXT (一信通) SMS gateway: the connection's client and the four gateway calls.

    The connection is read, and the client built, on first use, never when the hook is made.
    Operators, sensors and notifiers call :meth:`send`, :meth:`fetch_receipts`,
    :meth:`query_replies` and :meth:`confirm_replies`; :attr:`client` is there for the rest.

    :param yxt_conn_id: the Airflow connection id (``conn_type`` ``yxt``).
    :param on_retry: passed to the client: called with the exception and attempt number before
        each retry (the send operator slows down on code 11 with it).
    :param logger_name: name of the hook's logger (Airflow's default when ``None``).
    """

    conn_name_attr = "yxt_conn_id"
    default_conn_name = DEFAULT_CONN_ID
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
        mask_secret(conn.password)  # at once: whatever fails next, logs show *** for it
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
        """Close the cached client's connections, if one was built; the next use builds a new one."""
        client = self.__dict__.pop("client", None)
        if client is not None:
            client.close()

    @property
    def max_in_flight(self) -> int:
        """Send requests one task keeps in flight (extra ``max_in_flight``, default 4)."""
        return self.settings.max_in_flight

    @property
    def max_requests_per_second(self) -> float | None:
        """Send-rate limit of the gateway account (extra ``max_requests_per_second``), ``None`` for no limit.

        Shared through the ledger by every task sending with this connection (or another one of
        the same account), on every worker: their requests together stay within it.
        """
        return self.settings.max_requests_per_second

    @property
    def templates(self) -> tuple[str, ...] | None:
        """Template ids the account has (extra ``templates``), ``None`` when not configured."""
        return self.settings.templates

    @property
    def retry(self) -> RetrySettings:
        """The retry settings from the connection's ``retry_*`` extras."""
        return self.settings.retry

    # -- the gateway calls -----------------------------------------------------------------

    def send(self, numbers: Iterable[str], content: str, template_id: str, serial_number: str) -> SendResult:
        """Send one text to up to 1000 numbers, validated first; retries reuse the serial.

        :param numbers: the recipients' mobile numbers.
        :param content: the message text; it must fit the template.
        :param template_id: the template registered with the gateway.
        :param serial_number: 20 digits, unique per request; a repeat is answered with code 15
            (:class:`~yxt_provider.client.errors.YxtDuplicateSerialError`), which callers decide on.
        """
        return self.client.send(numbers, content, template_id, serial_number)

    def fetch_receipts(self) -> list[Receipt]:
        """Read one page of delivery receipts; the gateway forgets them once read, so store them."""
        return self.client.fetch_receipts()

    def query_replies(self) -> ReplyPage:
        """Read the unconfirmed inbound replies; they stay on the gateway until confirmed."""
        return self.client.query_replies()

    def confirm_replies(self, max_id: str) -> None:
        """Confirm every reply up to ``max_id``; the gateway then forgets them. Store them first.

        :param max_id: the ``max_id`` of the :class:`~yxt_provider.client.ReplyPage` stored.
        """
        self.client.confirm_replies(max_id)

    # -- connection test -----------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Make one signed ``reply/query`` call, which consumes nothing, and say what came of it.

        Replies stay on the gateway until confirmed and receipts are never read, so a test
        leaves both queues as they were. Code 38 (no data) counts as success.
        """
        try:
            settings = self.settings
        except YxtConnectionError as exc:
            if _is_test_button_id(self.yxt_conn_id):
                return False, f"YXT connection: {exc.field}: {exc.problem}"
            return False, str(exc)
        except Exception as exc:  # e.g. AirflowNotFoundException
            return False, f"Could not read connection {self.yxt_conn_id!r}: {exc}"
        # One attempt: a person is waiting for the answer, whatever the retry extras say.
        client = settings.make_client(retry=RetrySettings(max_attempts=1))
        try:
            page = client.query_replies()
        except YxtError as exc:
            return False, explain(exc, fallback="The gateway refused the test call.")
        finally:
            client.close()

        message = (
            f"Connected to {settings.info_base_url} as app key {settings.app_key!r} "
            f"(sp_code {settings.sp_code}): signature accepted; "
            f"{len(page.replies)} unconfirmed replies waiting, left untouched."
        )
        if settings.base_url != settings.info_base_url:
            # No send call can be made without sending an SMS, so only check the host listens.
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
            label, schema = lazy_gettext(spec["label"]), spec["schema"]
            description = spec.get("description", "")
            if "boolean" in schema["type"]:
                widgets[name] = BooleanField(
                    label, default=schema.get("default", False), description=description
                )
            elif "integer" in schema["type"]:
                validators = [Optional(), NumberRange(min=schema.get("minimum", 0))]
                widgets[name] = IntegerField(
                    label, validators=validators, widget=BS3TextFieldWidget(), description=description
                )
            else:  # strings, numbers that may be fractional, lists given comma-separated
                widgets[name] = StringField(label, widget=BS3TextFieldWidget(), description=description)
        return widgets


def _is_test_button_id(conn_id: str) -> bool:
    """True when ``conn_id`` is the throw-away id of the UI's Test button, which means nothing to the user.

    Airflow's test endpoint copies the form into a connection named by ``get_random_string()``
    (8 letters and digits) and exports it as ``AIRFLOW_CONN_<ID>`` for the test's duration.
    """
    return bool(_RANDOM_TEST_ID.fullmatch(conn_id)) and f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ


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
