"""Syntax checks of regions (tree-sitter) and syntax-aware truncation in the engine."""

from __future__ import annotations

import ast

from diffill.denoise import DenoiseConfig
from diffill.holes import find_holes
from diffill.infill import FillOptions, Infiller, fit_syntax
from diffill.syntax import check_for, parse_problem, python_region_ok

GOOD = "def f(x):\n    return x + 1\n"
BAD_HERE = "def f(x):\n    return (x + 1\n\ny = 2\n"


def test_region_checks() -> None:
    assert python_region_ok(GOOD, 0, len(GOOD))
    assert not python_region_ok(BAD_HERE, 10, 27)
    two = "a = (\n" + "b = 1\n" * 5 + "c = 2\n"
    assert python_region_ok(two, two.index("c = 2"), len(two))  # an error elsewhere does not count


def test_code_nested_too_deeply_for_pythons_parser_is_judged_by_tree_sitter() -> None:
    deep = "x = " + "a." * 100_000 + "b\n"  # ast.parse: RecursionError; "-" * 100_000: MemoryError
    assert python_region_ok(deep, 0, len(deep))
    assert python_region_ok("x = " + "-" * 100_000 + "1\n", 0, 10)
    broken = "x = " + "1+" * 100_000 + "\n"
    assert not python_region_ok(broken, len(broken) - 5, len(broken))


def test_check_for_language_or_path() -> None:
    assert check_for("python") is python_region_ok
    assert check_for(path="x.py") is python_region_ok
    assert check_for(path="x.rs") is None and check_for("go") is None


def test_fit_syntax_cuts_a_broken_expression() -> None:
    before, after = "def f(x):\n    y = ", "\n    return y\n"
    assert fit_syntax("x + g(x", False, before, after, python_region_ok) == "x + g"
    assert fit_syntax("x + 1", False, before, after, python_region_ok) == "x + 1"


def test_fit_syntax_keeps_whole_valid_lines() -> None:
    before, after = "def f(x):\n    y = 1\n", "    return y\n"
    out = fit_syntax("    y += 2\n    z = (\n", True, before, after, python_region_ok)
    assert out == "    y += 2\n"


def test_engine_output_parses_with_the_check(tiny_model_dir) -> None:
    from diffill.model import load_model

    text = "def f(a):\n    b = ???\n    return b\n\n\nc = f(???)\n"
    lm = load_model(tiny_model_dir, device="cpu", dtype="float32")
    options = FillOptions(DenoiseConfig(steps=4), syntax_check=check_for("python"))
    out = Infiller(lm).fill(text, find_holes(text), options).text
    assert "???" not in out
    ast.parse(out)


def test_parse_problem_counts_holes_as_code() -> None:
    for text in ["x = ???\n", "def f():\n    ???\n", "y = f(???)\n", "n = 1???\n", "import ???\n"]:
        assert parse_problem(text, "a.py", find_holes(text)) is None, text
    broken = "def f(:\n    return ???\n"
    assert parse_problem(broken, "a.py", find_holes(broken)) == "line 1: invalid syntax"
    late = "x = ???\n\ny = (1,\n"
    assert parse_problem(late, "a.py", find_holes(late)) == "line 3: '(' was never closed"


def test_parse_problem_is_for_python_only() -> None:
    assert parse_problem("x = (\n", "a.py") == "line 1: '(' was never closed"
    assert parse_problem("x = (\n", language="python") == "line 1: '(' was never closed"
    assert parse_problem("x = (\n", "a.rs") is None and parse_problem("x = (\n", "-") is None
    assert parse_problem('p = "\\d"\n', "a.py") is None  # an invalid escape only warns
    assert parse_problem("a = 1\0\n", "a.py") is not None
    assert parse_problem("\ufeffx = ???\n", "a.py", find_holes("\ufeffx = ???\n")) is None  # a BOM is fine
