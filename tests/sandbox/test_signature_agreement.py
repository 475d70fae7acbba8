"""Property: whatever text a client signs, the sandbox (verifying with the same rule) agrees.

The client signs the body it sends; the sandbox re-derives the signature from the body it
received over real HTTP. Any drift in key ordering, encoding or JSON handling between the
two shows up as code 35 for some generated text.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yxt_provider.client import YxtClient
from yxt_provider.client.client import PATH_SEND, build_send_body
from yxt_provider.sandbox import SandboxServer, run_sandbox

ANY_TEXT = "1000000000001"
_serials = itertools.count(1)

# Printable text of every kind the signature must survive: CJK, full-width punctuation,
# emoji, spaces, and the bytes URLEncoder treats specially ("~", "*", "+", "%", "&", "=").
message_text = st.text(
    alphabet=st.one_of(
        st.characters(blacklist_categories=("Cs", "Cc")),
        st.sampled_from(list(" ~*+%&=()（），。【】😀")),
    ),
    min_size=1,
    max_size=120,
).filter(lambda t: t.strip() != "")


@pytest.fixture(scope="module")
def gateway() -> Iterator[SandboxServer]:
    with run_sandbox() as server:
        yield server


def serial() -> str:
    return f"{next(_serials):020d}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=message_text, uppercase=st.booleans())
def test_client_and_sandbox_agree_on_every_signature(
    gateway: SandboxServer, content: str, uppercase: bool
) -> None:
    client = YxtClient(gateway.base_url, "100001", "demo_app", "s3cr3t", sign_uppercase=uppercase)
    result = client.send(["13800138000"], content, ANY_TEXT, serial())
    assert result.task_id
    assert any(r.content == content for r in gateway.accepted()[-1:])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=message_text)
def test_a_body_changed_after_signing_is_rejected(gateway: SandboxServer, content: str) -> None:
    client = YxtClient(gateway.base_url, "100001", "demo_app", "s3cr3t")
    body = build_send_body(["13800138000"], content, ANY_TEXT, serial())
    headers = client.signed_headers(body)
    tampered = {**body, "messageContent": content + "!"}
    reply = requests.post(
        gateway.base_url + PATH_SEND,
        data=json.dumps(tampered, ensure_ascii=False).encode(),
        headers=headers,
        timeout=10,
    )
    assert reply.json()["code"] == 35
