"""End-to-end tests of the corpus builder on a fixture tree (copied to tmp, plus symlinks made here)."""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import itertools
import json
import os
import shutil
from pathlib import Path

import pytest

from training.corpus import CorpusConfig, CorpusError, SpanMode, add_corpus_arguments, build_corpus, run_corpus, worker
from training.corpus.dedup import content_hash
from training.corpus.examples import FileInfo
from training.corpus.spans import RANDOM_KINDS
from training.corpus.writer import SplitWriter

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
BENCH = FIXTURES / "bench" / "fake_tasks.jsonl"
SYNTAX_KINDS = {"line", "statements", "block", "definition", "function_body", "expression", "arguments"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The fixture tree in tmp (no .git or project LICENSE above it), plus odd files and symlinks made here."""
    root = tmp_path / "src" / "tree"
    shutil.copytree(FIXTURES / "tree", root)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text('"""Outside the tree."""\n\n\ndef secret():\n    return "do not walk here"\n')
    pkg = root / "mitpkg" / "mitpkg"
    # files that would upset linters in the repo: binary and Latin-1 bytes under a .py name
    (pkg / "blob.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (pkg / "latin1.py").write_bytes(
        '"""Caf\xe9 na\xefve r\xe9sum\xe9 helpers."""\n\ndef greet(name):\n    return name\n'.encode("latin-1")
    )
    os.symlink(outside / "secret.py", pkg / "link_out.py")
    os.symlink(outside, pkg / "linked_dir")
    os.symlink(pkg / "shapes.py", pkg / "zz_link_in.py")
    return root


def make_config(tree: Path, out: Path, **overrides: object) -> CorpusConfig:
    base = dict(
        sources=(str(tree),),
        out_dir=str(out),
        decontaminate=(str(BENCH),),
        chunk_chars=600,
        shard_size=4,
        workers=1,
        progress=False,
        val_fraction=0.0,
    )
    base.update(overrides)
    return CorpusConfig(**base)  # type: ignore[arg-type]


def read_examples(out: Path) -> list[dict]:
    rows = []
    for shard in sorted(out.glob("*-*.jsonl.gz")):
        with gzip.open(shard, "rt", encoding="utf-8") as f:
            rows += [json.loads(line) for line in f]
    return rows


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*-*.jsonl.gz"))}


def test_keeps_and_drops_with_reasons(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stats = build_corpus(make_config(tree, out))
    kept = sorted({row["path"] for row in read_examples(out)})
    assert kept == ["mitpkg/mitpkg/__init__.py", "mitpkg/mitpkg/inventory.py", "mitpkg/mitpkg/shapes.py"]
    assert stats.dropped == {
        "binary": 1,  # blob.py
        "contaminated": 1,  # leak.py
        "duplicate": 2,  # inventory_copy.py, zz_link_in.py (a symlink inside the tree)
        "generated": 2,  # messages_pb2.py (name), tables.py (header)
        "license": 2,  # gplpkg (GPL), nolicense (unknown)
        "minified": 1,
        "near_duplicate": 1,  # inventory_near.py
        "non_utf8": 1,  # latin1.py
        "symlink_outside": 1,  # link_out.py
        "too_small": 1,  # empty_init.py
    }
    assert stats.contaminated == ["tree:mitpkg/mitpkg/leak.py"]
    assert stats.files_seen == stats.files_kept + sum(stats.dropped.values())
    assert not any("secret" in row["text"] for row in read_examples(out))  # the symlinked dir is not walked

    ledger = json.loads((out / "licenses.json").read_text())
    assert list(ledger["kept"]) == ["MIT"]
    assert ledger["kept"]["MIT"]["files"] == 3
    assert ledger["kept"]["MIT"]["sources"] == {"tree": 3}
    assert ledger["excluded_files"] == {"GPL": 1, "unknown": 1}


def test_unknown_license_allowed_by_flag(tree: Path, tmp_path: Path) -> None:
    stats = build_corpus(make_config(tree, tmp_path / "out", allow_unknown_license=True))
    assert stats.dropped["license"] == 1
    assert "nolicense/thing.py" in {row["path"] for row in read_examples(tmp_path / "out")}


def test_examples_have_valid_spans(tree: Path, tmp_path: Path) -> None:
    config = make_config(tree, tmp_path / "out", max_span_chars=120, chunk_chars=300, max_spans=4)
    build_corpus(config)
    rows = read_examples(tmp_path / "out")
    assert len(rows) > 10
    kinds_seen: set[str] = set()
    for row in rows:
        assert set(row) == {"text", "spans", "kinds", "path", "source", "license", "lang"}
        assert (row["source"], row["license"], row["lang"]) == ("tree", "MIT", "python")
        text, spans = row["text"], row["spans"]
        assert 0 < len(text) <= config.chunk_chars
        assert 1 <= len(spans) <= config.max_spans and len(spans) == len(row["kinds"])
        for (start, end), kind in zip(spans, row["kinds"], strict=True):
            assert 0 <= start < end <= len(text)
            assert end - start <= config.max_span_chars and end - start < len(text)
            if kind in {"line", "statements", "block", "definition", "function_body", "random_lines"}:
                assert start == 0 or text[start - 1] == "\n", (kind, text[start:end])
                assert end == len(text) or text[end - 1] == "\n", (kind, text[start:end])
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert end < start  # sorted, non-overlapping, not touching
        kinds_seen.update(row["kinds"])
    assert {"line", "expression", "arguments"} <= kinds_seen
    assert kinds_seen & set(RANDOM_KINDS)


@pytest.mark.parametrize(("mode", "allowed"), [(SpanMode.RANDOM, set(RANDOM_KINDS)), (SpanMode.AST, SYNTAX_KINDS)])
def test_span_mode(tree: Path, tmp_path: Path, mode: SpanMode, allowed: set[str]) -> None:
    build_corpus(make_config(tree, tmp_path / "out", span_mode=mode))
    kinds = {k for row in read_examples(tmp_path / "out") for k in row["kinds"]}
    assert kinds and kinds <= allowed


def splitting_val_fraction(tree: Path) -> float:
    """A val fraction that puts some but not all kept fixture files in val (the split is by content hash)."""
    pkg = tree / "mitpkg" / "mitpkg"
    texts = [(pkg / n).read_text() for n in ("__init__.py", "inventory.py", "shapes.py")]
    points = sorted(int(content_hash(t)[:16], 16) / 2**64 for t in texts)
    return (points[0] + points[-1]) / 2


def test_deterministic_across_runs_and_workers(tree: Path, tmp_path: Path) -> None:
    val = splitting_val_fraction(tree)
    build_corpus(make_config(tree, tmp_path / "a", workers=1, val_fraction=val))
    build_corpus(make_config(tree, tmp_path / "b", workers=2, val_fraction=val))
    first, second = shard_bytes(tmp_path / "a"), shard_bytes(tmp_path / "b")
    assert first == second
    assert any(n.startswith("val-") for n in first) and any(n.startswith("train-") for n in first)
    build_corpus(make_config(tree, tmp_path / "c", seed=1, val_fraction=val))
    assert shard_bytes(tmp_path / "c") != first


def test_stats_consistent(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stats = build_corpus(make_config(tree, out))
    rows = read_examples(out)
    saved = json.loads((out / "stats.json").read_text())
    assert saved["files_kept"] == stats.files_kept == 3
    assert sum(stats.examples_by_split.values()) == len(rows)
    assert stats.chunks == len(rows) + stats.chunks_without_spans
    assert stats.spans == sum(len(r["spans"]) for r in rows) == sum(stats.spans_by_kind.values())
    assert sum(stats.example_bytes_by_split.values()) == sum(len(r["text"].encode()) for r in rows)
    assert stats.estimated_tokens_kept_files == round(stats.bytes_kept / 3.5)
    assert "estimate" in stats.token_estimate_method
    assert json.loads((out / "config.json").read_text())["chunk_chars"] == 600
    assert not list(out.glob("*.tmp-*"))


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("with_val", [False, True])
def test_resume_after_interruption_gives_same_result(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_val: bool
) -> None:
    val = splitting_val_fraction(tree) if with_val else 0.0
    reference = make_config(tree, tmp_path / "ref", shard_size=2, val_fraction=val)
    ref_stats = build_corpus(reference)
    assert len(shard_bytes(tmp_path / "ref")) >= 4

    config = dataclasses.replace(reference, out_dir=str(tmp_path / "run"))
    original = SplitWriter.flush
    calls = {"n": 0}

    def flaky_flush(self: SplitWriter) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Interrupted
        original(self)

    monkeypatch.setattr(SplitWriter, "flush", flaky_flush)
    with pytest.raises(Interrupted):
        build_corpus(config)
    monkeypatch.setattr(SplitWriter, "flush", original)
    (tmp_path / "run" / "train-00009.jsonl.gz.tmp-1").write_bytes(b"partial")  # a torn write
    progress = json.loads((tmp_path / "run" / "progress.json").read_text())
    assert not progress["complete"] and len(progress["splits"]["train"]["shards"]) == 2

    with pytest.raises(CorpusError, match="--resume"):
        build_corpus(config)

    made: list[str] = []
    make_examples = worker.make_examples

    def counting(text: str, spec: object, info: FileInfo, *args: object) -> object:
        made.append(info.path)
        return make_examples(text, spec, info, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(worker, "make_examples", counting)
    stats = build_corpus(dataclasses.replace(config, resume=True))
    if not with_val:  # the first file was fully written before the interruption: its examples are not redone
        assert "mitpkg/mitpkg/__init__.py" not in made and "mitpkg/mitpkg/shapes.py" in made
    assert shard_bytes(tmp_path / "run") == shard_bytes(tmp_path / "ref")
    assert not list((tmp_path / "run").glob("*.tmp-*"))
    assert dataclasses.replace(stats, elapsed_s=0) == dataclasses.replace(ref_stats, elapsed_s=0)

    again = build_corpus(dataclasses.replace(config, resume=True, workers=2))  # resuming a finished run
    assert shard_bytes(tmp_path / "run") == shard_bytes(tmp_path / "ref")
    assert dataclasses.replace(again, elapsed_s=0) == dataclasses.replace(ref_stats, elapsed_s=0)
    with pytest.raises(CorpusError, match="config changed"):
        build_corpus(dataclasses.replace(config, resume=True, seed=7))


def test_cli_entry_point(tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_corpus_arguments(parser)
    out = tmp_path / "cli"
    args = parser.parse_args(
        [
            str(tree),
            "--out",
            str(out),
            "--decontaminate",
            str(BENCH.parent),
            "--workers",
            "1",
            "--no-progress",
            "--span-mode",
            "random",
            "--chunk-chars",
            "800",
        ]
    )
    assert run_corpus(args) == 0
    assert "3/" in capsys.readouterr().err
    assert json.loads((out / "config.json").read_text())["span_mode"] == "random"
    bad = parser.parse_args([str(tmp_path / "missing"), "--out", str(tmp_path / "x"), "--no-progress"])
    assert run_corpus(bad) == 2
    assert "not a directory" in capsys.readouterr().err


def test_refusals_say_how_to_resume_or_start_over(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    config = make_config(tree, out)
    build_corpus(config)
    with pytest.raises(CorpusError) as finished:
        build_corpus(config)
    assert str(finished.value) == (
        f"{out} already holds a corpus; pass --overwrite to replace it (--resume only rewrites its stats)"
    )
    (out / "progress.json").unlink()
    with pytest.raises(CorpusError, match=r"cannot resume .*: it has no progress\.json; pass --overwrite to start"):
        build_corpus(dataclasses.replace(config, resume=True))
    build_corpus(dataclasses.replace(config, overwrite=True))
    progress = json.loads((out / "progress.json").read_text())
    progress["complete"] = False
    (out / "progress.json").write_text(json.dumps(progress))
    with pytest.raises(CorpusError) as interrupted:
        build_corpus(config)
    assert str(interrupted.value) == (
        f"{out} holds an interrupted corpus build; pass --resume to continue it or --overwrite to start over"
    )


def test_resume_with_only_temporaries_starts_fresh(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "progress.json.tmp-77").write_bytes(b"{")  # killed before its first progress record landed
    with pytest.raises(CorpusError, match="--resume to continue it or --overwrite"):
        build_corpus(make_config(tree, out))
    stats = build_corpus(make_config(tree, out, resume=True))
    assert stats.files_kept == 3 and not list(out.glob("*.tmp-*"))
