"""``YxtConnectionSettings``: every connection field and extra, and every error message.

Pure parsing: no metadata database, no network.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from airflow.sdk import Connection

from yxt_provider.client import RetrySettings
from yxt_provider.connection import (
    DEFAULT_TIMEOUT,
    KNOWN_EXTRAS,
    YxtConnectionError,
    YxtConnectionSettings,
)
from yxt_provider.get_provider_info import YXT_CONN_FIELDS

CONN_ID = "yxt_test_conn"
SECRET = "settings-secret-9f3a"


def make_conn(
    *,
    host: str | None = "sms.example.com",
    login: str | None = "demo_app",
    password: str | None = SECRET,
    port: int | None = None,
    extra: dict[str, Any] | str | None = None,
    conn_id: str = CONN_ID,
) -> Connection:
    if extra is None:
        extra = {"sp_code": "100001"}
    return Connection(
        conn_id=conn_id,
        conn_type="yxt",
        host=host,
        login=login,
        password=password,
        port=port,
        extra=extra if isinstance(extra, str) else json.dumps(extra),
    )


def settings_for(**kwargs: Any) -> YxtConnectionSettings:
    return YxtConnectionSettings.from_connection(make_conn(**kwargs))


def with_extra(**extra: Any) -> YxtConnectionSettings:
    return settings_for(extra={"sp_code": "100001", **extra})


def expect_error(field: str, fragment: str, **kwargs: Any) -> YxtConnectionError:
    with pytest.raises(YxtConnectionError) as info:
        settings_for(**kwargs)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.conn_id == CONN_ID
    assert err.field == field
    message = str(err)
    assert CONN_ID in message
    assert field in message
    assert fragment in message
    assert SECRET not in message
    return err


# -- the full mapping -----------------------------------------------------------------------


def test_every_field_and_extra_is_mapped() -> None:
    settings = settings_for(
        host="http://sms.example.com",
        port=8080,
        login=" demo_app ",
        extra={
            "sp_code": " 100001 ",
            "info_host": "info.example.com:9090",
            "sign_uppercase": True,
            "timeout": [3, 20],
            "verify_ssl": "/etc/ssl/yxt.pem",
            "pool_size": 16,
            "max_in_flight": 8,
            "max_requests_per_second": 25,
            "templates": ["2031012220113", "2031012220114"],
            "retry_max_attempts": 3,
            "retry_max_elapsed": 20,
            "retry_initial_wait": 0.25,
            "retry_max_wait": 4,
        },
    )
    assert settings.conn_id == CONN_ID
    assert settings.base_url == "http://sms.example.com:8080"
    assert settings.info_base_url == "https://info.example.com:9090"
    assert settings.sp_code == "100001"
    assert settings.app_key == "demo_app"
    assert settings.app_secret == SECRET
    assert settings.sign_uppercase is True
    assert settings.timeout == (3.0, 20.0)
    assert settings.verify_ssl == "/etc/ssl/yxt.pem"
    assert settings.pool_size == 16
    assert settings.max_in_flight == 8
    assert settings.max_requests_per_second == 25.0
    assert settings.templates == ("2031012220113", "2031012220114")
    assert settings.retry == RetrySettings(max_attempts=3, max_elapsed=20.0, initial_wait=0.25, max_wait=4.0)

    kwargs = settings.client_kwargs()
    assert kwargs == {
        "base_url": "http://sms.example.com:8080",
        "sp_code": "100001",
        "app_key": "demo_app",
        "app_secret": SECRET,
        "info_base_url": "https://info.example.com:9090",
        "timeout": (3.0, 20.0),
        "sign_uppercase": True,
        "verify_ssl": "/etc/ssl/yxt.pem",
        "pool_size": 16,
        "retry": settings.retry,
    }
    with settings.make_client() as client:
        assert client.base_url == "http://sms.example.com:8080"
        assert client.info_base_url == "https://info.example.com:9090"
        assert client.sign_uppercase is True
        assert client.timeout == (3.0, 20.0)
        assert client.session.verify == "/etc/ssl/yxt.pem"
        assert client.retry.max_attempts == 3
        assert SECRET not in repr(client)


def test_defaults() -> None:
    settings = settings_for()
    assert settings.base_url == "https://sms.example.com"
    assert settings.info_base_url == settings.base_url
    assert settings.sign_uppercase is False
    assert settings.timeout == DEFAULT_TIMEOUT
    assert settings.verify_ssl is True
    assert settings.pool_size == 10
    assert settings.max_in_flight == 4
    assert settings.max_requests_per_second is None
    assert settings.templates is None
    assert settings.retry == RetrySettings()


def test_secret_hidden_from_repr() -> None:
    settings = settings_for()
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)


def test_every_form_field_is_a_known_extra() -> None:
    assert set(YXT_CONN_FIELDS) == KNOWN_EXTRAS


def test_empty_strings_from_forms_mean_unset() -> None:
    blank = dict.fromkeys(KNOWN_EXTRAS - {"sp_code"}, "")
    assert with_extra(**blank) == settings_for()


def test_extra_as_mapping_and_from_fields() -> None:
    settings = YxtConnectionSettings.from_fields(
        conn_id=CONN_ID, host="127.0.0.1", port="8080", login="a", password="b", extra={"sp_code": 100001}
    )
    assert settings.base_url == "https://127.0.0.1:8080"
    assert settings.sp_code == "100001"


def test_prefixed_extras_are_unknown_extras(caplog: pytest.LogCaptureFixture) -> None:
    """``extra__yxt__<name>`` was how Airflow 2's form stored fields; 3.1+ stores plain names."""
    with caplog.at_level(logging.WARNING, logger="yxt_provider.connection"):
        settings = settings_for(extra={"sp_code": "1", "extra__yxt__max_in_flight": "6"})
    assert settings.max_in_flight == 4
    assert "extra__yxt__max_in_flight" in caplog.text
    expect_error("extra.sp_code", "is missing", extra={"extra__yxt__sp_code": "100002"})


