"""Send-body fuzz: any text either becomes a body the client can encode and sign, or a ``ValueError`` before sending."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz_settings
from yxt_provider.client.protocol import build_send_body
from yxt_provider.client.signing import sign


@fuzz_settings
@given(content=st.text(), template_id=st.text(max_size=20))
@example(content="hi \ud800", template_id="1000000000001")
@example(content="hi", template_id="\udfff")
def test_a_send_body_is_sendable_or_refused_up_front(content: str, template_id: str) -> None:
    """What ``build_send_body`` returns always encodes as UTF-8 JSON and signs; anything else is ``ValueError``."""
    try:
        body = build_send_body(["13800138000"], content, template_id, "1" * 20)
    except ValueError as exc:
        assert not isinstance(exc, UnicodeError), exc  # refused with words, not by a codec
        return
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    assert len(sign("100001", "demo_app", "s3cr3t", "1" * 19, body)) == 64


def test_a_lone_surrogate_is_refused_naming_the_field() -> None:
    """The message names which field holds the character UTF-8 cannot carry."""
    with pytest.raises(ValueError, match="message content holds a lone surrogate"):
        build_send_body(["13800138000"], "hi \ud800", "1000000000001", "1" * 20)
