"""The repository benchmark: admission checks, the file split, task cutting and the scorer, on fixture files."""

from __future__ import annotations

import ast
import io
import json
import tarfile
import textwrap
from pathlib import Path

import pytest

from benchmarks.repo_bench.build import BuildConfig, build
from benchmarks.repo_bench.cli import main
from benchmarks.repo_bench.cut import CutConfig, Source, cut_file, function_bodies, string_lines
from benchmarks.repo_bench.errors import RepoBenchError
from benchmarks.repo_bench.licenses import check_not_in_corpus, corpus_sources, text_license, verify_license
from benchmarks.repo_bench.projects import Project
from benchmarks.repo_bench.score import edit_similarity, exact_match, normalize, score
from benchmarks.repo_bench.sdist import check_sha256, fetch_sdist, read_sdist, sha256_of
from benchmarks.repo_bench.split import is_library, split_files, top_level_packages, write_split
from benchmarks.repo_bench.taskfile import Kind, RepoTask, load_tasks

MIT = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software ..."
BSD3 = (
    "Redistribution and use in source and binary forms, with or without modification, are permitted ...\n"
    "Neither the name of the copyright holder nor the names of its contributors may be used to endorse or\n"
    "promote products derived from this software without specific prior written permission."
)

MODULE = '''\
"""Module {n}: helpers with docstrings, strings, comments and brackets."""

import os

CONSTANT_{n} = {{
    "alpha": 1,
    "beta": 2,
}}


def first_{n}(items, key=None):
    """Return the first item.

    A docstring line that is long enough to be picked.
    """
    # a comment line that is long enough to be picked
    result = None
    for item in items:
        if key is None or key(item):
            result = item
            break
    text = """a multi-line
    string literal inside code"""
    return result, text


class Box{n}:
    """A box holding a value: caf\u00e9."""

    def __init__(self, value):
        self.value = value; self.size = len(str(value))  # two statements on one line
        self.name = "caf\u00e9 {n}"

    @property
    def doubled(self):
        total = self.value * 2
        label = f"{{self.name}}: {{total}}"
        return (
            label,
            total,
        )

    def stub(self): ...
'''


def project_files(modules: int = 6) -> dict[str, bytes]:
    files = {f"pkg/mod{n}.py": MODULE.format(n=n).encode() for n in range(modules)}
    files["pkg/__init__.py"] = b'"""The package."""\n'
    files["pkg/tests/test_mod.py"] = MODULE.format(n=99).encode()
    files["tests/test_more.py"] = MODULE.format(n=98).encode()
    files["docs/conf.py"] = MODULE.format(n=97).encode()
    files["setup.py"] = b"from setuptools import setup\n\nsetup()\n"
    return files


# --- split --------------------------------------------------------------------------------------


def test_library_files_exclude_tests_docs_and_tooling() -> None:
    files = project_files()
    packages = top_level_packages(files)
    assert packages == {"pkg"}
    assert is_library("pkg/mod1.py", packages)
    assert is_library("src/pkg/mod1.py", {"pkg"})
    for path in ("pkg/tests/test_mod.py", "tests/test_more.py", "docs/conf.py", "setup.py", "pkg/test_x.py"):
        assert not is_library(path, packages), path


def test_split_never_puts_an_eval_file_in_the_workspace(tmp_path: Path) -> None:
    files = project_files()
    split = split_files(files, "demo", seed=0)
    assert set(split.workspace) | set(split.eval) == set(files)
    assert not set(split.workspace) & set(split.eval)
    assert len(split.eval) == round(0.2 * len(files))
    assert all(p.startswith("pkg/mod") for p in split.eval)  # library files with functions only
    (tmp_path / "demo" / "workspace" / split.eval[0]).parent.mkdir(parents=True)
    (tmp_path / "demo" / "workspace" / split.eval[0]).write_text("stale")  # left over from another seed
    write_split(tmp_path / "demo", split, files, {"LICENSE": MIT.encode()})
    workspace = {
        p.relative_to(tmp_path / "demo" / "workspace").as_posix()
        for p in (tmp_path / "demo" / "workspace").rglob("*")
        if p.is_file()
    }
    evaluation = {
        p.relative_to(tmp_path / "demo" / "eval").as_posix()
        for p in (tmp_path / "demo" / "eval").rglob("*")
        if p.is_file()
    }
    assert workspace == {*split.workspace, "LICENSE"}
    assert evaluation == {*split.eval, "LICENSE"}
    assert (tmp_path / "demo" / "eval" / split.eval[0]).read_bytes() == files[split.eval[0]]


def test_split_is_deterministic_and_seeded() -> None:
    files = project_files(modules=10)
    assert split_files(files, "demo", seed=0) == split_files(dict(reversed(files.items())), "demo", seed=0)
    draws = {split_files(files, "demo", seed=s).eval for s in range(5)}
    assert len(draws) > 1


# --- cutting ------------------------------------------------------------------------------------


def cut(seed: int = 0, config: CutConfig | None = None) -> tuple[str, list[RepoTask]]:
    text = MODULE.format(n=1)
    return text, cut_file(text, "demo", "pkg/mod1.py", seed, config)


