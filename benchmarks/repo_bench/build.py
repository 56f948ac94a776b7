"""Building the benchmark: fetch and admit each pinned project, split it, cut tasks, write files and the manifest."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks.repo_bench.cut import CutConfig, cut_file
from benchmarks.repo_bench.errors import RepoBenchError
from benchmarks.repo_bench.licenses import (
    check_not_in_corpus,
    corpus_sources,
    find_corpus_licenses,
    verify_license,
)
from benchmarks.repo_bench.projects import Project
from benchmarks.repo_bench.sdist import SourceTree, fetch_sdist, read_sdist
from benchmarks.repo_bench.split import Split, decode, split_files, top_level_packages, write_split
from benchmarks.repo_bench.taskfile import Kind, RepoTask, write_tasks

log = logging.getLogger("repo_bench")

REPO_ROOT = Path(__file__).resolve().parents[2]
FILE_RANGE = (20, 150)  # .py files of a moderate project
BYTES_RANGE = (300_000, 3_000_000)  # bytes of Python
HUMANEVAL_MARKERS = (b"humaneval", b"has_close_elements")


@dataclass(frozen=True)
class BuildConfig:
    """Where the benchmark goes and how it is drawn."""

    out: Path
    seed: int = 0
    eval_share: float = 0.2
    download_dir: Path | None = None  # default: OUT/sdists
    corpus_licenses: Path | None = None  # default: the bundled model's corpus_licenses.json
    cut: CutConfig = field(default_factory=CutConfig)


def build(projects: Sequence[Project], config: BuildConfig) -> dict[str, Any]:
    """Build the benchmark under ``config.out`` and return its manifest (also written as ``manifest.json``)."""
    corpus_path = config.corpus_licenses or find_corpus_licenses(REPO_ROOT)
    corpus = corpus_sources(corpus_path)
    download_dir = config.download_dir or config.out / "sdists"
    entries: list[dict[str, Any]] = []
    tasks: list[RepoTask] = []
    for project in tqdm(projects, desc="projects", unit="project"):
        check_not_in_corpus([project.name], corpus, project.name)
        sdist = fetch_sdist(project, download_dir)
        tree = read_sdist(sdist)
        license_files = admit(project, tree, corpus)
        split = split_files(tree.python, project.name, config.seed, config.eval_share)
        write_split(config.out / project.name, split, tree.python, tree.licenses)
        cut = cut_project(project.name, split, tree.python, config)
        entries.append(project_entry(project, tree, split, license_files, cut))
        tasks += cut
    files = write_task_files(config.out, tasks)
    manifest = {
        "benchmark": "repo-bench",
        "seed": config.seed,
        "eval_share": config.eval_share,
        "cut": asdict(config.cut),
        "corpus_licenses": _display(corpus_path),
        "projects": entries,
        "tasks": count_kinds(tasks),
        "files": files,
    }
    (config.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def admit(project: Project, tree: SourceTree, corpus: set[str]) -> dict[str, str]:
    """Refuse a project whose metadata, license, packages or contents disqualify it; returns its license files."""
    metadata = tree.metadata
    name, version = metadata.get("Name", ""), metadata.get("Version", "")
    if (name.lower(), version) != (project.name.lower(), project.version):
        raise RepoBenchError(f"{project.sdist}: metadata says {name} {version}, the pin {project.requirement}")
    try:
        license_files = verify_license(project.license, metadata, tree.licenses)
    except RepoBenchError as exc:
        raise RepoBenchError(f"{project.requirement}: {exc}") from exc
    packages = top_level_packages(tree.python)
    if not packages:
        raise RepoBenchError(f"{project.requirement}: no top-level package (pkg/__init__.py or src/pkg/__init__.py)")
    check_not_in_corpus(packages, corpus, project.name)
    vendored = [p for p, data in tree.python.items() if any(m in data.lower() for m in HUMANEVAL_MARKERS)]
    if vendored:
        raise RepoBenchError(f"{project.requirement}: mentions HumanEval in {vendored[:3]}; refused")
    files, size = len(tree.python), sum(len(d) for d in tree.python.values())
    if not (FILE_RANGE[0] <= files <= FILE_RANGE[1] and BYTES_RANGE[0] <= size <= BYTES_RANGE[1]):
        log.warning("%s: %d .py files, %d bytes: outside the moderate size range", project.requirement, files, size)
    return license_files


def cut_project(repo: str, split: Split, files: Mapping[str, bytes], config: BuildConfig) -> list[RepoTask]:
    """The tasks of a project's evaluation files, each file checked to come back whole from every task."""
    tasks: list[RepoTask] = []
    for path in split.eval:
        text = decode(files[path])
        if text is None:  # eligibility already required UTF-8 text
            raise RepoBenchError(f"{repo}/{path}: not UTF-8 text with \\n line endings")
        cut = cut_file(text, repo, path, config.seed, config.cut)
        if any(t.text != text for t in cut):
            raise RepoBenchError(f"{repo}/{path}: a task does not put the file back together")
        tasks += cut
    return tasks


def project_entry(
    project: Project, tree: SourceTree, split: Split, license_files: Mapping[str, str], tasks: Sequence[RepoTask]
) -> dict[str, Any]:
    """A project's record in the manifest."""
    return {
        "name": project.name,
        "version": project.version,
        "license": project.license,
        "license_files": dict(license_files),
        "sdist": project.sdist,
        "sha256": project.sha256,
        "python_files": len(tree.python),
        "python_bytes": sum(len(d) for d in tree.python.values()),
        "workspace": list(split.workspace),
        "eval": list(split.eval),
        "tasks": count_kinds(tasks),
    }


def count_kinds(tasks: Sequence[RepoTask]) -> dict[str, int]:
    counts = Counter(t.kind for t in tasks)
    return {**{k.value: counts[k.value] for k in Kind}, "total": len(tasks)}


def write_task_files(out: Path, tasks: Sequence[RepoTask]) -> dict[str, str]:
    """``tasks.jsonl`` with every task and ``tasks-<kind>.jsonl`` per kind; returns their names by kind."""
    files = {"all": "tasks.jsonl"}
    write_tasks(out / files["all"], tasks)
    for kind in Kind:
        files[kind.value] = f"tasks-{kind.value}.jsonl"
        write_tasks(out / files[kind.value], [t for t in tasks if t.kind == kind.value])
    return files


def summary_table(manifest: Mapping[str, Any]) -> str:
    """The projects as a Markdown table: license, files, the split and the tasks per kind."""
    kinds = [k.value for k in Kind]
    rows = [
        "| project | version | license | .py files | workspace / eval | " + " | ".join(kinds) + " | tasks |",
        "|---|---|---|---|---|" + "---|" * len(kinds) + "---|",
    ]
    for p in manifest["projects"]:
        counts = " | ".join(str(p["tasks"][k]) for k in kinds)
        rows.append(
            f"| {p['name']} | {p['version']} | {p['license']} | {p['python_files']} "
            f"| {len(p['workspace'])} / {len(p['eval'])} | {counts} | {p['tasks']['total']} |"
        )
    total = manifest["tasks"]
    rows.append(f"| **all** | | | | | {' | '.join(str(total[k]) for k in kinds)} | {total['total']} |")
    return "\n".join(rows)


def _display(path: Path) -> str:
    """A path relative to the repository when it lies inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
