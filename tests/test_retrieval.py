"""Repository context: which files count, chunking, BM25 ranking, the token budget and the window's share."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

from diffill.holes import Span
from diffill.retrieval.context import query_text, render, repository_context, select_chunks
from diffill.retrieval.files import workspace_files
from diffill.retrieval.index import Chunk, CodeIndex, chunk_file, code_tokens
from diffill.window import Vocab, build_layout


def words(text: str) -> int:
    return len(text.split())


def test_code_tokens_split_compound_identifiers() -> None:
    assert code_tokens("readLines(max_len)") == ["readlines", "read", "lines", "max_len", "max", "len"]
    assert code_tokens("x = 42  # é") == ["x", "42"]


def test_chunks_overlap_by_the_stride_and_reach_the_end() -> None:
    text = "".join(f"line{i}\n" for i in range(45))
    chunks = chunk_file("f.py", text, lines=20, stride=10)
    assert [(c.start, c.end) for c in chunks] == [(0, 20), (10, 30), (20, 40), (30, 45)]
    assert chunks[-1].text.endswith("line44\n")
    assert chunk_file("e.py", "\n\n\n") == []


def test_the_chunk_that_shares_the_rare_words_ranks_first() -> None:
    index = CodeIndex()
    index.set_file("a.py", "def parse_invoice(number, customer):\n    return Invoice(number, customer)\n")
    index.set_file("b.py", "def render_page(title):\n    return '<h1>' + title + '</h1>'\n")
    index.set_file("c.py", "def total(items):\n    return sum(i.price for i in items)\n")
    hits = index.search("invoice = parse_invoice(n, customer)")
    assert hits[0][0].path == "a.py"
    assert [c.path for c, _ in index.search("parse_invoice", exclude="a.py")] == []
    index.set_file("a.py", "nothing here\n")  # a file replaced: its old chunks are gone
    assert all(c.path != "a.py" for c, _ in index.search("parse_invoice customer"))
    index.remove_file("b.py")
    assert all(c.path != "b.py" for c, _ in index.search("render_page title"))


def test_the_index_is_bounded_and_says_what_it_left_out() -> None:
    index = CodeIndex(max_bytes=100)
    assert index.set_file("a.py", "x = 1\n" * 10)
    assert not index.set_file("b.py", "y = 2\n" * 20)
    assert index.left_out == {"b.py"} and len(index) == 1 and index.bytes == 60


def test_chunks_fit_the_budget_without_overlaps_and_recent_files_rank_higher() -> None:
    a1, a2 = Chunk("a.py", 0, 20, "alpha beta\n"), Chunk("a.py", 10, 30, "beta gamma\n")
    b = Chunk("b.py", 0, 20, "delta\n")
    hits = [(a1, 3.0), (a2, 2.9), (b, 2.5)]
    taken = select_chunks(hits, budget=100, count=words)
    assert taken == [a1, b]  # a2 overlaps a1
    assert select_chunks(hits, budget=100, count=words, recent={"b.py"})[0] == b
    assert select_chunks(hits, budget=words(render([a1])), count=words) == [a1]
    assert render([a1, b]).index("delta") < render([a1, b]).index("alpha")  # the best chunk comes last


def test_repository_context_queries_with_the_lines_before_the_cursor() -> None:
    assert query_text("a\nb\nc\nd", 6, lines=2) == "b\nc\n"
    index = CodeIndex()
    index.set_file("/w/lib/shapes.py", "def circle_area(radius):\n    return 3.14159 * radius * radius\n")
    index.set_file("/w/lib/other.py", "def greet(name):\n    print(name)\n")
    text = "from lib.shapes import circle_area\n\narea = circle_area(\n"
    out = repository_context(index, text, len(text), budget=100, count=words, root=Path("/w"))
    assert out.startswith("# file: lib/shapes.py\ndef circle_area")
    assert repository_context(index, text, len(text), budget=0, count=words) == ""


def _touch(root: Path, rel: str, text: str = "x = 1\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("git", [False, True])
def test_ignored_vendored_and_huge_files_are_not_the_users_code(tmp_path: Path, git: bool) -> None:
    for rel in (
        "pkg/mod.py",
        "pkg/gen/out.py",
        "pkg/keep.py",
        ".venv/lib/x.py",
        "node_modules/m/y.py",
        "pkg/_vendor/six.py",
        "build/lib/z.py",
        "notes.txt",
        "pkg/sub/deep.py",
    ):
        _touch(tmp_path, rel)
    _touch(tmp_path, "huge.py", "x = 1\n" * 200_000)
    _touch(tmp_path, ".gitignore", "gen/\n*.log\n")
    _touch(tmp_path, "pkg/sub/.gitignore", "deep.py\n")
    if git:
        if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
            pytest.skip("git is not installed")
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    names = [p.relative_to(tmp_path).as_posix() for p in workspace_files(tmp_path)]
    assert names == ["pkg/keep.py", "pkg/mod.py"]


class _Chars:
    """A tokenizer with one token per character (offsets included), for layout arithmetic."""

    def __call__(self, texts, add_special_tokens=False, return_offsets_mapping=False, verbose=False):
        ids = [[ord(c) % 90 + 10 for c in t] for t in texts]
        offsets = [[(i, i + 1) for i in range(len(t))] for t in texts]
        return {"input_ids": ids, "offset_mapping": offsets}


def _layout(text: str, context: str, budget: int, window: int = 64):
    vocab = Vocab(mask_id=1, cls_id=2, sep_id=3)
    at = text.index("|")
    text = text.replace("|", "")
    return build_layout(_Chars(), text, [Span(at, at)], [4], vocab, window, torch.Generator(), context, budget)


def test_context_takes_the_room_a_short_file_leaves_and_only_its_budget_of_a_long_ones() -> None:
    short = _layout("a = |\n", "ctx line\n" * 10, budget=0)
    assert short.context > 0 and len(short.ids) <= 64  # free room used at no cost to the file
    long_text = "".join(f"v{i} = {i}\n" for i in range(40)) + "w = |\n" + "".join(f"u{i}\n" for i in range(40))
    none = _layout(long_text, "ctx line\n" * 10, budget=0)
    some = _layout(long_text, "ctx line\n" * 10, budget=18)
    assert none.context == 0 and 0 < some.context <= 18
    assert some.ids[1 : 1 + some.context] == _Chars()(["ctx line\n" * 10])["input_ids"][0][-some.context :]
    assert some.start > none.start  # the file's own prefix gave up that room
