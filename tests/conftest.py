"""Shared fixtures: a tiny tokenizer trained here, a tiny corpus, and paths to real data."""

from __future__ import annotations

import gzip
import json
import logging
import random
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from training.benchmarks import benchmarks_root

if TYPE_CHECKING:
    from training.modeling import ModelConfig

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = benchmarks_root()  # $DIFFILL_BENCHMARKS or ../shared/benchmarks/humaneval-infilling
NO_BENCHMARKS = (
    f"HumanEval-infilling not found at {BENCHMARKS}: get its *.jsonl.gz files from "
    "github.com/openai/human-eval-infilling and set DIFFILL_BENCHMARKS to their folder"
)


def stdlib_texts(n: int = 40) -> list[str]:
    """A few standard-library modules: real code to train tiny things on."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"))[:n]
    return [p.read_text(encoding="utf-8", errors="ignore") for p in files]


def write_corpus(directory: Path, texts: list[str], seed: int = 0) -> Path:
    """A corpus in the `diffill-train corpus` format: chunks with one whole-line span each."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for text in texts:
        lines = text.splitlines(keepends=True)
        for lo in range(0, len(lines) - 4, 30):
            chunk = lines[lo : lo + 30]
            i = rng.randrange(1, len(chunk) - 1)
            start = sum(len(s) for s in chunk[:i])
            rows.append({"text": "".join(chunk), "spans": [[start, start + len(chunk[i])]], "kinds": ["line"]})
    with gzip.open(directory / "train-00000.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    return directory


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Undo what a test did to logging in-process: servers and CLIs call `logging.basicConfig(force=True)`,
    and import-linter's configuration disables every logger that exists when it runs."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    loggers = {
        name: lg.disabled for name, lg in logging.root.manager.loggerDict.items() if isinstance(lg, logging.Logger)
    }
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    for name, lg in logging.root.manager.loggerDict.items():
        if isinstance(lg, logging.Logger):
            lg.disabled = loggers.get(name, False)


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.tokenizer import save_tokenizer, train_tokenizer

    out = tmp_path_factory.mktemp("tokenizer")
    save_tokenizer(train_tokenizer(stdlib_texts(), vocab_size=600, max_length=256), out)
    return out


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"), stdlib_texts(12))


def save_tiny_model(tokenizer_dir: Path, out: Path, seed: int = 0, config: ModelConfig | None = None) -> Path:
    """A loadable checkpoint of random weights (by default ModernBERT, 32 hidden, 1 layer): its text is gibberish."""
    import torch
    from transformers import AutoTokenizer

    from training.modeling import ModelConfig, new_model

    config = config or ModelConfig(hidden=32, layers=1, heads=1, intermediate=64, max_length=256)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.model_max_length = config.max_length
    torch.manual_seed(seed)
    model = new_model(config, tokenizer)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """A tiny random checkpoint for plumbing tests of the server (assert structure, not content)."""
    return save_tiny_model(tiny_tokenizer_dir, tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def slow_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer_dir: Path) -> Path:
    """A random checkpoint with a 512-token window: a 256-token hole takes 256 steps, long enough to stop."""
    from training.modeling import ModelConfig

    config = ModelConfig(hidden=64, layers=2, heads=2, intermediate=128, max_length=512)
    return save_tiny_model(tiny_tokenizer_dir, tmp_path_factory.mktemp("slow-model"), config=config)


@pytest.fixture
def made_caches(monkeypatch: pytest.MonkeyPatch) -> list:
    """Every logits function (a ``ContextCache`` when the cache is on) that fills make during a test, in order."""
    from diffill.context_cache import CacheConfig

    made: list = []
    original = CacheConfig.logits_fn

    def spy(self, model, slot=None):
        fn = original(self, model, slot)
        made.append(fn)
        return fn

    monkeypatch.setattr(CacheConfig, "logits_fn", spy)
    return made