def test_every_task_puts_the_file_back_together() -> None:
    text, tasks = cut()
    assert {t.kind for t in tasks} == {k.value for k in Kind}
    assert len({t.task_id for t in tasks}) == len(tasks)
    for t in tasks:
        assert t.prompt + t.canonical_solution + t.suffix == text
        assert t.task_id.startswith(f"repo/demo/pkg/mod1.py/{t.kind}/")
        assert (t.repo, t.path) == ("demo", "pkg/mod1.py")


def test_cutting_is_deterministic_and_capped() -> None:
    config = CutConfig(single_line=3, multi_line=2, random_span=2)
    assert cut(0, config)[1] == cut(0, config)[1]
    assert cut(0, config)[1] != cut(1, config)[1]
    counts = {k.value: sum(t.kind == k.value for t in cut(0, config)[1]) for k in Kind}
    assert counts == {"single-line": 3, "multi-line": 2, "random-span": 2}


def test_single_line_tasks_are_code_lines() -> None:
    text, _ = cut()
    tasks = [t for s in range(10) for t in cut(s, CutConfig(single_line=100))[1] if t.kind == "single-line"]
    strings = string_lines(ast.parse(text))
    middles = {t.canonical_solution for t in tasks}
    for t in tasks:
        line = t.canonical_solution
        assert line.endswith("\n") and line.count("\n") == 1 and t.prompt.endswith("\n")
        assert len(line.split()) and sum(not c.isspace() for c in line) >= 8
        assert not line.strip().startswith("#") and line.strip() not in {")", "]", "}", "),"}
        assert t.prompt.count("\n") + 1 not in strings
    assert '    """Return the first item.\n' not in middles  # docstring lines are not code
    assert '    string literal inside code"""\n' not in middles
    assert "    result = None\n" in middles


def test_multi_line_tasks_are_two_to_six_whole_statement_lines() -> None:
    tasks = [t for s in range(10) for t in cut(s, CutConfig(multi_line=100))[1] if t.kind == "multi-line"]
    assert tasks
    for t in tasks:
        assert t.prompt.endswith("\n") and t.canonical_solution.endswith("\n")
        assert 2 <= t.canonical_solution.count("\n") <= 6
        first = ast.parse(textwrap.dedent(t.canonical_solution)).body[0]  # whole statements
        assert not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant))  # no docstrings
        assert "self.value = value" not in t.canonical_solution or "self.size" in t.canonical_solution


def test_random_spans_lie_inside_function_bodies() -> None:
    text, _ = cut()
    source = Source(text, ast.parse(text))
    bodies = function_bodies(source)
    tasks = [t for s in range(10) for t in cut(s)[1] if t.kind == "random-span"]
    assert tasks
    for t in tasks:
        start, end = len(t.prompt), len(t.prompt) + len(t.canonical_solution)
        assert 3 <= end - start <= 120
        assert any(b.start <= start and end <= b.end for b in bodies)
        assert sum(not c.isspace() for c in t.canonical_solution) >= 3
    assert all("def stub" not in text[b.start : b.end] for b in bodies if b.end - b.start < 24)


# --- scoring ------------------------------------------------------------------------------------


def task(task_id: str, middle: str, kind: str = "single-line") -> RepoTask:
    return RepoTask(task_id, "def f(a, b):\n", "\n\nx = f(1, 2)\n", middle, "demo", "m.py", kind)


def test_exact_match_and_similarity_definitions() -> None:
    pytest.importorskip("rapidfuzz")  # the optional `bench` extra
    assert normalize("  a = 1  \n\n  b\n\n\n") == "  a = 1\n\n  b"
    assert exact_match("    return a + b   \n\n", "    return a + b\n")
    assert not exact_match("return a + b\n", "    return a + b\n")  # indentation counts
    assert edit_similarity("    return a - b\n", "    return a + b\n") == pytest.approx(1 - 1 / 16)
    assert edit_similarity("", "    return a + b\n") == 0.0
    assert edit_similarity("", "") == 1.0


def test_score_exact_near_empty_and_missing() -> None:
    pytest.importorskip("rapidfuzz")  # the optional `bench` extra
    tasks = [
        task("t/exact", "    return a + b\n"),
        task("t/near", "    return a + b\n"),
        task("t/empty", "    return a * b\n", "multi-line"),
        task("t/missing", "    return a\n", "multi-line"),
    ]
    samples = {"t/exact": "    return a + b  \n", "t/near": "    return a - b\n", "t/empty": "", "t/other": "x"}
    result = score(tasks, samples)
    overall = result["overall"]
    assert overall["tasks"] == 4 and overall["missing"] == 1
    assert overall["exact_match"] == pytest.approx(0.25)
    assert overall["edit_similarity"] == pytest.approx((1 + 15 / 16 + 0 + 0) / 4)
    assert overall["parse_rate"] == pytest.approx(0.5)  # an empty body does not parse
    assert overall["canonical_parse_rate"] == 1.0
    assert result["by_kind"]["single-line"]["exact_match"] == 0.5
    assert result["by_kind"]["multi-line"]["missing"] == 1
    assert result["by_repo"]["demo"]["tasks"] == 4
    assert result["unknown_samples"] == 1
    assert score([t.__dict__ for t in tasks], samples) == result  # the dicts of a tasks file work too


