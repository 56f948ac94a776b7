"""Unit tests of the corpus builder's rooms: licenses, filters, dedup, decontamination, chunks, spans."""

from __future__ import annotations

import itertools
import random
import textwrap
from pathlib import Path

import pytest

from training.corpus import licenses
from training.corpus.chunking import Cut, chunk_ranges
from training.corpus.config import CorpusConfig, SpanMode
from training.corpus.decontam import NgramIndex, evaluation_texts
from training.corpus.dedup import NearDuplicateIndex, content_hash, minhash
from training.corpus.filters import Drop, TextLimits, read_text
from training.corpus.languages import PYTHON, extension_map
from training.corpus.license_lookup import TreeLicenses, distribution_files
from training.corpus.sources import collect_sources, stdlib_dir
from training.corpus.spans import RANDOM_KINDS, Span, SpanSettings, choose_spans
from training.corpus.syntax import FileSyntax

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
INVENTORY = (FIXTURES / "tree" / "mitpkg" / "mitpkg" / "inventory.py").read_text()
LIMITS = TextLimits(max_file_bytes=10_000, min_file_chars=32, max_line_chars=1000, max_avg_line_chars=100)


# -- licenses ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("MIT", "MIT"),
        ("Apache Software License", "Apache-2.0"),
        ("BSD-3-Clause", "BSD-3-Clause"),
        ("GPLv3+", "GPL-3.0"),
        ("MIT OR GPL-3.0-only", "MIT"),
        ("MIT AND GPL-3.0-only", "GPL-3.0"),
        ("(LGPL-2.1-or-later AND MIT) OR BSD-2-Clause", "BSD-2-Clause"),
        ("Apache-2.0 WITH LLVM-exception", "Apache-2.0"),
        ("UNKNOWN", None),
        ("some custom terms", None),
    ],
)
def test_classify_field(value: str, expected: str | None) -> None:
    assert licenses.classify_field(value) == expected


def test_classify_texts_and_classifiers() -> None:
    assert licenses.classify_text((FIXTURES / "tree" / "mitpkg" / "LICENSE").read_text()) == "MIT"
    assert licenses.classify_text((FIXTURES / "tree" / "gplpkg" / "COPYING").read_text()) == "GPL"
    bsd = "Redistribution and use in source and binary forms ...\n* Neither the name of the copyright holder"
    assert licenses.classify_text(bsd) == "BSD-3-Clause"
    assert licenses.classify_text("Mozilla Public License Version 2.0") == "MPL-2.0"
    assert licenses.category("MPL-2.0") is licenses.Category.WEAK_COPYLEFT
    classifiers = ["License :: OSI Approved :: MIT License", "Programming Language :: Python"]
    assert licenses.classify_classifiers(classifiers) == "MIT"


def test_tree_licenses_dual_and_combined(tmp_path: Path) -> None:
    dual = tmp_path / "dual"
    dual.mkdir()
    (dual / "LICENSE-MIT").write_text("Permission is hereby granted, free of charge, to any person obtaining a copy")
    (dual / "LICENSE-GPL").write_text("GNU GENERAL PUBLIC LICENSE")
    (dual / "sub").mkdir()
    assert TreeLicenses(str(tmp_path)).for_file(str(dual / "sub" / "x.py")) == "MIT"
    both = tmp_path / "both"
    both.mkdir()
    (both / "COPYING").write_text("GNU GENERAL PUBLIC LICENSE")
    (both / "COPYING.LESSER").write_text("GNU LESSER GENERAL PUBLIC LICENSE")
    assert TreeLicenses(str(tmp_path)).for_file(str(both / "x.py")) == "GPL"
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "p"\nlicense = "Apache-2.0"\n')
    assert TreeLicenses(str(project)).for_file(str(project / "x.py")) == "Apache-2.0"


def test_distribution_files_map_record_entries(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "foo").mkdir(parents=True)
    (site / "foo" / "__init__.py").write_text("X = 1\n")
    info = site / "foo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nLicense: BSD-3-Clause\n")
    (info / "RECORD").write_text("foo/__init__.py,,\nfoo-1.0.dist-info/METADATA,,\nfoo-1.0.dist-info/RECORD,,\n")
    owners = distribution_files(str(site))
    assert owners[str((site / "foo" / "__init__.py").resolve())] == ("foo", "BSD-3-Clause")


