"""Signer fuzz: whatever the client signs, the sandbox accepts; any one signed field changed, it refuses.

Both sides run their real code (``YxtClient.signed_headers`` and ``SandboxState.handle``) without
HTTP in between, so hundreds of examples cost well under a second; the HTTP round trip is
covered by ``tests/sandbox/test_signature_agreement.py``.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz_settings
from yxt_provider.client import YxtClient
from yxt_provider.sandbox import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, DEFAULT_SP_CODE, SandboxState

# Every kind of text a field may carry: CJK, full-width forms, emoji, URLEncoder's special bytes,
# and the empty string.
any_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs",)),
        st.sampled_from("０１２３＋（）～，。测试短信😀👍🏽 ~*+%&=.-_"),
    ),
    max_size=40,
)
body_keys = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="&="), min_size=1, max_size=12
)
bodies = st.dictionaries(body_keys, any_text, max_size=6)

_CLIENT = YxtClient("http://127.0.0.1:9", DEFAULT_SP_CODE, DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
# ``report`` checks only the signed envelope (headers, signature, age), then answers 38 (no data):
# any code other than 35 and 38 would mean the test body tripped another rule.
_STATE = SandboxState()


def _code(headers: dict[str, str], body: dict[str, Any]) -> int:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8") if body else b""
    return _STATE.handle("report", {k.lower(): v for k, v in headers.items()}, "127.0.0.1", raw).code


@fuzz_settings
@given(body=bodies)
def test_sandbox_accepts_what_the_client_signs(body: dict[str, str]) -> None:
    """The client's signature over any body verifies on the sandbox."""
    assert _code(_CLIENT.signed_headers(body or None), body) == 38


@fuzz_settings
@given(body=bodies.filter(bool), data=st.data())
def test_changing_one_body_value_breaks_the_signature(body: dict[str, str], data: st.DataObject) -> None:
    """A body value changed after signing (a character added, or replaced by other text) gives code 35."""
    headers = _CLIENT.signed_headers(body)
    key = data.draw(st.sampled_from(sorted(body)))
    new_value = data.draw(any_text.filter(lambda text: text != body[key]))
    assert _code(headers, {**body, key: new_value}) == 35


@fuzz_settings
@given(body=bodies.filter(bool), data=st.data())
def test_renaming_adding_or_dropping_a_key_breaks_the_signature(
    body: dict[str, str], data: st.DataObject
) -> None:
    """The key set is signed too: a renamed, extra or missing parameter gives code 35."""
    headers = _CLIENT.signed_headers(body)
    key = data.draw(st.sampled_from(sorted(body)))
    new_key = data.draw(body_keys.filter(lambda name: name not in body))
    renamed = {(new_key if name == key else name): value for name, value in body.items()}
    dropped = {name: value for name, value in body.items() if name != key}
    added = {**body, new_key: data.draw(any_text)}
    for tampered in (renamed, dropped, added):
        assert _code(headers, tampered) == 35, tampered


@fuzz_settings
@given(body=bodies, data=st.data())
def test_changing_a_signed_header_or_the_secret_breaks_the_signature(
    body: dict[str, str], data: st.DataObject
) -> None:
    """The request id and the secret are signed; a different one gives code 35.

    spCode and appKey are signed too, but the sandbox checks them against the account first
    (codes 2 and 3), so their part in the signature is checked with the signer directly.
    """
    headers = _CLIENT.signed_headers(body or None)
    other_id = str(int(headers["x-request-id"]) + data.draw(st.integers(1, 999_999)))
    assert _code({**headers, "x-request-id": other_id}, body) == 35

    other_secret = data.draw(any_text.filter(lambda text: text.strip() != "" and text != DEFAULT_APP_SECRET))
    forged = YxtClient("http://127.0.0.1:9", DEFAULT_SP_CODE, DEFAULT_APP_KEY, other_secret)
    forged_headers = forged.signed_headers(body or None, headers["x-request-id"])
    assert forged_headers["x-sign"] != headers["x-sign"]
    assert _code(forged_headers, body) == 35

    for field, value in (("x-sp-code", DEFAULT_SP_CODE), ("x-app-key", DEFAULT_APP_KEY)):
        other = data.draw(any_text.filter(lambda text, value=value: text.strip() != "" and text != value))
        client = YxtClient(
            "http://127.0.0.1:9",
            other if field == "x-sp-code" else DEFAULT_SP_CODE,
            other if field == "x-app-key" else DEFAULT_APP_KEY,
            DEFAULT_APP_SECRET,
        )
        assert client.signed_headers(body or None, headers["x-request-id"])["x-sign"] != headers["x-sign"]
