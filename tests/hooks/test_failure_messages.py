"""Connection tests and transport failures say what is wrong first, and never name a throw-away id."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.client.errors import YxtTransportError
from yxt_provider.sandbox import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_SP_CODE,
    SandboxServer,
    run_sandbox,
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_try(base_url: str, **kwargs: object) -> YxtClient:
    return YxtClient(
        base_url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET,
        retry=RetrySettings(max_attempts=1), **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def failure(client: YxtClient) -> YxtTransportError:
    with pytest.raises(YxtTransportError) as info, client:
        client.query_replies()
    return info.value


def test_refused_leads_with_the_cause() -> None:
    port = closed_port()
    error = failure(one_try(f"http://127.0.0.1:{port}"))
    text = str(error)
    assert text.startswith(f"reply/query: 127.0.0.1:{port}: connection refused (ConnectionRefusedError:")
    assert "check the connection's host and port" in text
    # The outer exception comes last, shortened; the cause is never what gets cut.
    assert text.index("ConnectionRefusedError") < text.index("[request to")
    assert (error.kind, error.endpoint) == ("refused", f"127.0.0.1:{port}")


def test_https_to_a_plain_http_gateway_hints_at_http(sandbox: SandboxServer) -> None:
    plain = sandbox.base_url  # http://127.0.0.1:<port>
    error = failure(one_try(plain.replace("http://", "https://")))
    assert error.kind == "tls"
    assert "WRONG_VERSION_NUMBER" in str(error)
    assert f"write {plain} in the connection's host" in str(error)


def test_read_timeout_says_what_the_lost_answer_means_for_this_call() -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        error = failure(one_try(f"http://127.0.0.1:{port}", timeout=(2.0, 0.3)))
    assert error.kind == "timeout"
    assert f"127.0.0.1:{port}: connected, but no answer within 0.3 s" in str(error)
    # The connection test reads replies: no "send may have been accepted" advice for it.
    assert "the replies stay on the gateway" in str(error)
    assert "send" not in str(error).split("]")[0].split("[")[0]


def test_the_test_button_does_not_name_its_random_connection_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """What Airflow's test endpoint does: a random 8-character id, exported as AIRFLOW_CONN_<ID>."""
    from airflow.sdk import Connection

    transient = "aB3dE5fG"
    conn = Connection(
        conn_id=transient, conn_type="yxt", host="sms.example.com", login="app", password="secret",
        extra=json.dumps({"sp_code": "100001", "timeout": "soon"}),
    )  # fmt: skip
    monkeypatch.setenv(f"AIRFLOW_CONN_{transient.upper()}", conn.get_uri())
    ok, message = conn.test_connection()
    assert ok is False
    assert message == "YXT connection: extra.timeout: must be a number, got 'soon'"
    assert transient not in message


def test_a_real_connection_id_is_still_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk import Connection

    conn = Connection(
        conn_id="yxt_prod", conn_type="yxt", host="sms.example.com", login="app", password="secret",
        extra=json.dumps({"sp_code": "100001", "timeout": "soon"}),
    )  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_YXT_PROD", conn.get_uri())
    assert (
        conn.test_connection()[1] == "YXT connection 'yxt_prod': extra.timeout: must be a number, got 'soon'"
    )