# -- sources and filters ----------------------------------------------------------------------------
def test_stdlib_walk_skips_tests_and_site_packages() -> None:
    files, _ = collect_sources(("stdlib",), extension_map(["python"]))
    rels = {f.rel for f in files}
    assert "os.py" in rels and "json/decoder.py" in rels and "venv/__init__.py" in rels
    assert not any(
        part in {"test", "tests", "idlelib", "lib2to3", "site-packages"} for r in rels for part in r.split("/")
    )
    assert {f.license for f in files} == {"PSF-2.0"} and all(f.source == "stdlib" for f in files)
    assert [f.index for f in files] == list(range(len(files)))
    assert stdlib_dir()


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        extension_map(["cobol"])


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("big.py", b"x = 1\n" * 3000, Drop.TOO_LARGE),
        ("bin.py", b"x = 1\n\0\0\0" + b"y" * 100, Drop.BINARY),
        ("latin.py", "s = 'caf\xe9 au lait, tr\xe8s bien'\n".encode("latin-1"), Drop.NON_UTF8),
        ("tiny.py", b"x = 1\n", Drop.TOO_SMALL),
        ("min.py", b"x = [" + b"1," * 800 + b"]\n", Drop.MINIFIED),
        ("gen.py", b"# Code generated by protoc. DO NOT EDIT.\nx = 1234567890123456789012345678901\n", Drop.GENERATED),
        ("svc_pb2.py", b"DESCRIPTOR = None\nx = 1234567890123456789012345678901\n", Drop.GENERATED),
    ],
)
def test_read_text_drops(tmp_path: Path, name: str, data: bytes, reason: Drop) -> None:
    (tmp_path / name).write_bytes(data)
    assert read_text(str(tmp_path / name), name, LIMITS) == (None, reason)


def test_read_text_normalizes_newlines_and_bom(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_bytes(b"\xef\xbb\xbfdef f():\r\n    return 'a reasonably long line'\r\n")
    text, reason = read_text(str(tmp_path / "ok.py"), "ok.py", LIMITS)
    assert reason is None and text == "def f():\n    return 'a reasonably long line'\n"


# -- dedup and decontamination ----------------------------------------------------------------------
def test_exact_hash_ignores_trailing_space_and_blank_lines() -> None:
    assert content_hash("a = 1\n\n\nb = 2\n") == content_hash("a = 1   \nb = 2")
    assert content_hash("a = 1\n") != content_hash("a = 2\n")


def test_near_duplicates_found_and_distinct_files_kept() -> None:
    near = INVENTORY.replace("return ordered[:count]", "return list(ordered[:count])")
    shapes = (FIXTURES / "tree" / "mitpkg" / "mitpkg" / "shapes.py").read_text()
    index = NearDuplicateIndex(perms=128, threshold=0.85)
    first, second, other = (minhash(t, 128, 5) for t in (INVENTORY, near, shapes))
    assert first is not None and second is not None and other is not None
    assert (minhash(INVENTORY, 128, 5) == first).all()  # deterministic
    assert index.add_if_new(first)
    assert not index.add_if_new(second)
    assert index.add_if_new(other)
    assert minhash("x", 128, 5) is None


def test_decontamination_needs_a_full_ngram() -> None:
    texts = evaluation_texts([str(FIXTURES / "bench")])
    assert len(texts) == 2  # the program and its test
    index = NgramIndex(texts, n=13)
    shared = "balance = 0 for op in operations: balance += op if balance < 0: return True return False"
    assert index.contaminated("def g(operations):\n    " + shared + "\n")
    twelve = " ".join(shared.split()[:12])
    assert not index.contaminated(twelve) and not index.contaminated(INVENTORY)
    assert not NgramIndex([], n=13).contaminated(shared)


# -- chunks -----------------------------------------------------------------------------------------
def test_chunks_cover_text_within_limit_and_prefer_definitions() -> None:
    syntax = FileSyntax(INVENTORY, PYTHON, max_chars=320)
    ranges = chunk_ranges(INVENTORY, 600, syntax.cuts)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(INVENTORY)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(ranges))
    assert all(0 < hi - lo <= 600 for lo, hi in ranges)
    assert all(lo == 0 or INVENTORY[lo - 1] == "\n" for lo, _ in ranges)
    assert syntax.cuts[INVENTORY.index("def merge")] is Cut.DEFINITION
    assert syntax.cuts[INVENTORY.index("@dataclass")] is Cut.DEFINITION  # decorators stay with the class
    assert any(INVENTORY[lo:].startswith(("def ", "class ", "@")) for lo, _ in ranges[1:])