def test_unknown_extras_are_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="yxt_provider.connection"):
        with_extra(spcode="typo", timeout_s="3")
    assert "spcode" in caplog.text
    assert "timeout_s" in caplog.text
    assert "typo" not in caplog.text  # names only, never values


# -- host, port, info_host ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("sms.example.com", None, "https://sms.example.com"),
        ("sms.example.com", 8443, "https://sms.example.com:8443"),
        ("sms.example.com:8443", None, "https://sms.example.com:8443"),
        ("sms.example.com:8443", 8443, "https://sms.example.com:8443"),
        ("http://127.0.0.1:8080/", None, "http://127.0.0.1:8080"),
        ("HTTPS://sms.example.com/gateway/", None, "https://sms.example.com/gateway"),
        ("  http://127.0.0.1  ", 9000, "http://127.0.0.1:9000"),
        ("http://[::1]", 8080, "http://[::1]:8080"),
    ],
)
def test_host_and_port(host: str, port: int | None, expected: str) -> None:
    assert settings_for(host=host, port=port).base_url == expected


def test_info_host() -> None:
    assert with_extra(info_host="http://127.0.0.1:9001/").info_base_url == "http://127.0.0.1:9001"
    assert with_extra(info_host="info.example.com").info_base_url == "https://info.example.com"
    # The port field belongs to host only.
    settings = settings_for(port=8080, extra={"sp_code": "1", "info_host": "info.example.com"})
    assert settings.base_url == "https://sms.example.com:8080"
    assert settings.info_base_url == "https://info.example.com"


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"host": None}, "host", "is empty"),
        ({"host": "  "}, "host", "is empty"),
        ({"host": "ftp://sms.example.com"}, "host", "scheme must be http or https"),
        ({"host": "http://"}, "host", "has no host name"),
        ({"host": "http://u:p@sms.example.com"}, "host", "must not contain credentials"),
        ({"host": "sms.example.com/?a=1"}, "host", "must not have a query"),
        ({"host": "sms.example.com:99999"}, "host", "invalid port"),
        ({"host": "sms.example.com:8080", "port": 9090}, "port", "already names port 8080"),
        ({"port": 0}, "port", "at least 1"),
        ({"port": 70000}, "port", "1–65535"),
        ({"extra": {"sp_code": "1", "info_host": "gopher://x"}}, "extra.info_host", "scheme"),
    ],
)
def test_host_errors(kwargs: dict[str, Any], field: str, fragment: str) -> None:
    expect_error(field, fragment, **kwargs)


