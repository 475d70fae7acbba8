"""``yxt-sandbox``: run the sandbox gateway from the command line.

It listens on loopback only unless ``--allow-remote`` is given: the sandbox has a published
secret and, with ``--control``, lets anyone reconfigure it.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from yxt_provider.sandbox.config import DEFAULT_APP_SECRET, SandboxConfig

__all__ = ["build_parser", "load_config_file", "main"]

DEFAULT_PORT = 18080


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read sandbox config fields from a ``.json`` or ``.toml`` file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10 has no tomllib; tomli is its backport
            import tomli as tomllib
        data: Any = tomllib.loads(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a table/object of sandbox config fields")
    return data


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="yxt-sandbox", description="A local YXT (一信通) SMS gateway for tests and demos."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--config", metavar="FILE", help="JSON or TOML file with SandboxConfig fields")
    parser.add_argument("--control", action="store_true", help="serve the /_sandbox/ control plane")
    parser.add_argument("--rate-limit", type=float, metavar="PER_SECOND", help="calls per second allowed")
    parser.add_argument("--receipt-delay", type=float, metavar="SECONDS", help="delay before receipts")
    parser.add_argument("--fail-share", type=float, help="share of messages whose receipt fails")
    parser.add_argument("--missing-share", type=float, help="share of messages that never get a receipt")
    parser.add_argument("--seed", type=int, help="seed of the per-message outcomes")
    parser.add_argument("--certfile", metavar="PEM", help="serve HTTPS with this certificate (chain)")
    parser.add_argument("--keyfile", metavar="PEM", help="private key of --certfile")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def _config_from_args(args: argparse.Namespace) -> SandboxConfig:
    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    overrides = {
        "rate_limit": args.rate_limit,
        "receipt_delay": args.receipt_delay,
        "receipt_fail_share": args.fail_share,
        "receipt_missing_share": args.missing_share,
        "seed": args.seed,
    }
    values.update({key: value for key, value in overrides.items() if value is not None})
    # The control plane is opt-in on the command line, whatever the file says.
    values["control"] = bool(args.control)
    return SandboxConfig.from_mapping(values)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not _is_loopback(args.host) and not args.allow_remote:
        parser.error(f"--host {args.host} is not a loopback address; add --allow-remote to serve it anyway")
    if args.keyfile and not args.certfile:
        parser.error("--keyfile needs --certfile")
    for option, path in (("--certfile", args.certfile), ("--keyfile", args.keyfile)):
        if path and not Path(path).is_file():
            parser.error(f"{option} {path}: no such file")
    try:
        config = _config_from_args(args)
    except (OSError, ValueError, TypeError) as exc:
        parser.error(f"bad sandbox configuration: {exc}")
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    from yxt_provider.sandbox.server import bind_socket, build_uvicorn_server
    from yxt_provider.sandbox.state import SandboxState

    sock = bind_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    secret = config.app_secret if config.app_secret == DEFAULT_APP_SECRET else "(as set in the config file)"
    scheme = "https" if args.certfile else "http"
    print(f"YXT sandbox gateway on {scheme}://{shown_host}:{port}", flush=True)
    print(f"  sp_code={config.sp_code} app_key={config.app_key} app_secret={secret}", flush=True)
    print(f"  control plane: {'/_sandbox/' if config.control else 'off (use --control)'}", flush=True)
    server = build_uvicorn_server(
        SandboxState(config),
        log_level=args.log_level,
        access_log=True,
        certfile=args.certfile,
        keyfile=args.keyfile,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
