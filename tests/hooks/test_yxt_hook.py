"""``YxtHook`` with connections made the ways users make them, without a gateway.

Connections come from ``AIRFLOW_CONN_*`` environment variables (JSON and URI) and from
``Connection`` objects (the path the UI's *Test* button takes); no metadata database.
"""

from __future__ import annotations

import json
import socket
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from airflow.sdk import Connection
from airflow.sdk.log import redact

from yxt_provider.client import YxtClient
from yxt_provider.get_provider_info import YXT_CONN_FIELDS, YXT_UI_FIELD_BEHAVIOUR
from yxt_provider.hooks.yxt import YxtConnectionError, YxtHook

SECRET = "hook-secret-5b7e21"


def conn_json(**overrides: Any) -> str:
    conn: dict[str, Any] = {
        "conn_type": "yxt",
        "host": "http://127.0.0.1:8080",
        "login": "demo_app",
        "password": SECRET,
        "extra": {"sp_code": "100001", "max_in_flight": 6, "templates": ["2031012220113"]},
    }
    conn.update(overrides)
    return json.dumps(conn)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def hook_from_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[YxtHook]:
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", conn_json())
    hook = YxtHook()
    yield hook
    hook.close()


# -- class attributes and laziness ------------------------------------------------------------


def test_class_attributes() -> None:
    assert YxtHook.conn_type == "yxt"
    assert YxtHook.default_conn_name == "yxt_default"
    assert YxtHook.conn_name_attr == "yxt_conn_id"
    assert YxtHook.hook_name == "YXT SMS"
    assert YxtHook().yxt_conn_id == "yxt_default"
    assert YxtHook(yxt_conn_id="other").yxt_conn_id == "other"


def test_creating_the_hook_reads_nothing() -> None:
    hook = YxtHook("no_such_connection_anywhere")  # no lookup yet: this must not raise
    assert "settings" not in hook.__dict__
    assert "client" not in hook.__dict__
    with pytest.raises(Exception, match="no_such_connection_anywhere"):
        _ = hook.settings


# -- connections the ways users make them -----------------------------------------------------


def test_json_env_var(hook_from_env: YxtHook) -> None:
    settings = hook_from_env.settings
    assert settings.conn_id == "yxt_default"
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.app_key == "demo_app"
    assert settings.app_secret == SECRET
    assert settings.sp_code == "100001"
    assert hook_from_env.max_in_flight == 6
    assert hook_from_env.max_requests_per_second is None
    assert hook_from_env.templates == ("2031012220113",)
    assert hook_from_env.retry.max_attempts == 5


def test_json_env_var_with_port_field_and_extra_as_string(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_JSON2",
        conn_json(host="127.0.0.1", port=8443, extra=json.dumps({"sp_code": "100001"})),
    )
    assert YxtHook("yxt_json2").settings.base_url == "https://127.0.0.1:8443"


def test_uri_env_var_bare_host_gets_https(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_URI",
        f"yxt://demo_app:{SECRET}@sms.example.com:8443/"
        "?sp_code=100001&sign_uppercase=true&timeout=%5B3%2C+20%5D&max_requests_per_second=12"
        "&templates=t1%2Ct2&retry_max_attempts=2",
    )
    settings = YxtHook("yxt_uri").settings
    assert settings.base_url == "https://sms.example.com:8443"
    assert settings.app_key == "demo_app"
    assert settings.app_secret == SECRET
    assert settings.sp_code == "100001"
    assert settings.sign_uppercase is True
    assert settings.timeout == (3.0, 20.0)
    assert settings.max_requests_per_second == 12.0
    assert settings.templates == ("t1", "t2")
    assert settings.retry.max_attempts == 2


