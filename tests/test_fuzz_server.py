"""The project's own fuzzer against a real ``diffill serve``: every request answered, the server alive, a clean exit.

The seeded run sends a few hundred malformed, out-of-range and huge messages with the tiny model
(``benchmarks/fuzz_server.py``); it is marked ``reliability`` and runs in its own CI step.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.fuzz_cases import Cases
from benchmarks.fuzz_server import Report, read_log, run, summary


def _bytes(seed: int, n: int) -> list[bytes]:
    return [case.data for case in Cases(seed, huge_documents=0, huge_bodies=0).make(n)]


def test_a_seed_gives_the_same_messages() -> None:
    assert _bytes(3, 200) == _bytes(3, 200)
    assert _bytes(3, 200) != _bytes(4, 200)


def test_cases_say_what_they_are_owed() -> None:
    cases = Cases(0).make(300)
    assert len(cases) == 304  # four documents opened first
    answers = [c.answer for c in cases if c.answer]
    assert len(answers) == len(set(answers))  # one id per request
    kinds = {c.kind.split(":")[0] for c in cases}
    assert kinds == {"notify", "request", "mutated", "body", "frame"}


def test_the_log_reading_names_each_traceback(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        'INFO ok\nERROR request 3 failed\nTraceback (most recent call last):\n  File "x.py", line 1\n'
        "    f()\nValueError: bad\nWARNING lsp_server.jsonrpc: bad message (ignored): x\n"
    )
    report = Report(seed=0, messages=0)
    read_log(report, log)
    assert (report.tracebacks, report.traceback_ends, report.bad_message_lines) == (1, ["ValueError: bad"], 1)
    assert "traceback: ValueError: bad" in summary(report)


@pytest.mark.reliability
def test_a_seeded_fuzz_run_answers_every_request(tiny_model_dir: Path, tmp_path: Path) -> None:
    report = run(tiny_model_dir, seed=0, messages=200, log_file=tmp_path / "server.log", timeout=60)
    assert report.ok, summary(report)
    assert report.answered == report.requests > 100
    assert report.tracebacks == 0, summary(report)  # a bad message is one log line, never a traceback
