"""Ghost text is the engine's fill: the editor path gives what ``Infiller`` (and so the CLI) gives.

Each HumanEval-infilling task is opened as an editor holds it (the answer line emptied to its indentation,
the cursor after it) in a real ``diffill serve`` with the bundled model, and an automatic request is sent
there. The fast test takes ten tasks of ten different problems (no request can build on the one before:
each pays a full pass, as the engine's own fill does) and checks that the line the server suggests is the
first line the engine fills for the task's prompt and suffix. The slow one runs the parity benchmark's
tasks (every 10th single-line task) through the server and the real CLI and runs the tests: the server
must pass within one point of the CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import BENCHMARKS, NO_BENCHMARKS
from server_support import inline, open_doc, start, stop, wait_state

from benchmarks.ghost_parity import ghost_document
from diffill.model_dir import default_model_dir

SINGLE = BENCHMARKS / "HumanEval-SingleLineInfilling.jsonl.gz"
pytestmark = pytest.mark.skipif(not SINGLE.is_file(), reason=NO_BENCHMARKS)
SETTINGS = {"minConfidence": 0.0, "adaptiveDebounce": False, "debounceMs": 0, "prefetch": False}


def tasks_of_distinct_problems(n: int) -> list:
    from training.benchmarks import load_tasks, problem_id

    seen, out = set(), []
    for task in load_tasks(SINGLE)[::7]:
        if problem_id(task.task_id) not in seen:
            seen.add(problem_id(task.task_id))
            out.append(task)
        if len(out) == n:
            break
    return out


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bundled() -> AsyncIterator:
    lsp = await start(default_model_dir(), init={"diffill": SETTINGS})
    await wait_state(lsp, "ready", timeout=300)
    yield lsp
    await stop(lsp)


@pytest.mark.asyncio(loop_scope="module")
async def test_the_server_suggests_the_line_the_engine_fills(bundled) -> None:
    from diffill.holes import Span
    from diffill.infill import FillOptions, Infiller
    from diffill.model import load_model

    infiller = Infiller(load_model(default_model_dir(), "cpu", "auto"))
    tasks = tasks_of_distinct_problems(10)
    served, engine = [], []
    for i, task in enumerate(tasks):
        text, position = ghost_document(task)
        uri = f"file:///parity/task{i}.py"
        open_doc(bundled, uri, text)
        items = await inline(bundled, uri, position.line, position.character)
        served.append(items[0].insert_text.strip() if items else "")
        hole = Span(len(task.prompt), len(task.prompt))
        result = infiller.fill(task.prompt + task.suffix, [hole], FillOptions(single_line=True))
        line = result.completions[0].strip()
        following = next((s.strip() for s in task.suffix.split("\n") if s.strip()), "")
        engine.append("" if line == following else line)  # a line that repeats the next one is not suggested
    assert served == engine
    assert sum(bool(s) for s in served) >= 8  # and they are suggestions, not empty answers


@pytest.mark.slow
def test_ghost_text_scores_within_one_point_of_the_cli(tmp_path: Path) -> None:
    from benchmarks.ghost_parity import run

    args = argparse.Namespace(
        benchmark=str(SINGLE),
        every=10,
        limit=None,
        model=None,
        threads=1,
        settings="{}",
        no_cli=False,
        cli_samples=tmp_path / "cli.jsonl",
    )
    out = run(args)
    assert out["tasks"] == 104
    assert out["server_pass_at_1"] >= out["cli_pass_at_1"] - 0.01
