"""Remembered suggestions: what is still missing while the user types through one, and the item it makes."""

from __future__ import annotations

from lsp_server.completion import Budgets, continuation, plan
from lsp_server.should_complete import Policy, should_complete
from lsp_server.suggestions import Suggestions

DOC = "def area(r):\n    \n\nprint(area(2))\n"
LINE_START = DOC.index("    \n")
CURSOR = LINE_START + 4
SHOWN = "    return 3.14 * r * r"  # a whole-line item over the emptied line


def _shown() -> Suggestions:
    cache = Suggestions()
    cache.add("a.py", DOC, LINE_START, LINE_START + 4, [SHOWN])
    return cache


def _typed(text: str) -> str:
    return DOC[:CURSOR] + text + DOC[CURSOR:]


def test_typing_through_leaves_the_rest() -> None:
    cache = _shown()
    assert cache.missing("a.py", DOC, CURSOR) == ["return 3.14 * r * r"]  # asked again at the same place
    assert cache.missing("a.py", _typed("ret"), CURSOR + 3) == ["urn 3.14 * r * r"]
    assert cache.missing("a.py", _typed("re"), CURSOR + 2) == ["turn 3.14 * r * r"]  # one deleted again


def test_anything_else_misses() -> None:
    cache = _shown()
    assert cache.missing("a.py", _typed("return 3.14 * r * r"), CURSOR + 19) == []  # typed whole
    assert cache.missing("a.py", _typed("rex"), CURSOR + 3) == []  # a character it does not show
    assert cache.missing("a.py", _typed("ret"), CURSOR + 2) == []  # the cursor moved back
    assert cache.missing("a.py", "# edited\n" + _typed("ret"), CURSOR + 12) == []  # an edit elsewhere
    assert cache.missing("b.py", _typed("ret"), CURSOR + 3) == []  # another document


def test_newest_first_without_repeats_and_bounded() -> None:
    cache = Suggestions(per_document=2)
    cache.add("a.py", DOC, LINE_START, LINE_START + 4, [SHOWN, "    return r * r"])
    assert cache.missing("a.py", _typed("return "), CURSOR + 7) == ["3.14 * r * r", "r * r"]
    cache.add("a.py", DOC, LINE_START, LINE_START + 4, ["    return 0", SHOWN])
    assert cache.missing("a.py", _typed("return "), CURSOR + 7) == ["0", "3.14 * r * r"]  # r * r dropped
    cache.add("a.py", DOC, LINE_START, LINE_START + 4, ["    "])  # changes nothing: not kept
    assert len(cache.missing("a.py", DOC, CURSOR)) == 2
    cache.forget("a.py")
    assert cache.missing("a.py", DOC, CURSOR) == []


def test_a_large_document_keeps_fewer_results() -> None:
    cache = Suggestions(chars=3 * len(DOC))
    for i in range(6):
        cache.add("a.py", DOC, LINE_START, LINE_START + 4, [f"    return {i}"])
    assert cache.missing("a.py", _typed("return "), CURSOR + 7) == ["5", "4", "3"]


def test_only_the_documents_used_last_are_kept() -> None:
    cache = Suggestions(documents=2)
    for uri in ("a.py", "b.py", "a.py", "c.py"):  # b.py is the least recently used when c.py comes
        cache.add(uri, DOC, LINE_START, LINE_START + 4, [SHOWN])
    assert [bool(cache.missing(u, DOC, CURSOR)) for u in ("a.py", "b.py", "c.py")] == [True, False, True]
    cache.clear()
    assert cache.missing("a.py", DOC, CURSOR) == []


def _plan(text: str, offset: int):
    budgets = Budgets()
    return plan(text, offset, should_complete(text, offset, "python", Policy()), budgets)


def test_continuation_fits_the_plan_at_the_cursor() -> None:
    typed = _typed("ret")
    rest_of_line = _plan(typed, CURSOR + 3)
    assert rest_of_line is not None and rest_of_line.start == rest_of_line.end == CURSOR + 3
    assert continuation(rest_of_line, "urn x\n    y", typed, CURSOR + 3) == "urn x"  # one line
    assert continuation(rest_of_line, "  \n    y", typed, CURSOR + 3) is None  # nothing on this line
    whole_line = _plan(DOC, CURSOR)
    assert whole_line is not None and whole_line.start == LINE_START
    item = continuation(whole_line, "return 1", DOC, CURSOR)
    assert item is not None
    assert DOC[: whole_line.start] + item + DOC[whole_line.end :] == _typed("return 1")
