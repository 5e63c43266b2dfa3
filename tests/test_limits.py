"""core/limits.py: one text's length and Unicode checks, where every command and the Python API apply them;
serving/limits.py: the server's token check."""

import pytest

from slotfill.core.limits import MAX_TEXT_CHARS, check_text, text_problem
from slotfill.errors import SlotfillError
from tests.helpers import tiny_model


def test_a_text_within_the_limits_passes():
    assert text_problem("flights to boston") is None and check_text("é" * MAX_TEXT_CHARS, "t") == "é" * MAX_TEXT_CHARS


def test_over_long_and_lone_surrogate_texts_are_refused_in_one_line():
    with pytest.raises(SlotfillError, match=r"text 2: 100,001 characters, over the limit of 100,000"):
        check_text("x" * (MAX_TEXT_CHARS + 1), "text 2")
    with pytest.raises(SlotfillError, match=r"holds a lone surrogate \(U\+D800 at character 6\)"):
        check_text("from \ud800 boston", "text 1")


def test_the_python_api_refuses_them_before_tagging():
    from slotfill.inference.tagger import SlotTagger

    tagger = SlotTagger(tiny_model())
    with pytest.raises(SlotfillError, match="text 2: holds a lone surrogate"):
        tagger.predict(["fine", "from \ud800 boston"])


def _guarded(token: str, headers: list, query: bytes = b"", body: bytes = b"{}") -> int:
    """The status serving/limits.py's TokenGuard answers a POST with: 200 where it lets it through."""
    import asyncio

    from slotfill.serving.limits import TokenGuard

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/model/parse", "headers": headers, "query_string": query}
    asyncio.run(TokenGuard(app, token)(scope, receive, send))
    return sent[0]["status"]


def test_a_bearer_token_with_non_ascii_characters_matches_as_the_query_and_body_ones_do():
    """The header's bytes were read as Latin-1, then compared by their UTF-8: "sécret" never matched."""
    assert _guarded("sécret", [(b"authorization", "Bearer sécret".encode())]) == 200
    assert _guarded("sécret", [], query=b"token=s%C3%A9cret") == 200
    assert _guarded("sécret", [], body='{"token": "sécret"}'.encode()) == 200
    assert _guarded("sécret", [(b"authorization", b"Bearer secret")]) == 401
    assert _guarded("s3cret", [(b"authorization", b"bearer  s3cret ")]) == 200


def test_a_bearer_token_sent_as_latin_1_matches_as_browsers_and_http_client_send_it():
    """fetch, http.client and requests send characters up to U+00FF as one Latin-1 byte: 401 for "sécret"."""
    assert _guarded("sécret", [(b"authorization", "Bearer sécret".encode("latin-1"))]) == 200
    assert _guarded("sécret", [(b"authorization", "Bearer sécret".encode())]) == 200
    assert _guarded("sécret", [(b"authorization", "Bearer secret".encode("latin-1"))]) == 401
    assert _guarded("sécret", [(b"authorization", "Bearer sécrét".encode("latin-1"))]) == 401
    assert _guarded("s€cret", [(b"authorization", "Bearer s€cret".encode())]) == 200  # beyond Latin-1
