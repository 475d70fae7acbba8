"""``YxtHook.test_connection`` and the hook's client against the local sandbox gateway (127.0.0.1 only)."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from yxt_provider.client.errors import YxtProtocolError, YxtSignatureError
from yxt_provider.hooks.yxt import YxtHook
from yxt_provider.sandbox import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_SP_CODE,
    Fault,
    SandboxConfig,
    SandboxServer,
    run_sandbox,
)

DELIVERED_NUMBER = "19900000001"  # sandbox magic number: always delivered
CATCH_ALL_TEMPLATE = "1000000000001"  # sandbox template that takes any text
SERIAL = "20241125120000000001"


@pytest.fixture(scope="module")
def _sandbox_server() -> Iterator[SandboxServer]:
    with run_sandbox(SandboxConfig()) as server:
        yield server


@pytest.fixture
def sandbox(_sandbox_server: SandboxServer) -> SandboxServer:
    """The module's sandbox, reset to a fresh default account for each test."""
    _sandbox_server.reset(SandboxConfig())
    return _sandbox_server


def set_conn(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, conn_id: str = "yxt_default", **overrides: Any
) -> YxtHook:
    extra = {"sp_code": DEFAULT_SP_CODE, **overrides.pop("extra", {})}
    conn: dict[str, Any] = {
        "conn_type": "yxt",
        "host": sandbox.base_url,
        "login": DEFAULT_APP_KEY,
        "password": DEFAULT_APP_SECRET,
        "extra": extra,
    }
    conn.update(overrides)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return YxtHook(conn_id)