# -- credentials ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"login": None}, "login", "app key"),
        ({"login": " "}, "login", "app key"),
        ({"password": None}, "password", "app secret"),
        ({"password": ""}, "password", "app secret"),
        ({"extra": {}}, "extra.sp_code", "enterprise code"),
        ({"extra": {"sp_code": ""}}, "extra.sp_code", "is missing"),
        ({"extra": {"sp_code": ["1"]}}, "extra.sp_code", "is missing"),
        ({"extra": "{not json"}, "extra", "is not valid JSON"),
        ({"extra": "[1, 2]"}, "extra", "must be a JSON object"),
    ],
)
def test_credential_errors(kwargs: dict[str, Any], field: str, fragment: str) -> None:
    expect_error(field, fragment, **kwargs)


def test_secret_is_not_stripped() -> None:
    assert settings_for(password=" spaced secret ").app_secret == " spaced secret "


# -- extras ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("TRUE", True),
        ("false", False),
        ("0", False),
        (None, False),
    ],
)
def test_sign_uppercase(value: Any, expected: bool) -> None:
    assert with_extra(sign_uppercase=value).sign_uppercase is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, 10.0),
        (2.5, 2.5),
        ("7", 7.0),
        ([3, 30], (3.0, 30.0)),
        (["3", "30"], (3.0, 30.0)),
        ("[3, 30]", (3.0, 30.0)),
        ("3, 30", (3.0, 30.0)),
    ],
)
def test_timeout(value: Any, expected: Any) -> None:
    assert with_extra(timeout=value).timeout == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("false", False),
        ("True", True),
        ("/etc/ssl/ca.pem", "/etc/ssl/ca.pem"),
    ],
)
def test_verify_ssl(value: Any, expected: Any) -> None:
    assert with_extra(verify_ssl=value).verify_ssl == expected


def test_ca_bundle() -> None:
    assert with_extra(ca_bundle="/etc/ssl/ca.pem").verify_ssl == "/etc/ssl/ca.pem"
    assert with_extra(ca_bundle="/etc/ssl/ca.pem", verify_ssl=True).verify_ssl == "/etc/ssl/ca.pem"
    assert with_extra(ca_bundle="/x.pem", verify_ssl="/x.pem").verify_ssl == "/x.pem"


def test_pool_size_follows_max_in_flight_by_default() -> None:
    assert with_extra(max_in_flight=32).pool_size == 32
    assert with_extra(max_in_flight=32, pool_size=5).pool_size == 5
    assert with_extra(pool_size="12").pool_size == 12


def test_rate_and_in_flight() -> None:
    settings = with_extra(max_in_flight="6", max_requests_per_second="2.5")
    assert settings.max_in_flight == 6
    assert settings.max_requests_per_second == 2.5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["t1", "t2"], ("t1", "t2")),
        ([2031012220113], ("2031012220113",)),
        ("t1, t2", ("t1", "t2")),
        ("t1\nt2\n", ("t1", "t2")),
        ('["t1", "t2", "t1"]', ("t1", "t2")),
        ([], None),
        ("", None),
    ],
)
def test_templates(value: Any, expected: Any) -> None:
    assert with_extra(templates=value).templates == expected


def test_retry_from_strings() -> None:
    retry = with_extra(
        retry_max_attempts="2", retry_max_elapsed="5", retry_initial_wait="0", retry_max_wait="1.5"
    ).retry
    assert retry == RetrySettings(max_attempts=2, max_elapsed=5.0, initial_wait=0.0, max_wait=1.5)


