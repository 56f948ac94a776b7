"""What the server keeps beside the open documents is bounded, and a closed document leaves nothing behind.

Memory numbers come from ``benchmarks/server_memory.py``; these tests check the bounds themselves: remembered
suggestions stay within their count and size whatever documents come, share the document's text instead of
copying it, and are forgotten when the document closes.
"""

from __future__ import annotations

from lsprotocol import types

from lsp_server.server import build_server
from lsp_server.suggestions import Suggestions

DOC = "def f(x):\n    \n"
START = DOC.index("    \n")


def _add(cache: Suggestions, uri: str, text: str, inserts: list[str]) -> None:
    cache.add(uri, text, START, START + 4, inserts)


def test_suggestions_stay_within_their_size_over_many_documents() -> None:
    cache = Suggestions(chars=10_000)
    for i in range(200):
        _add(cache, f"doc{i}.py", DOC + "#" * 3000 + str(i), ["    return 1", "    return 2"])
        assert cache.size() <= 10_000
    assert cache.missing("doc199.py", DOC + "#" * 3000 + "199", START + 4)  # the last one is there
    assert not cache.missing("doc0.py", DOC + "#" * 3000 + "0", START + 4)


def test_a_document_larger_than_the_budget_keeps_its_newest_suggestion_only() -> None:
    cache = Suggestions(chars=1000)
    _add(cache, "small.py", DOC, ["    return 0"])
    huge = DOC + "x" * 50_000
    _add(cache, "huge.py", huge, ["    return 1", "    return 2"])
    assert cache.missing("huge.py", huge, START + 4) == ["return 1"]
    assert not cache.missing("small.py", DOC, START + 4)  # pushed out by the huge one


def test_candidates_share_the_documents_text() -> None:
    cache = Suggestions()
    text = DOC + "y" * 100_000
    _add(cache, "a.py", text, [f"    return {i}" for i in range(3)])
    assert all(r.document is text for r in cache._results["a.py"])  # no copy of 100 kB per candidate
    assert cache.missing("a.py", text[: START + 4] + "ret" + text[START + 4 :], START + 7) == [
        "urn 0", "urn 1", "urn 2",
    ]  # fmt: skip


def test_closing_a_document_forgets_its_suggestions() -> None:
    server = build_server()
    uri = "file:///memory/a.py"
    server.suggestions.add(uri, DOC, START, START + 4, ["    return 1"])
    close = server.protocol.fm.features[types.TEXT_DOCUMENT_DID_CLOSE]
    close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert server.suggestions.size() == 0
