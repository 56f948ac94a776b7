"""Language registry: file extension -> tree-sitter grammar loader + the node types used for spans.

A language is active only when its grammar package imports. Python is the one the project needs; the
others use the node names of their current tree-sitter grammars and are only as good as those names.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language


@dataclass(frozen=True)
class LanguageSpec:
    """How to find spans and chunk boundaries for one language.

    Node-type sets name tree-sitter node types; a span kind is produced from each set (see `syntax.py`).
    """

    name: str
    extensions: tuple[str, ...]
    module: str  # grammar package, e.g. "tree_sitter_python"
    loader: str  # function in that package returning the language pointer
    line_types: frozenset[str]  # simple statements -> "line" spans (whole lines)
    block_types: frozenset[str]  # compound statements -> "block" spans (whole lines)
    definition_types: frozenset[str]  # functions/classes -> "definition" spans, preferred chunk cuts
    function_types: frozenset[str]  # nodes whose `body` field gives a "function_body" span
    expression_types: frozenset[str]  # -> "expression" spans (mid-line)
    argument_types: frozenset[str]  # delimited lists -> "arguments" spans (inside the delimiters)
    block_container_types: frozenset[str]  # nodes whose statement children give "statements" spans
    statement_list_types: frozenset[str] = frozenset()  # a wrapper to look through (Go's statement_list)
    comment_types: frozenset[str] = frozenset({"comment"})
    docstrings: bool = False  # skip a leading string statement in function bodies (Python)
    line_comment: str = "#"


def _types(names: str) -> frozenset[str]:
    return frozenset(names.split())


PYTHON = LanguageSpec(
    name="python",
    extensions=(".py",),
    module="tree_sitter_python",
    loader="language",
    line_types=_types(
        "expression_statement return_statement pass_statement break_statement continue_statement "
        "raise_statement import_statement import_from_statement future_import_statement assert_statement "
        "delete_statement global_statement nonlocal_statement type_alias_statement"
    ),
    block_types=_types("if_statement for_statement while_statement try_statement with_statement match_statement"),
    definition_types=_types("function_definition class_definition decorated_definition"),
    function_types=_types("function_definition"),
    expression_types=_types(
        "call binary_operator comparison_operator boolean_operator not_operator unary_operator attribute "
        "subscript list dictionary tuple set list_comprehension dictionary_comprehension set_comprehension "
        "generator_expression conditional_expression lambda string concatenated_string await"
    ),
    argument_types=_types("argument_list parameters"),
    block_container_types=_types("block module"),
    docstrings=True,
)

_JS_COMMON = {
    "line_types": _types(
        "expression_statement lexical_declaration variable_declaration return_statement throw_statement "
        "break_statement continue_statement import_statement"
    ),
    "block_types": _types(
        "if_statement for_statement for_in_statement while_statement do_statement try_statement switch_statement"
    ),
    "definition_types": _types("function_declaration class_declaration method_definition"),
    "function_types": _types("function_declaration method_definition function_expression arrow_function"),
    "expression_types": _types(
        "call_expression binary_expression member_expression subscript_expression array object "
        "ternary_expression arrow_function template_string await_expression new_expression"
    ),
    "argument_types": _types("arguments formal_parameters"),
    "block_container_types": _types("statement_block program"),
    "line_comment": "//",
}

JAVASCRIPT = LanguageSpec(
    name="javascript",
    extensions=(".js", ".mjs", ".cjs", ".jsx"),
    module="tree_sitter_javascript",
    loader="language",
    **_JS_COMMON,
)

TYPESCRIPT = LanguageSpec(
    name="typescript",
    extensions=(".ts", ".mts", ".cts"),
    module="tree_sitter_typescript",
    loader="language_typescript",
    **_JS_COMMON,
)

TSX = LanguageSpec(
    name="tsx",
    extensions=(".tsx",),
    module="tree_sitter_typescript",
    loader="language_tsx",
    **_JS_COMMON,
)

GO = LanguageSpec(
    name="go",
    extensions=(".go",),
    module="tree_sitter_go",
    loader="language",
    line_types=_types(
        "expression_statement short_var_declaration assignment_statement return_statement go_statement "
        "defer_statement inc_statement dec_statement var_declaration const_declaration send_statement "
        "break_statement continue_statement import_declaration"
    ),
    block_types=_types("if_statement for_statement expression_switch_statement type_switch_statement select_statement"),
    definition_types=_types("function_declaration method_declaration type_declaration"),
    function_types=_types("function_declaration method_declaration func_literal"),
    expression_types=_types(
        "call_expression binary_expression selector_expression index_expression composite_literal "
        "unary_expression func_literal"
    ),
    argument_types=_types("argument_list parameter_list"),
    block_container_types=_types("block source_file"),
    statement_list_types=_types("statement_list"),
    line_comment="//",
)

RUST = LanguageSpec(
    name="rust",
    extensions=(".rs",),
    module="tree_sitter_rust",
    loader="language",
    line_types=_types("expression_statement let_declaration use_declaration"),
    block_types=_types("if_expression for_expression while_expression loop_expression match_expression"),
    definition_types=_types("function_item impl_item struct_item enum_item trait_item mod_item"),
    function_types=_types("function_item closure_expression"),
    expression_types=_types(
        "call_expression binary_expression field_expression index_expression macro_invocation "
        "closure_expression struct_expression reference_expression try_expression"
    ),
    argument_types=_types("arguments parameters"),
    block_container_types=_types("block source_file declaration_list"),
    comment_types=_types("line_comment block_comment"),
    line_comment="//",
)

REGISTRY: dict[str, LanguageSpec] = {spec.name: spec for spec in (PYTHON, JAVASCRIPT, TYPESCRIPT, TSX, GO, RUST)}


def is_available(spec: LanguageSpec) -> bool:
    """Whether the grammar package of `spec` can be imported."""
    try:
        importlib.import_module(spec.module)
    except ImportError:
        return False
    return True


def available_languages() -> list[str]:
    """Names of the registered languages whose grammar is installed."""
    return [name for name, spec in REGISTRY.items() if is_available(spec)]


def extension_map(names: Iterable[str]) -> dict[str, LanguageSpec]:
    """Extension -> spec for the chosen languages. Raises ValueError for unknown or missing grammars."""
    mapping: dict[str, LanguageSpec] = {}
    for name in names:
        spec = REGISTRY.get(name)
        if spec is None:
            raise ValueError(f"unknown language {name!r}; known: {', '.join(REGISTRY)}")
        if not is_available(spec):
            raise ValueError(f"language {name!r} needs the grammar package {spec.module!r} (pip install it)")
        for ext in spec.extensions:
            mapping[ext] = spec
    return mapping


@cache
def load_language(name: str) -> Language:
    """The tree-sitter Language for a registered name (cached per process)."""
    from tree_sitter import Language

    spec = REGISTRY[name]
    module = importlib.import_module(spec.module)
    return Language(getattr(module, spec.loader)())
