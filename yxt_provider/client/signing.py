"""The gateway's request signature: ``hex(SM3(spCode + appKey + appSecret + E(P) + requestId))``.

``P`` is the body's parameters as ``key=value`` pairs sorted by key and joined with ``&``;
``E`` is Java's ``URLEncoder.encode(P, "UTF-8")``. See ``PROTOCOL.md`` ("Signature").
This module is the one definition of the signature: the client and the sandbox both use it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["canonical_params", "java_url_encode", "sign", "sm3_hex"]


_JAVA_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-*_")


def _encode_char(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def java_url_encode(text: str) -> str:
    """Encode ``text`` exactly as ``java.net.URLEncoder.encode(text, "UTF-8")`` does.

    ``A-Z a-z 0-9 . - * _`` stay, a space becomes ``+``, every other UTF-8 byte becomes
    ``%XX`` with uppercase hex. (Python's ``quote_plus`` differs: it keeps ``~`` and encodes ``*``.)

    Works by one ``str.replace`` per distinct unsafe character rather than per character:
    a 1000-number body has ~12,000 characters but a handful of distinct ones, and it is
    signed on every attempt.
    """
    unsafe = set(text).difference(_JAVA_SAFE)
    if not unsafe:
        return text
    # "%" first: every later replacement introduces "%" signs that must stay as they are.
    if "%" in unsafe:
        text = text.replace("%", "%25")
        unsafe.discard("%")
    space = " " in unsafe
    unsafe.discard(" ")
    for char in unsafe:
        text = text.replace(char, _encode_char(char))
    # Last: "+" itself was encoded above, so the "+" standing for a space is unambiguous.
    return text.replace(" ", "+") if space else text


def canonical_params(params: Mapping[str, Any] | None) -> str:
    """Return ``P``: the body's parameters as sorted ``key=value`` pairs joined by ``&``.

    Keys are sorted in code-point order; values are used as sent (strings). ``None`` or an
    empty body gives ``""``.
    """
    if not params:
        return ""
    return "&".join(f"{key}={params[key]}" for key in sorted(params))


def _sm3_from_hashlib() -> Callable[[bytes], str] | None:
    try:
        hashlib.new("sm3")
    except ValueError:
        return None
    return lambda data: hashlib.new("sm3", data).hexdigest()


def _sm3_from_cryptography() -> Callable[[bytes], str]:
    from cryptography.hazmat.primitives import hashes

    def digest(data: bytes) -> str:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize().hex()

    return digest


_sm3: Callable[[bytes], str] = _sm3_from_hashlib() or _sm3_from_cryptography()


def sm3_hex(data: bytes) -> str:
    """Lower-case hex SM3 digest of ``data`` (OpenSSL's SM3 when present, else ``cryptography``'s)."""
    return _sm3(data)


def sign(
    sp_code: str,
    app_key: str,
    app_secret: str,
    request_id: str,
    params: Mapping[str, Any] | None,
    *,
    uppercase: bool = False,
) -> str:
    """Compute the ``x-sign`` header for one request.

    :param sp_code: the enterprise number sent as ``x-sp-code``.
    :param app_key: the account name sent as ``x-app-key``.
    :param app_secret: the account secret; it is hashed, never sent.
    :param request_id: the ``x-request-id`` of this HTTP attempt.
    :param params: the dict sent as the JSON body, or ``None`` for no body.
    :param uppercase: return upper-case hex, for deployments that expect it.
    """
    material = sp_code + app_key + app_secret + java_url_encode(canonical_params(params)) + request_id
    digest = sm3_hex(material.encode("utf-8"))
    return digest.upper() if uppercase else digest