def test_score_command_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rapidfuzz")  # the optional `bench` extra
    tasks_file, samples_file, out = tmp_path / "tasks.jsonl", tmp_path / "samples.jsonl", tmp_path / "r.json"
    tasks_file.write_text(json.dumps(task("t/1", "    return a\n").__dict__) + "\n")
    samples_file.write_text(json.dumps({"task_id": "t/1", "completion": "    return a\n"}) + "\n")
    assert main(["score", "--tasks", str(tasks_file), "--samples", str(samples_file), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["overall"]["exact_match"] == 1.0
    assert "| single-line | 1 | 100.0% |" in capsys.readouterr().out


# --- admission and the whole build ------------------------------------------------------------------


def pkg_info(license_header: str = "License-Expression: MIT") -> str:
    return f"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n{license_header}\nLicense-File: LICENSE\n\nReadme.\n"


def test_license_checks() -> None:
    from email.parser import HeaderParser

    def meta(header: str) -> object:
        return HeaderParser().parsestr(pkg_info(header))

    assert text_license(MIT) == "MIT" and text_license(BSD3) == "BSD-3-Clause"
    assert text_license("Apache License\n  Version 2.0, January 2004") == "Apache-2.0"
    assert verify_license("MIT", meta("License-Expression: MIT"), {"LICENSE": MIT.encode()}) == {"LICENSE": "MIT"}
    classifier = "Classifier: License :: OSI Approved :: BSD License"
    assert verify_license("BSD-3-Clause", meta(classifier), {"LICENSE": BSD3.encode()})
    with pytest.raises(RepoBenchError, match="declares"):
        verify_license("BSD-3-Clause", meta("License-Expression: MIT"), {"LICENSE": MIT.encode()})
    with pytest.raises(RepoBenchError, match="no license file"):
        verify_license("MIT", meta("License-Expression: MIT"), {"LICENSE": BSD3.encode()})
    with pytest.raises(RepoBenchError, match="permissive"):
        verify_license("GPL-3.0-only", meta("License-Expression: GPL-3.0-only"), {})


def test_corpus_check_refuses_training_sources(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus_licenses.json"
    corpus.write_text(json.dumps({"kept": {"MIT": {"sources": ["site-packages:PyYAML", "stdlib"]}}}))
    names = corpus_sources(corpus)
    with pytest.raises(RepoBenchError, match="pyyaml"):
        check_not_in_corpus(["pyyaml"], names, "pyyaml")
    check_not_in_corpus(["demo"], names, "demo")


def make_sdist(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for rel, data in {**files, "PKG-INFO": pkg_info().encode(), "LICENSE": MIT.encode()}.items():
            info = tarfile.TarInfo(f"demo-1.0/{rel}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_build_from_a_local_sdist(tmp_path: Path) -> None:
    downloads, out = tmp_path / "sdists", tmp_path / "bench"
    downloads.mkdir()
    make_sdist(downloads / "demo-1.0.tar.gz", project_files())
    tree = read_sdist(downloads / "demo-1.0.tar.gz")
    assert set(tree.python) == set(project_files()) and set(tree.licenses) == {"LICENSE"}
    project = Project("demo", "1.0", "MIT", "demo-1.0.tar.gz", sha256_of(downloads / "demo-1.0.tar.gz"))
    assert fetch_sdist(project, downloads) == downloads / "demo-1.0.tar.gz"  # pinned hash: no download
    corpus = tmp_path / "corpus_licenses.json"
    corpus.write_text(json.dumps({"kept": {"MIT": {"sources": ["site-packages:other"]}}}))
    manifest = build([project], BuildConfig(out=out, download_dir=downloads, corpus_licenses=corpus))
    entry = manifest["projects"][0]
    assert entry["eval"] and not set(entry["eval"]) & set(entry["workspace"])
    assert all(not (out / "demo" / "workspace" / p).exists() for p in entry["eval"])
    tasks = load_tasks(out / "tasks.jsonl")
    assert len(tasks) == manifest["tasks"]["total"] == entry["tasks"]["total"]
    for kind in Kind:
        assert len(load_tasks(out / f"tasks-{kind.value}.jsonl")) == manifest["tasks"][kind.value] > 0
    assert json.loads((out / "manifest.json").read_text()) == manifest
    with pytest.raises(RepoBenchError, match="does not match the pinned"):
        check_sha256(downloads / "demo-1.0.tar.gz", "0" * 64)
    corpus.write_text(json.dumps({"kept": {"MIT": {"sources": ["site-packages:Demo"]}}}))
    with pytest.raises(RepoBenchError, match="training corpus"):  # refused before any download
        build([project], BuildConfig(out=out, download_dir=tmp_path / "empty", corpus_licenses=corpus))
    assert not (tmp_path / "empty").exists()