@pytest.mark.parametrize(
    ("extra", "field", "fragment"),
    [
        ({"sign_uppercase": "maybe"}, "extra.sign_uppercase", "true or false"),
        ({"sign_uppercase": 2}, "extra.sign_uppercase", "true or false"),
        ({"timeout": 0}, "extra.timeout", "greater than 0"),
        ({"timeout": -1}, "extra.timeout", "greater than 0"),
        ({"timeout": "soon"}, "extra.timeout", "must be a number"),
        ({"timeout": True}, "extra.timeout", "must be a number"),
        ({"timeout": [1, 2, 3]}, "extra.timeout", "[connect, read]"),
        ({"timeout": "[1, 2"}, "extra.timeout", "[connect, read]"),
        ({"timeout": {"connect": 1}}, "extra.timeout", "must be a number"),
        ({"timeout": float("inf")}, "extra.timeout", "finite"),
        ({"verify_ssl": 3}, "extra.verify_ssl", "true or false"),
        ({"ca_bundle": "/x.pem", "verify_ssl": False}, "extra.ca_bundle", "verify_ssl is false"),
        ({"ca_bundle": "/x.pem", "verify_ssl": "/y.pem"}, "extra.ca_bundle", "different CA bundles"),
        ({"ca_bundle": 5}, "extra.ca_bundle", "file path"),
        ({"pool_size": 0}, "extra.pool_size", "at least 1"),
        ({"pool_size": "many"}, "extra.pool_size", "must be an integer"),
        ({"pool_size": 2.5}, "extra.pool_size", "must be an integer"),
        ({"pool_size": True}, "extra.pool_size", "must be an integer"),
        ({"max_in_flight": 0}, "extra.max_in_flight", "at least 1"),
        ({"max_in_flight": "x"}, "extra.max_in_flight", "must be an integer"),
        ({"max_requests_per_second": 0}, "extra.max_requests_per_second", "greater than 0"),
        ({"max_requests_per_second": "fast"}, "extra.max_requests_per_second", "must be a number"),
        ({"templates": {"a": 1}}, "extra.templates", "list of template ids"),
        ({"templates": '{"a": 1}'}, "extra.templates", "invalid template id"),
        ({"templates": ["has space"]}, "extra.templates", "invalid template id"),
        ({"templates": "[1, "}, "extra.templates", "list of template ids"),
        ({"templates": ["ok", ""]}, "extra.templates", "invalid template id"),
        ({"templates": [None]}, "extra.templates", "invalid template id"),
        ({"retry_max_attempts": 0}, "extra.retry_max_attempts", "at least 1"),
        ({"retry_max_attempts": "two"}, "extra.retry_max_attempts", "must be an integer"),
        ({"retry_max_elapsed": 0}, "extra.retry_max_elapsed", "greater than 0"),
        ({"retry_initial_wait": -1}, "extra.retry_initial_wait", "must not be negative"),
        ({"retry_max_wait": "long"}, "extra.retry_max_wait", "must be a number"),
    ],
)
def test_extra_errors(extra: dict[str, Any], field: str, fragment: str) -> None:
    expect_error(field, fragment, extra={"sp_code": "100001", **extra})


# -- the module stands alone ----------------------------------------------------------------


def test_connection_module_imports_no_airflow() -> None:
    """Scripts and the sandbox parse connections without paying for (or having) Airflow."""
    code = (
        "import sys\n"
        "from yxt_provider.connection import YxtConnectionSettings\n"
        "YxtConnectionSettings.from_fields(conn_id='c', host='h', login='k', password='s', extra={'sp_code': '1'})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_hook_module_re_exports_the_parser() -> None:
    """Users import these from the hook's module; they are the very same objects."""
    import yxt_provider.connection as connection
    import yxt_provider.hooks.yxt as hook_module

    for name in connection.__all__:
        assert getattr(hook_module, name) is getattr(connection, name), name
