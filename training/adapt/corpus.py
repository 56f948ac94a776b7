"""A workspace's own code as training examples: its files (``diffill.retrieval.files``), the corpus builder's
content filters and span selection, a file-level held-out split, and optional replay of standard-library code.

What was read is recorded (``Manifest``: each file's path and content hash), so the server can tell later
how much of the workspace has changed since (``diffill.retrieval.files.changed_share``).
"""

from __future__ import annotations

import hashlib
import random
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

from diffill.retrieval.files import content_hash, workspace_files
from training.corpus.config import CorpusConfig, SpanMode
from training.corpus.examples import FileInfo, file_rng, make_examples
from training.corpus.filters import TextLimits, read_text
from training.corpus.languages import extension_map
from training.corpus.spans import SpanSettings

STDLIB_SKIP = ("test", "idlelib", "lib2to3", "tkinter", "turtledemo", "site-packages", "ensurepip")


@dataclass
class Manifest:
    """The files an adaptation learned from (relative path -> content hash) and what was left out."""

    files: dict[str, str] = field(default_factory=dict)
    holdout: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # path -> reason


@dataclass
class Examples:
    """Corpus-format example records (``{"text", "spans", ...}``) for training and for the held-out check."""

    train: list[dict]
    holdout: list[dict]
    replay: list[dict]
    manifest: Manifest
    source_bytes: int


def _settings(config: CorpusConfig) -> tuple[TextLimits, SpanSettings]:
    limits = TextLimits(config.max_file_bytes, config.min_file_chars, config.max_line_chars, config.max_avg_line_chars)
    spans = SpanSettings(SpanMode(config.span_mode), config.max_spans, config.max_span_chars, config.random_span_prob)
    return limits, spans


def _records(path: Path, rel: str, source: str, chunk_chars: int, seed: int) -> tuple[list[dict], str | None, str]:
    """(example records, drop reason, text) of one file."""
    import json

    config = CorpusConfig(sources=(source,), out_dir="-", chunk_chars=chunk_chars, seed=seed)
    limits, spans = _settings(config)
    text, drop = read_text(str(path), rel, limits)
    if text is None:
        return [], drop.value if drop is not None else "unreadable", ""
    spec = extension_map(["python"])[".py"]
    info = FileInfo(rel, source, "workspace", spec.name)
    examples, _ = make_examples(text, spec, info, chunk_chars, spans, file_rng(seed, content_hash(text)))
    return [json.loads(e.line) for e in examples], None, text


def is_holdout(rel: str, share: float, seed: int) -> bool:
    """A file's side of the split: fixed by its path and the seed, not by the order files are found in."""
    digest = hashlib.blake2b(f"{seed}:{rel}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 < share


def workspace_examples(root: Path, holdout: float, chunk_chars: int, seed: int) -> Examples:
    """Examples from every usable file of ``root``; ``holdout`` of the files (at least one when there are three
    or more) are kept apart for the stopping check."""
    root = root.resolve()
    files = workspace_files(root)
    rels = [p.relative_to(root).as_posix() for p in files]
    held = {r for r in rels if is_holdout(r, holdout, seed)}
    if holdout > 0 and not held and len(rels) >= 3:
        held = {min(rels, key=lambda r: hashlib.blake2b(f"{seed}:{r}".encode()).hexdigest())}
    if len(held) == len(rels):
        held = set()
    manifest = Manifest(holdout=sorted(held))
    train: list[dict] = []
    kept: list[dict] = []
    size = 0
    for path, rel in zip(files, rels):
        records, drop, text = _records(path, rel, "workspace", chunk_chars, seed)
        if drop is not None:
            manifest.dropped[rel] = drop
            continue
        manifest.files[rel] = content_hash(text)
        size += len(text.encode("utf-8"))
        (kept if rel in held else train).extend(records)
    return Examples(train, kept, [], manifest, size)


def replay_examples(files: int, chunk_chars: int, seed: int) -> list[dict]:
    """Examples from ``files`` standard-library modules, sampled with ``seed`` (code of the kind the base model
    learned from, mixed in to keep what it knew)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    candidates = sorted(
        p for p in root.rglob("*.py") if not any(part in STDLIB_SKIP for part in p.relative_to(root).parts)
    )
    chosen = random.Random(seed).sample(candidates, min(files, len(candidates)))
    out: list[dict] = []
    for path in chosen:
        records, _, _ = _records(path, path.relative_to(root).as_posix(), "stdlib", chunk_chars, seed)
        out.extend(records)
    return out
