"""Decontamination against evaluation sets: drop files sharing a long whitespace-token n-gram with them.

The evaluation texts are HumanEval-infilling style tasks (``prompt``, ``canonical_solution``, ``suffix``,
``test``); each task contributes the whole program (prompt + solution + suffix) and its test code. N-grams
made almost only of numbers and punctuation (test data such as ``[2, 3, 5, 7, 11, ...``) are left out of
the index: they match unrelated files.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from diffill.tasks import TaskFileError as BenchmarkError
from diffill.tasks import read_jsonl
from training.corpus.dedup import rolling_hashes, token_ids
from training.corpus.errors import CorpusError

TASK_SUFFIXES = (".jsonl", ".jsonl.gz")
MIN_WORD_TOKENS = 3  # n-grams of mostly numbers/punctuation ("[2, 3, 5, 7, 11, ...") match too much


def _task_files(path: str) -> list[str]:
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith(TASK_SUFFIXES))
        if not names:
            raise CorpusError(f"decontamination dir {path!r} holds no .jsonl or .jsonl.gz files")
        return [os.path.join(path, n) for n in names]
    if os.path.isfile(path) and path.endswith(TASK_SUFFIXES):
        return [path]
    raise CorpusError(f"decontamination source {path!r} is not a dir or a .jsonl[.gz] file")


def _records(path: str) -> Iterator[dict[str, object]]:
    try:
        for _, record in read_jsonl(path):
            yield record
    except BenchmarkError as err:
        raise CorpusError(str(err)) from err


def evaluation_texts(paths: Iterable[str]) -> list[str]:
    """Distinct program and test texts of all tasks in the given dirs/files."""
    texts: dict[str, None] = {}
    for path in paths:
        for file in _task_files(path):
            for record in _records(file):
                program = "".join(str(record.get(k) or "") for k in ("prompt", "canonical_solution", "suffix"))
                for text in (program, str(record.get("test") or "")):
                    if text.strip():
                        texts.setdefault(text, None)
    return list(texts)


def _wordy(tokens: list[str]) -> bool:
    return sum(any(ch.isalpha() for ch in t) for t in tokens) >= min(MIN_WORD_TOKENS, len(tokens))


def ngram_hashes(text: str, n: int) -> np.ndarray:
    """64-bit hashes of every n-gram of whitespace-separated tokens."""
    return rolling_hashes(token_ids(text.split()), n)


def evaluation_hashes(text: str, n: int) -> np.ndarray:
    """The n-gram hashes of an evaluation text, leaving out n-grams with too few word tokens."""
    tokens = text.split()
    hashes = rolling_hashes(token_ids(tokens), n)
    keep = [_wordy(tokens[i : i + n]) for i in range(len(hashes))]
    return hashes[np.array(keep, dtype=bool)] if len(hashes) else hashes


class NgramIndex:
    """The n-grams of the evaluation texts; `contaminated(text)` tells whether a file shares one."""

    def __init__(self, texts: Iterable[str], n: int) -> None:
        self.n = n
        parts = [evaluation_hashes(t, n) for t in texts]
        self.keys: np.ndarray = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.keys)

    def contaminated(self, text: str) -> bool:
        if not len(self.keys):
            return False
        hashes = ngram_hashes(text, self.n)
        where = np.minimum(np.searchsorted(self.keys, hashes), len(self.keys) - 1)
        return bool((self.keys[where] == hashes).any())

    @classmethod
    def from_paths(cls, paths: Iterable[str], n: int) -> NgramIndex:
        return cls(evaluation_texts(paths), n)