def wait_for(predicate: Any, what: str, timeout: float = 10.0) -> None:
    """Poll the sandbox's own counters until ``predicate()`` holds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def queues(sandbox: SandboxServer) -> tuple[dict[str, int], dict[str, int], dict[str, dict[str, int]]]:
    counters = sandbox.counters()
    return counters["receipts"], counters["replies"], counters["requests"]


# -- success ----------------------------------------------------------------------------------


def test_success_on_empty_queues_code_38(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    hook = set_conn(monkeypatch, sandbox)
    ok, message = hook.test_connection()
    assert ok is True, message
    assert "signature accepted" in message
    assert "0 unconfirmed replies" in message
    assert DEFAULT_APP_SECRET not in message
    requests = sandbox.counters()["requests"]
    assert requests["query"] == {"38": 1}  # exactly one call, answered "no data"
    assert requests["report"] == {} and requests["confirm"] == {} and requests["send"] == {}


def test_success_via_uri_env_var(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    hostport = sandbox.base_url.removeprefix("http://")
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_SANDBOX_URI",
        f"yxt://http://{DEFAULT_APP_KEY}:{DEFAULT_APP_SECRET}@{hostport}/?sp_code={DEFAULT_SP_CODE}",
    )
    ok, message = YxtHook("yxt_sandbox_uri").test_connection()
    assert ok is True, message


def test_pending_receipts_and_replies_survive_a_connection_test(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    hook = set_conn(monkeypatch, sandbox)
    result = hook.client.send([DELIVERED_NUMBER], "connection test survivor", CATCH_ALL_TEMPLATE, SERIAL)
    assert result.serial_number == SERIAL
    (planned,) = sandbox.truth()
    assert planned.result == 0
    wait_for(lambda: sandbox.counters()["receipts"]["ready"] == 1, "the receipt to be ready")
    reply_id = sandbox.inject_reply("10690000123", "STOP please", user_number=DELIVERED_NUMBER)

    receipts_before, replies_before, _ = queues(sandbox)
    assert receipts_before == {"pending": 0, "ready": 1, "handed_out": 0, "never": 0}
    assert replies_before["pending"] == 1

    ok, message = hook.test_connection()
    assert ok is True, message
    assert "1 unconfirmed replies waiting, left untouched" in message

    receipts_after, replies_after, requests = queues(sandbox)
    assert receipts_after == receipts_before
    assert replies_after == replies_before
    assert requests["report"] == {}
    assert requests["confirm"] == {}
    assert requests["query"] == {"0": 1}

    # Both are still there for the real readers.
    receipts = hook.client.fetch_receipts()
    assert [(r.serial_number, r.user_number, r.result) for r in receipts] == [
        (planned.serial_number, planned.user_number, planned.result)
    ]
    page = hook.client.query_replies()
    assert [(r.reply_id, r.call_mdn, r.content) for r in page.replies] == [
        (reply_id, "10690000123", "STOP please")
    ]


def test_send_host_checked_when_info_host_differs(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    hook = set_conn(
        monkeypatch, sandbox, host=sandbox.base_url + "/send-prefix", extra={"info_host": sandbox.base_url}
    )
    ok, message = hook.test_connection()
    assert ok is True, message
    assert "accepts connections" in message

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    hook = set_conn(
        monkeypatch,
        sandbox,
        "yxt_split",
        host=f"http://127.0.0.1:{closed}",
        extra={"info_host": sandbox.base_url},
    )
    ok, message = hook.test_connection()
    assert ok is False
    assert f"send base URL http://127.0.0.1:{closed} is unreachable" in message


def test_uppercase_signing(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    hook = set_conn(monkeypatch, sandbox, extra={"sign_uppercase": "true"})
    assert hook.test_connection()[0] is True
    sandbox.configure(accept_uppercase_sign=False)
    ok, message = hook.test_connection()
    assert ok is False
    assert "code 35" in message and "sign_uppercase" in message


# -- the hook's gateway calls -------------------------------------------------------------------


def test_action_methods_use_the_cached_client(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer
) -> None:
    """What operators, sensors and the notifier call instead of reaching into ``hook.client``."""
    hook = set_conn(monkeypatch, sandbox)
    result = hook.send([DELIVERED_NUMBER], "via the hook", CATCH_ALL_TEMPLATE, SERIAL)
    assert (result.serial_number, result.count) == (SERIAL, 1)
    assert "client" in hook.__dict__  # the one cached client, not one per call
    client = hook.client

    wait_for(lambda: sandbox.counters()["receipts"]["ready"] == 1, "the receipt to be ready")
    (receipt,) = hook.fetch_receipts()
    assert (receipt.serial_number, receipt.user_number, receipt.result) == (SERIAL, DELIVERED_NUMBER, 0)
    assert hook.fetch_receipts() == []  # read once

    sandbox.inject_reply("10690000123", "STOP", user_number=DELIVERED_NUMBER)
    page = hook.query_replies()
    assert [r.content for r in page.replies] == ["STOP"] and page.max_id is not None
    hook.confirm_replies(page.max_id)
    assert hook.query_replies().replies == []
    assert hook.client is client
    hook.close()


# -- failures, in plain words ------------------------------------------------------------------


def test_wrong_secret_code_35(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    wrong = "not-the-secret-4d2c"
    ok, message = set_conn(monkeypatch, sandbox, password=wrong).test_connection()
    assert ok is False
    assert message.startswith("Signature rejected: the app secret")
    assert "code 35 (signature verification failed)" in message
    assert "password (app secret)" in message  # the error class's hint
    assert wrong not in message
    assert DEFAULT_APP_SECRET not in message


def test_wrong_app_key_code_3(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    ok, message = set_conn(monkeypatch, sandbox, login="someone_else").test_connection()
    assert ok is False
    assert message.startswith("Authentication failed: the gateway does not know this app key")
    assert "code 3 (wrong account or password)" in message


def test_wrong_sp_code_code_2(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    ok, message = set_conn(monkeypatch, sandbox, extra={"sp_code": "999999"}).test_connection()
    assert ok is False
    assert message.startswith("Authentication failed: the account is invalid")
    assert "code 2" in message


def test_ip_not_allowed_code_5(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    sandbox.configure(allowed_ips=("192.0.2.10",))
    ok, message = set_conn(monkeypatch, sandbox).test_connection()
    assert ok is False
    assert message.startswith("This machine's IP address is not on the account's IP allow-list.")
    assert "code 5" in message


def test_not_a_gateway(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    ok, message = set_conn(monkeypatch, sandbox, host=sandbox.base_url + "/no/such/prefix").test_connection()
    assert ok is False
    assert message.startswith("The server answered, but not as a YXT gateway")
    assert "HTTP 404" in message


def test_connection_test_makes_one_attempt(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer) -> None:
    sandbox.configure(faults=(Fault(endpoint="query", kind="http_500"),))
    ok, message = set_conn(monkeypatch, sandbox).test_connection()
    assert ok is False
    assert "HTTP 500" in message
    assert sandbox.counters()["requests"]["query"] == {"http_500": 1}


# -- the secret stays out of logs -------------------------------------------------------------


def test_secret_never_in_logs_of_failing_calls(
    monkeypatch: pytest.MonkeyPatch,
    sandbox: SandboxServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    wrong = "wrong-secret-never-logged-81f0"
    caplog.set_level(logging.DEBUG)  # everything, urllib3 and tenacity included

    # A rejected signature (not retried).
    bad = set_conn(monkeypatch, sandbox, "yxt_bad_secret", password=wrong)
    ok, message = bad.test_connection()
    assert ok is False
    with pytest.raises(YxtSignatureError) as sig_info:
        bad.client.query_replies()
    logging.getLogger("test").exception("query failed: %s (%r, %r)", sig_info.value, bad.client, bad.settings)

    # A retried transient failure that finally fails, with the right secret.
    sandbox.configure(faults=(Fault(endpoint="*", kind="http_500"),))
    good = set_conn(
        monkeypatch,
        sandbox,
        extra={"retry_max_attempts": 3, "retry_initial_wait": 0, "retry_max_wait": 0},
    )
    with pytest.raises(YxtProtocolError) as proto_info:
        good.client.send([DELIVERED_NUMBER], "hello", CATCH_ALL_TEMPLATE, SERIAL)
    logging.getLogger("test").exception("send failed: %s", proto_info.value)
    assert sandbox.counters()["requests"]["send"] == {"http_500": 3}
    assert "retrying" in caplog.text  # the retries were logged, so the check below means something

    out, err = capfd.readouterr()
    captured = "\n".join(
        [caplog.text, out, err, message, str(sig_info.value), str(proto_info.value)]
        + [record.getMessage() for record in caplog.records]
    )
    for secret in (wrong, DEFAULT_APP_SECRET):
        assert secret not in captured


# -- the UI's and the CLI's connection test ----------------------------------------------------


def test_unsaved_connection_object_test(sandbox: SandboxServer) -> None:
    """What the UI's Test button runs: ``Connection.test_connection()`` on a connection not saved anywhere."""
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="yxt_from_form",
        conn_type="yxt",
        host=sandbox.base_url,
        login=DEFAULT_APP_KEY,
        password=DEFAULT_APP_SECRET,
        extra=json.dumps({"sp_code": DEFAULT_SP_CODE}),
    )
    assert conn.test_connection()[0] is True
    conn.password = "a-wrong-secret"
    ok, message = conn.test_connection()
    assert ok is False
    assert "code 35" in message


