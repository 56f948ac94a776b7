"""Syntax checks of regions (tree-sitter) and syntax-aware truncation in the engine."""

from __future__ import annotations

import ast

from diffill.denoise import DenoiseConfig
from diffill.holes import find_holes
from diffill.infill import FillOptions, Infiller, fit_syntax
from diffill.syntax import check_for, python_region_ok

GOOD = "def f(x):\n    return x + 1\n"
BAD_HERE = "def f(x):\n    return (x + 1\n\ny = 2\n"


def test_region_checks() -> None:
    assert python_region_ok(GOOD, 0, len(GOOD))
    assert not python_region_ok(BAD_HERE, 10, 27)
    two = "a = (\n" + "b = 1\n" * 5 + "c = 2\n"
    assert python_region_ok(two, two.index("c = 2"), len(two))  # an error elsewhere does not count


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