def test_overlong_line_is_left_out() -> None:
    text = "a = 1\n" + "b = '" + "x" * 200 + "'\n" + "c = 3\n"
    ranges = chunk_ranges(text, 100, {})
    assert all(hi - lo <= 100 for lo, hi in ranges)
    assert "".join(text[lo:hi] for lo, hi in ranges) == "a = 1\nc = 3\n"


# -- syntax candidates and span choice --------------------------------------------------------------
SNIPPET = textwrap.dedent(
    '''\
    def area(width, height):
        """Area of a rectangle."""
        if width < 0:
            raise ValueError("negative")
        return width * height  # square units
    '''
)


def test_syntax_candidates() -> None:
    found = {(c.kind, SNIPPET[c.start : c.end]) for c in FileSyntax(SNIPPET, PYTHON, max_chars=320).candidates}
    assert ("line", '        raise ValueError("negative")\n') in found
    assert ("line", "    return width * height  # square units\n") in found  # a trailing comment stays
    assert ("block", '    if width < 0:\n        raise ValueError("negative")\n') in found
    body = '    if width < 0:\n        raise ValueError("negative")\n    return width * height  # square units\n'
    assert ("function_body", body) in found  # the docstring is not part of the body span
    assert ("expression", "width * height") in found
    assert ("arguments", '"negative"') in found
    assert ("arguments", "width, height") in found
    assert ("definition", SNIPPET) in found


def test_non_ascii_offsets_are_characters() -> None:
    text = 'name = "café"\nvalue = compute(name, "ünïcode")\n'
    found = {(c.kind, text[c.start : c.end]) for c in FileSyntax(text, PYTHON, max_chars=320).candidates}
    assert ("arguments", 'name, "ünïcode"') in found
    assert ("line", 'value = compute(name, "ünïcode")\n') in found


@pytest.mark.parametrize("mode", list(SpanMode))
def test_choose_spans_invariants(mode: SpanMode) -> None:
    syntax = FileSyntax(INVENTORY, PYTHON, max_chars=200)
    chunk = INVENTORY[:900]
    candidates = [Span(c.start, c.end, c.kind) for c in syntax.candidates if c.end <= len(chunk)]
    settings = SpanSettings(mode, max_spans=3, max_chars=200, random_prob=0.25)
    kinds: set[str] = set()
    for seed in range(200):
        spans = choose_spans(chunk, candidates, random.Random(seed), settings)
        assert 1 <= len(spans) <= 3
        for span in spans:
            assert 0 <= span.start < span.end <= len(chunk) and span.end - span.start <= 200
            assert chunk[span.start : span.end].strip()
        assert all(a.end < b.start for a, b in itertools.pairwise(spans))
        kinds.update(s.kind for s in spans)
    if mode is SpanMode.RANDOM:
        assert kinds == set(RANDOM_KINDS)
    elif mode is SpanMode.AST:
        assert not kinds & set(RANDOM_KINDS) and {"line", "expression", "statements"} <= kinds
    else:
        assert kinds & set(RANDOM_KINDS) and {"line", "expression"} <= kinds


def test_span_never_covers_whole_chunk() -> None:
    chunk = "x = 1\n"
    settings = SpanSettings(SpanMode.MIXED, max_spans=3, max_chars=320, random_prob=0.5)
    for seed in range(50):
        for span in choose_spans(chunk, [Span(0, len(chunk), "line")], random.Random(seed), settings):
            assert span.end - span.start < len(chunk)


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="random_span_prob"):
        CorpusConfig(sources=("x",), out_dir="o", random_span_prob=2.0)
    assert CorpusConfig(sources=("x",), out_dir="o", span_mode="random").span_mode is SpanMode.RANDOM  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["javascript", "typescript", "go", "rust"])
def test_other_languages_when_their_grammar_is_installed(name: str) -> None:
    from training.corpus.languages import REGISTRY, load_language

    spec = REGISTRY[name]
    pytest.importorskip(spec.module)
    language = load_language(name)
    groups = (
        spec.line_types,
        spec.block_types,
        spec.definition_types,
        spec.function_types,
        spec.expression_types,
        spec.argument_types,
        spec.block_container_types,
    )
    assert all(language.id_for_node_kind(t, True) for group in groups for t in group)
    assert extension_map([name])[spec.extensions[0]] is spec


def test_decontamination_ignores_number_only_ngrams() -> None:
    numbers = "assert candidate([2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43]) == 14\n"
    index = NgramIndex([numbers], n=13)
    assert len(index) == 0 and not index.contaminated("PRIMES = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41]")
    words = "for item in items: if item.price > limit: total += item.price * item.count return total"
    assert NgramIndex([words], n=13).contaminated("x = 1\n" + words)