def test_airflow_connections_test_cli(sandbox: SandboxServer, tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    airflow_bin = Path(sys.executable).with_name("airflow")
    if not airflow_bin.exists():
        pytest.skip("the airflow CLI is not installed beside this Python")
    (tmp_path / "airflow.cfg").write_text("")
    hostport = sandbox.base_url.removeprefix("http://")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_YXT_GOOD": f"yxt://http://{DEFAULT_APP_KEY}:{DEFAULT_APP_SECRET}@{hostport}/?sp_code={DEFAULT_SP_CODE}",
        "AIRFLOW_CONN_YXT_BAD": f"yxt://http://{DEFAULT_APP_KEY}:bad-secret-0a9e@{hostport}/?sp_code={DEFAULT_SP_CODE}",
    }
    procs = {
        conn_id: subprocess.Popen(
            [str(airflow_bin), "connections", "test", conn_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for conn_id in ("yxt_good", "yxt_bad")
    }
    outputs = {conn_id: proc.communicate(timeout=180)[0] for conn_id, proc in procs.items()}
    assert procs["yxt_good"].returncode == 0, outputs["yxt_good"][-2000:]
    assert "Connection success!" in outputs["yxt_good"]
    assert procs["yxt_bad"].returncode != 0
    assert "Signature rejected" in outputs["yxt_bad"]
    assert "bad-secret-0a9e" not in outputs["yxt_bad"]
