"""The language server's pure parts: settings, wire types, positions, should-complete and ghost-text shaping."""

from __future__ import annotations

import pytest
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace.position_codec import PositionCodec

from lsp_server.completion import Budgets, insert_text, plan
from lsp_server.edits import LineIndex, apply_edits, span_edits
from lsp_server.protocol import fill_holes_arguments, rewrite_range_arguments
from lsp_server.settings import Settings, parse_settings, section
from lsp_server.should_complete import Mode, Policy, should_complete


def test_settings_parse_camel_case_and_keep_valid_values() -> None:
    settings, problems = parse_settings({"steps": 8, "holeMarker": "<?>", "languages": ["python", "cython"]})
    assert problems == []
    assert (settings.steps, settings.hole_marker, settings.languages) == (8, "<?>", ("python", "cython"))


def test_end_probability_setting_reaches_the_fill_options() -> None:
    from lsp_server.jobs.options import fill_options as _options

    assert _options(Settings()).end_probability == Settings().end_probability > 0
    settings, problems = parse_settings({"endProbability": 0})
    assert problems == [] and _options(settings).end_probability is None  # 0: whole budgets
    _, problems = parse_settings({"endProbability": 1.5})
    assert len(problems) == 1 and "endProbability" in problems[0]


def test_the_compile_setting_is_checked_and_reloads_the_model() -> None:
    settings, problems = parse_settings({"compile": "reduce-overhead"})
    assert problems == [] and settings.compile == "reduce-overhead"
    assert settings.model_key() != Settings().model_key()  # a change loads the model again, compiled
    _, problems = parse_settings({"compile": "fast"})
    assert len(problems) == 1 and "compile" in problems[0]


def test_invalid_settings_are_reported_and_fall_back() -> None:
    base = Settings(model="/m")
    settings, problems = parse_settings({"steps": "many", "temperature": -1, "candidates": 2, "bogus": 1}, base)
    assert settings == Settings(model="/m", candidates=2)
    assert len(problems) == 3 and any("steps" in p for p in problems) and any("bogus" in p for p in problems)


def test_settings_section_may_be_nested_or_flat() -> None:
    assert section({"diffill": {"steps": 4}}) == {"steps": 4}
    assert section({"steps": 4}) == {"steps": 4}
    assert section({"python": {"x": 1}}) is None and section(None) is None


def test_command_arguments_are_typed() -> None:
    converter = get_converter()
    assert fill_holes_arguments(converter, ["file:///a.py"]).uri == "file:///a.py"
    rng = {"start": {"line": 0, "character": 1}, "end": {"line": 2, "character": 0}}
    args = rewrite_range_arguments(converter, ["file:///a.py", rng, 0.5])
    assert args.range.end.line == 2 and args.strength == 0.5
    with pytest.raises(JsonRpcInvalidParams):
        rewrite_range_arguments(converter, ["file:///a.py", {"start": {}}])
    with pytest.raises(JsonRpcInvalidParams):
        rewrite_range_arguments(converter, ["file:///a.py", rng, 2])


@pytest.mark.parametrize("encoding", [types.PositionEncodingKind.Utf16, types.PositionEncodingKind.Utf8])
def test_positions_round_trip_through_non_ascii(encoding: str) -> None:
    text = 'a = "😀中e\u0301"\r\nb = 1\n'
    index = LineIndex(text, PositionCodec(encoding))
    for offset in range(len(text) + 1):
        if text[offset - 1 : offset + 1] == "\r\n":
            continue  # inside a line break: not a position of its own
        assert index.offset(index.position(offset)) == offset
    after_emoji = text.index("中")
    expected = 7 if encoding == types.PositionEncodingKind.Utf16 else 9  # 5 ASCII + 2 or 4 units
    assert index.position(after_emoji) == types.Position(line=0, character=expected)


def test_positions_outside_the_text() -> None:
    index = LineIndex("ab\ncd")
    assert index.offset(types.Position(line=5, character=0)) is None
    assert index.offset(types.Position(line=0, character=99)) == 2  # past the line's end: its end
    assert index.position(99) == types.Position(line=1, character=2)


def test_span_edits_apply_like_a_client() -> None:
    text = "x = ???\ny = ???\n"
    index = LineIndex(text)
    edits = span_edits(index, [(4, 7, "1"), (12, 15, "2")])
    assert apply_edits(text, edits) == "x = 1\ny = 2\n"


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("def f():\n    |\n", Mode.BLOCK),
        ("def f():|\n", Mode.BLOCK),
        ("if x:  # why\n    |\n", Mode.BLOCK),
        ("x = 1\n|\n", Mode.SINGLE),
        ("x = foo(|)\n", Mode.LINE),
        ("d = {a:|\n", Mode.LINE),
        ("lambda x:|\n", Mode.LINE),
        ('x = "ab|c"\n', Mode.NONE),
        ("x = 1  # note|\n", Mode.NONE),
        ("x = fo|o\n", Mode.NONE),
        ("    |x = 1\n", Mode.NONE),
        ('x = f"{a|}"\n', Mode.LINE),
    ],
)
def test_should_complete(text: str, mode: Mode) -> None:
    offset = text.index("|")
    assert should_complete(text.replace("|", ""), offset, "python").mode is mode


def test_should_complete_policy_and_other_languages() -> None:
    assert should_complete("x = 1  # no|\n".replace("|", ""), 11, "python", Policy(in_comments=True)).mode is Mode.LINE
    assert should_complete("int f() {\n", 9, "c").mode is Mode.BLOCK
    assert should_complete("x = 1\n\n", 6, "python", Policy(block_on_empty_line=True)).mode is Mode.BLOCK


def _ghost(text: str, middle: str) -> tuple[str | None, tuple[int, int]]:
    offset = text.index("|")
    text = text.replace("|", "")
    todo = plan(text, offset, should_complete(text, offset, "python"), Budgets())
    assert todo is not None
    return insert_text(todo, middle, text), (todo.start, todo.end)


def test_ghost_text_keeps_the_indentation_already_typed() -> None:
    insert, (start, end) = _ghost("def f(x):\n    |\n", "return x\n")  # the model forgot to indent
    assert (start, end) == (10, 14) and insert == "    return x"
    insert, _ = _ghost("def f(x):\n    |\n", "    y = x\n    return y\nprint(1)\n")  # stops at the dedent
    assert insert == "    y = x\n    return y"


def test_ghost_text_after_an_opener_opens_a_line() -> None:
    insert, (start, end) = _ghost("def f(x):|\n", "return x\n")
    assert insert == "\n    return x" and start == end == 9


def test_ghost_text_never_repeats_the_suffix() -> None:
    assert _ghost("x = foo(|)\n", ")")[0] is None
    assert _ghost("x = foo(|)\n", "a, b")[0] == "a, b"
    insert, _ = _ghost("def f(x):\n    |\n    return y\n", "    y = x\n    return y\n")
    assert insert == "    y = x"


def test_null_setting_keeps_the_layer_below() -> None:
    from lsp_server.settings import Settings, parse_settings

    base = Settings(steps=7)
    settings, problems = parse_settings({"steps": None, "temperature": None}, base)
    assert problems == [] and settings.steps == 7 and settings.temperature == base.temperature
