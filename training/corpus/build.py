"""`build_corpus`: walk sources -> license check -> per-file work in a pool -> dedup -> split -> shards.

The parent process consumes worker results in file order, so dedup ("first file wins"), the split and the
shard contents are the same for any number of workers.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from training.corpus import licenses
from training.corpus.config import CorpusConfig
from training.corpus.decontam import NgramIndex
from training.corpus.dedup import NearDuplicateIndex
from training.corpus.errors import CorpusError
from training.corpus.filters import Drop
from training.corpus.languages import extension_map
from training.corpus.sources import SourceFile, collect_sources
from training.corpus.stats import CorpusStats, Tally
from training.corpus.worker import FileProcessor, FileResult, init_worker, process_in_worker
from training.corpus.writer import ShardSet, open_output, write_json


def license_allowed(license_id: str | None, config: CorpusConfig) -> bool:
    """Whether files under this license go into the corpus."""
    found = licenses.category(license_id)
    if found is licenses.Category.PERMISSIVE:
        return True
    if found is licenses.Category.WEAK_COPYLEFT:
        return config.allow_weak_copyleft
    if found is licenses.Category.UNKNOWN:
        return config.allow_unknown_license
    return False


def inputs_digest(files: list[SourceFile]) -> str:
    """A fingerprint of the candidate file list, so a resume notices changed inputs."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.source}\t{f.rel}\t{f.license}\t{f.lang}\n".encode())
    return f"{len(files)}:{h.hexdigest()}"


@contextmanager
def ordered_results(
    files: list[SourceFile], config: CorpusConfig, ngrams: NgramIndex, skip_before: dict[str, int]
) -> Iterator[Iterator[FileResult]]:
    """Results for the files, in order, from a process pool (or in-process for one worker)."""
    workers = min(config.workers or os.cpu_count() or 1, max(1, len(files)))
    if workers == 1:
        processor = FileProcessor(config, ngrams, skip_before)
        yield (processor(f) for f in files)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(workers, initializer=init_worker, initargs=(config, ngrams, skip_before)) as pool:
        yield pool.imap(process_in_worker, files, chunksize=2)


class Builder:
    """One build: holds the running tallies and dedup indexes."""

    def __init__(self, config: CorpusConfig) -> None:
        self.config = config
        self.tally = Tally()
        self.hashes: set[str] = set()
        self.near = NearDuplicateIndex(config.minhash_perms, config.near_dup_threshold)

    def prefilter(self, files: list[SourceFile]) -> list[SourceFile]:
        """Count every file as seen; drop those excluded without reading them (symlink, license)."""
        kept = []
        for file in files:
            self.tally.seen(file)
            if file.outside_symlink:
                self.tally.drop(file, Drop.SYMLINK_OUTSIDE)
            elif not license_allowed(file.license, self.config):
                self.tally.drop(file, Drop.LICENSE)
            else:
                kept.append(file)
        return kept

    def accept(self, file: SourceFile, result: FileResult, shards: ShardSet) -> None:
        """Dedup a processed file against earlier ones; route a kept file's examples to its split."""
        if result.drop is not None:
            self.tally.drop(file, result.drop)
            return
        assert result.sha is not None
        if result.sha in self.hashes:
            self.tally.drop(file, Drop.DUPLICATE)
            return
        if result.signature is not None and self.near.find(result.signature) is not None:
            self.tally.drop(file, Drop.NEAR_DUPLICATE)
            return
        self.hashes.add(result.sha)
        if result.signature is not None:
            self.near.add(result.signature)
        self.tally.keep(file, result.nbytes, result.split)
        shards.add(result.split, file.index, result.examples, result.empty_chunks)


def build_corpus(config: CorpusConfig) -> CorpusStats:
    """Build the corpus described by `config` into `config.out_dir`; returns the stats it also writes."""
    started = time.monotonic()
    try:
        extensions = extension_map(config.languages)
    except ValueError as err:
        raise CorpusError(str(err)) from err
    files, walk_counts = collect_sources(config.sources, extensions)
    ngrams = NgramIndex.from_paths(config.decontaminate, config.decontam_ngram)
    if config.decontaminate and not len(ngrams):
        raise CorpusError("the decontamination sources gave no n-grams; check --decontaminate and --decontam-ngram")
    out = config.out_dir
    shards = open_output(
        out, config.shard_size, config.identity(), inputs_digest(files), config.resume, config.overwrite
    )
    write_json(os.path.join(out, "config.json"), config.to_json())
    builder = Builder(config)
    todo = builder.prefilter(files)
    bar = tqdm(total=len(todo), file=sys.stderr, disable=not config.progress, unit="file", desc="corpus")
    with ordered_results(todo, config, ngrams, shards.skip_before()) as results:
        for file, result in zip(todo, results, strict=True):
            builder.accept(file, result, shards)
            bar.update()
    bar.close()
    written = shards.finish()
    stats = builder.tally.finish(
        written, shards.empty_chunks, walk_counts.ignored_extension, time.monotonic() - started
    )
    write_json(os.path.join(out, "licenses.json"), builder.tally.license_ledger())
    write_json(os.path.join(out, "stats.json"), stats.to_json())
    return stats