def test_uri_env_var_with_http_scheme_in_host(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = Connection(
        conn_id="x",
        conn_type="yxt",
        host="http://127.0.0.1:8080",
        login="demo_app",
        password=SECRET,
        extra=json.dumps({"sp_code": "100001", "info_host": "http://127.0.0.1:8081"}),
    )
    monkeypatch.setenv("AIRFLOW_CONN_YXT_URI_HTTP", conn.get_uri())
    settings = YxtHook("yxt_uri_http").settings
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.info_base_url == "http://127.0.0.1:8081"
    assert settings.app_secret == SECRET


def test_uri_env_var_with_scheme_after_conn_type(monkeypatch: pytest.MonkeyPatch) -> None:
    """The short form documented for plain-http gateways such as the sandbox."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_URI_SHORT", f"yxt://http://demo_app:{SECRET}@127.0.0.1:8080/?sp_code=100001"
    )
    settings = YxtHook("yxt_uri_short").settings
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.app_key == "demo_app"
    assert settings.app_secret == SECRET


def test_uri_secret_with_special_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "p@ss:w/rd?&=%"
    conn = Connection(
        conn_id="x",
        conn_type="yxt",
        host="127.0.0.1",
        login="demo_app",
        password=secret,
        extra='{"sp_code": "1"}',
    )
    monkeypatch.setenv("AIRFLOW_CONN_YXT_SPECIAL", conn.get_uri())
    assert YxtHook("yxt_special").settings.app_secret == secret


def test_connection_object_via_connection_test_path() -> None:
    """``Connection.test_connection()`` is what the UI's Test button runs: the hook resolves the unsaved connection."""
    conn = Connection(
        conn_id="yxt_unsaved",
        conn_type="yxt",
        host="127.0.0.1",
        login="demo_app",
        password=SECRET,
        extra=json.dumps({"info_host": "http://127.0.0.1:1"}),  # sp_code missing
    )
    ok, message = conn.test_connection()
    assert ok is False
    assert (
        message
        == "YXT connection 'yxt_unsaved': extra.sp_code: is missing; set it to the enterprise code the gateway gave (x-sp-code)"
    )


def test_connection_object_get_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    conn = Connection(
        conn_id="yxt_obj", conn_type="yxt", host="h", login="k", password=SECRET, extra='{"sp_code": "9"}'
    )
    monkeypatch.setattr(YxtHook, "get_connection", classmethod(lambda cls, conn_id: conn))
    hook = conn.get_hook()
    assert isinstance(hook, YxtHook)
    assert hook.yxt_conn_id == "yxt_obj"
    assert hook.settings.base_url == "https://h"


def test_settings_errors_name_field_and_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_YXT_BAD", conn_json(login=""))
    with pytest.raises(YxtConnectionError, match=r"'yxt_bad': login: is empty"):
        _ = YxtHook("yxt_bad").settings
    with pytest.raises(YxtConnectionError):
        _ = YxtHook("yxt_bad").client  # no client without valid settings


# -- the client -----------------------------------------------------------------------------


def test_client_is_cached(hook_from_env: YxtHook) -> None:
    client = hook_from_env.get_conn()
    assert isinstance(client, YxtClient)
    assert hook_from_env.client is client
    assert hook_from_env.get_conn() is client
    assert client.base_url == "http://127.0.0.1:8080"
    assert client.app_key == "demo_app"
    hook_from_env.close()
    assert hook_from_env.client is not client  # a new one after close()


def test_on_retry_reaches_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", conn_json())

    def on_retry(exc: BaseException, attempt: int) -> None:
        pass

    hook = YxtHook(on_retry=on_retry)
    assert hook.client.on_retry is on_retry


def test_secret_registered_with_masker_on_read(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "masked-when-read-7c1d9e"
    monkeypatch.setenv("AIRFLOW_CONN_YXT_MASK", conn_json(password=secret))
    hook = YxtHook("yxt_mask")
    _ = hook.settings
    assert redact(f"signing with {secret} now") == "signing with *** now"


def test_async_lookup_for_triggers(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    secret = "async-masked-secret-3e8f"
    monkeypatch.setenv("AIRFLOW_CONN_YXT_ASYNC", conn_json(password=secret))
    hook = YxtHook("yxt_async")

    async def run() -> YxtClient:
        settings = await hook.aget_settings()
        assert settings.app_secret == secret
        assert await hook.aget_settings() is settings
        return await hook.aget_conn()

    client = asyncio.run(run())
    assert client is hook.client
    assert client.base_url == "http://127.0.0.1:8080"
    assert redact(secret) == "***"
    hook.close()


# -- test_connection without a gateway --------------------------------------------------------


def test_test_connection_missing_connection() -> None:
    ok, message = YxtHook("yxt_missing_for_test").test_connection()
    assert ok is False
    assert "yxt_missing_for_test" in message


def test_test_connection_bad_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_YXT_DEFAULT", conn_json(extra={"sp_code": "1", "timeout": "soon"}))
    ok, message = YxtHook().test_connection()
    assert ok is False
    assert message == "YXT connection 'yxt_default': extra.timeout: must be a number, got 'soon'"


def test_test_connection_unreachable(monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_DEFAULT",
        conn_json(host=f"http://127.0.0.1:{closed_port}", extra={"sp_code": "1", "retry_max_attempts": 5}),
    )
    ok, message = YxtHook().test_connection()  # one attempt only, whatever the retry settings say
    assert ok is False
    assert message.startswith("Could not reach the gateway.")
    assert str(closed_port) in message
    assert SECRET not in message


# -- the connection form ----------------------------------------------------------------------


def test_ui_field_behaviour_matches_provider_info() -> None:
    behaviour = YxtHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == ["schema"]
    assert behaviour["relabeling"] == {"host": "Send base URL", "login": "App key", "password": "App secret"}
    assert behaviour["placeholders"] == YXT_UI_FIELD_BEHAVIOUR["placeholders"]
    assert set(behaviour["placeholders"]) >= {"host", "port", "login", "password", "sp_code"}


def _fake_module(name: str, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


def test_connection_form_widgets_for_older_uis(monkeypatch: pytest.MonkeyPatch) -> None:
    """wtforms and Flask AppBuilder are not installed with Airflow 3; stand-ins record what is built."""

    class Field:
        def __init__(self, label: str, **kwargs: Any) -> None:
            self.label = label
            self.kwargs = kwargs

    class StringField(Field):
        pass

    class IntegerField(Field):
        pass

    class BooleanField(Field):
        pass

    fakes = {
        "flask_appbuilder": _fake_module("flask_appbuilder"),
        "flask_appbuilder.fieldwidgets": _fake_module(
            "flask_appbuilder.fieldwidgets", BS3TextFieldWidget=object
        ),
        "flask_babel": _fake_module("flask_babel", lazy_gettext=lambda text: text),
        "wtforms": _fake_module(
            "wtforms", StringField=StringField, IntegerField=IntegerField, BooleanField=BooleanField
        ),
        "wtforms.validators": _fake_module(
            "wtforms.validators", NumberRange=lambda **kw: ("range", kw), Optional=lambda: "optional"
        ),
    }
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)

    widgets = YxtHook.get_connection_form_widgets()
    assert set(widgets) == set(YXT_CONN_FIELDS)
    assert widgets["sp_code"].label == "Enterprise code (x-sp-code)"
    assert isinstance(widgets["sp_code"], StringField)
    assert isinstance(widgets["sign_uppercase"], BooleanField)
    assert isinstance(widgets["verify_ssl"], BooleanField)
    assert widgets["verify_ssl"].kwargs["default"] is True
    assert isinstance(widgets["max_in_flight"], IntegerField)
    assert isinstance(widgets["timeout"], StringField)  # fractional numbers and [connect, read] pairs
    assert isinstance(widgets["templates"], StringField)  # comma-separated


# -- plain-words leads of a failed call --------------------------------------------------------


def test_failure_leads_come_from_the_error_classes() -> None:
    from yxt_provider.client import errors as e

    assert e.explain(e.YxtTransportError("connection refused")) == (
        "Could not reach the gateway. connection refused"
    )
    signature = e.YxtSignatureError("sign error")
    assert e.explain(signature) == f"{e.YxtSignatureError.summary} {signature}"
    assert str(signature).endswith(e.YxtSignatureError.hint)  # the hint stays in the exception text
    # Classes without a lead of their own take the caller's words.
    throttled = e.YxtThrottledError()
    assert e.explain(throttled) == f"The gateway refused the call. {throttled}"
    assert e.explain(throttled, fallback="The gateway refused the test call.").startswith(
        "The gateway refused the test call. YXT gateway returned code 11"
    )
