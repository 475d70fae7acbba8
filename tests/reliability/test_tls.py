"""TLS is verified by default: the sandbox over HTTPS with a test CA is refused unless the connection trusts it.

Also: ``verify_ssl: false`` works and says so once in the log; ``REQUESTS_CA_BUNDLE`` in the
environment neither replaces the connection's CA bundle nor turns verification back on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import tls as tls_fixtures
from tests.fixtures.airflow import sandbox_connection
from tests.fixtures.tls import TlsFiles
from yxt_provider.client.errors import YxtTransportError
from yxt_provider.hooks.yxt import YxtHook
from yxt_provider.sandbox import SandboxConfig, SandboxServer, run_sandbox

# The session's CA and certificates, as fixtures of this module.
tls_files = tls_fixtures.tls_files
other_ca_bundle = tls_fixtures.other_ca_bundle

CATCH_ALL_TEMPLATE = "1000000000001"
DELIVERED_NUMBER = "19900000001"


@pytest.fixture(scope="module")
def https_sandbox(tls_files: TlsFiles) -> Iterator[SandboxServer]:
    """The sandbox served over HTTPS with the test CA's server certificate."""
    with run_sandbox(certfile=tls_files.certfile, keyfile=tls_files.keyfile) as server:
        yield server


@pytest.fixture
def sandbox(https_sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """The HTTPS sandbox, reset; no CA bundle variables inherited from the machine running the tests."""
    https_sandbox.reset(SandboxConfig())
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return https_sandbox


def hook(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxServer, **extra: Any) -> YxtHook:
    """A hook on ``yxt_tls``: the sandbox with ``extra`` and no client retries (a refusal is final)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_YXT_TLS", sandbox_connection(sandbox.base_url, retry_max_attempts=1, **extra)
    )
    return YxtHook("yxt_tls")


def send_one(yxt: YxtHook, serial: str = "20261203120000000001") -> str:
    return yxt.client.send([DELIVERED_NUMBER], "hello", CATCH_ALL_TEMPLATE, serial).task_id


def test_the_sandbox_serves_https(sandbox: SandboxServer) -> None:
    assert sandbox.base_url.startswith("https://127.0.0.1:")


def test_an_untrusted_certificate_is_refused_with_what_to_do(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(YxtTransportError) as caught:
        send_one(hook(monkeypatch, sandbox))
    error = caught.value
    assert error.kind == "tls"
    assert "certificate is not trusted" in str(error)
    assert "ca_bundle extra" in str(error) and "verify_ssl false" in str(error)
    assert sandbox.accepted() == []


def test_naming_the_ca_bundle_makes_it_trusted(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tls_files: TlsFiles
) -> None:
    assert send_one(hook(monkeypatch, sandbox, ca_bundle=str(tls_files.ca_bundle)))
    assert len(sandbox.accepted()) == 1


def test_a_ca_bundle_given_in_verify_ssl_works_too(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tls_files: TlsFiles
) -> None:
    assert send_one(hook(monkeypatch, sandbox, verify_ssl=str(tls_files.ca_bundle)))


def test_an_unrelated_ca_bundle_is_refused(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, other_ca_bundle: Path
) -> None:
    with pytest.raises(YxtTransportError, match="certificate is not trusted"):
        send_one(hook(monkeypatch, sandbox, ca_bundle=str(other_ca_bundle)))


def test_a_missing_ca_bundle_file_is_a_clear_provider_error(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(YxtTransportError, match="cannot be read") as caught:
        send_one(hook(monkeypatch, sandbox, ca_bundle=str(missing)))
    assert caught.value.kind == "tls" and "ca_bundle extra" in str(caught.value)


def test_verification_off_works_and_warns_once(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="yxt_provider")
    yxt = hook(monkeypatch, sandbox, verify_ssl=False)
    send_one(yxt, "20261203120000000001")
    send_one(yxt, "20261203120000000002")
    yxt.client.fetch_receipts()
    warnings = [r for r in caplog.records if "TLS certificate verification is OFF" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert sandbox.base_url in warnings[0].getMessage()
    assert len(sandbox.accepted()) == 2


def test_requests_ca_bundle_in_the_environment_does_not_replace_the_connections_bundle(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, tls_files: TlsFiles, other_ca_bundle: Path
) -> None:
    # requests' Session.merge_environment_settings lets this variable win over session.verify.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(other_ca_bundle))
    assert send_one(hook(monkeypatch, sandbox, ca_bundle=str(tls_files.ca_bundle)))


def test_requests_ca_bundle_in_the_environment_does_not_turn_verification_back_on(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, other_ca_bundle: Path
) -> None:
    monkeypatch.setenv("CURL_CA_BUNDLE", str(other_ca_bundle))
    assert send_one(hook(monkeypatch, sandbox, verify_ssl=False))


def test_the_connection_test_names_the_tls_problem(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok, message = hook(monkeypatch, sandbox).test_connection()
    assert not ok
    assert "certificate is not trusted" in message and "ca_bundle" in message
