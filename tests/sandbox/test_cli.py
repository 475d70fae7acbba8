"""The ``python -m yxt_provider.sandbox`` command line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.fixtures.tls import make_tls_files
from tests.sandbox.conftest import wait_for
from yxt_provider.client import RetrySettings, YxtClient
from yxt_provider.client.errors import YxtTransportError
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE
from yxt_provider.sandbox.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        # The socket listens before uvicorn has loaded, so an early poll may time out.
        return requests.get(url + "/_sandbox/config", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_cli_serves_and_stops(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "sandbox.toml"
    config.write_text('app_secret = "file-secret"\nreport_page_size = 2\n', encoding="utf-8")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yxt_provider.sandbox",
            "--port",
            str(port),
            "--control",
            "--config",
            str(config),
            "--fail-share",
            "1",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(url) or proc.poll() is not None, timeout=20, interval=0.1)
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        served = requests.get(url + "/_sandbox/config", timeout=5).json()
        assert (served["report_page_size"], served["receipt_fail_share"]) == (2, 1.0)
        with YxtClient(url, DEFAULT_SP_CODE, DEFAULT_APP_KEY, "file-secret") as client:
            client.send(["13800138000"], "hi", "1000000000001", "20240101000000000001")
            assert [r.result for r in client.fetch_receipts()] == [2]
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}" in output
    assert "file-secret" not in output
    assert "13800138000" not in output


def test_cli_refuses_remote_host_without_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--host", "0.0.0.0"])
    assert info.value.code == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_cli_refuses_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"receipt_fail_share": 5}), encoding="utf-8")
    with pytest.raises(SystemExit):
        main(["--config", str(bad)])
    assert "receipt_fail_share" in capsys.readouterr().err


def test_cli_serves_https_with_certfile_and_keyfile(tmp_path: Path) -> None:
    tls = make_tls_files(tmp_path / "tls")
    port = _free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "yxt_provider.sandbox", "--port", str(port), "--log-level", "warning"),
            *("--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        with YxtClient(
            url,
            DEFAULT_SP_CODE,
            DEFAULT_APP_KEY,
            DEFAULT_APP_SECRET,
            verify_ssl=str(tls.ca_bundle),
            retry=RetrySettings(max_attempts=1),
        ) as client:

            def answers() -> bool:
                try:
                    client.fetch_receipts()
                    return True
                except YxtTransportError as exc:
                    assert exc.kind != "tls", exc  # a TLS error would never go away
                    return proc.poll() is not None

            wait_for(answers, timeout=20, interval=0.1)
            assert proc.poll() is None
            assert client.send(["13800138000"], "hi", "1000000000001", "20240101000000000001").task_id
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=10)
    assert f"YXT sandbox gateway on {url}" in output


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--keyfile", "k.pem"], "--keyfile needs --certfile"),
        (["--certfile", "/no/such.pem"], "no such file"),
    ],
)
def test_cli_refuses_incomplete_tls_options(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert complaint in capsys.readouterr().err
