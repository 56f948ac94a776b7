"""The model holder on its own: background loading, newest-wins tickets, cancellation (no model, no LSP)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest

import lsp_server.worker as worker_module
from diffill.errors import ModelLoadError
from lsp_server.worker import ModelState, Ticket, Worker

pytestmark = pytest.mark.asyncio


class FakeInfiller:
    """Stands in for the engine: jobs only count steps."""

    lm = SimpleNamespace(path="fake-model", device="cpu")


def _slow_job(steps: int = 200, delay: float = 0.005):
    def job(infiller: FakeInfiller, ticket: Ticket) -> str | None:
        for _ in range(steps):
            if ticket.should_stop():
                return None
            time.sleep(delay)
        return "done"

    return job


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Loading blocks until the test opens the gate; a model named 'bad' fails."""
    opened = threading.Event()

    def load(model, device, dtype, threads, compile_mode="off"):
        opened.wait(10)
        if model == "bad":
            raise ModelLoadError("model directory not found: bad")
        return FakeInfiller()

    monkeypatch.setattr(worker_module, "_load", load)
    return opened


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_work_before_the_model_is_ready_gets_nothing(gate: threading.Event) -> None:
    changes: list[ModelState] = []
    worker = Worker(lambda: changes.append(worker.state))
    worker.load("good", "cpu", "auto")
    assert worker.state is ModelState.LOADING
    assert await worker.run(worker.ticket("k", "early"), _slow_job(1)) is None
    gate.set()
    await _until(lambda: worker.ready)
    assert await worker.run(worker.ticket("k", "late"), _slow_job(1)) == "done"
    assert changes[:2] == [ModelState.LOADING, ModelState.READY] and ModelState.BUSY in changes
    worker.shutdown()


async def test_a_failed_load_keeps_the_worker_usable(gate: threading.Event) -> None:
    worker = Worker(lambda: None)
    gate.set()
    worker.load("bad", "cpu", "auto")
    await _until(lambda: worker.state is ModelState.FAILED)
    assert "not found" in (worker.error or "")
    worker.load("good", "cpu", "auto")
    await _until(lambda: worker.ready)
    worker.shutdown()


async def test_the_newest_ticket_of_a_key_wins(gate: threading.Event) -> None:
    worker = Worker(lambda: None)
    gate.set()
    worker.load("good", "cpu", "auto")
    await _until(lambda: worker.ready)
    first = worker.ticket(("inline", "a"), "first")
    older = asyncio.ensure_future(worker.run(first, _slow_job()))
    await _until(lambda: first.steps > 0)
    other = worker.ticket(("inline", "b"), "other document")
    second = worker.ticket(("inline", "a"), "second")
    assert first.cancelled and not other.cancelled
    assert await worker.run(second, _slow_job(3)) == "done"
    assert await older is None and first.steps < 200
    worker.shutdown()


async def test_cancelling_the_caller_stops_the_generation(gate: threading.Event) -> None:
    worker = Worker(lambda: None)
    gate.set()
    worker.load("good", "cpu", "auto")
    await _until(lambda: worker.ready)
    ticket = worker.ticket("k", "cancelled")
    task = asyncio.ensure_future(worker.run(ticket, _slow_job()))
    await _until(lambda: ticket.steps > 0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ticket.cancelled
    assert await worker.run(worker.ticket("k", "after"), _slow_job(1)) == "done"  # the thread is free again
    assert ticket.steps < 200
    worker.shutdown()


async def test_background_work_gives_way_to_any_other_ticket(gate: threading.Event) -> None:
    worker = Worker(lambda: None)
    gate.set()
    worker.load("good", "cpu", "auto")
    await _until(lambda: worker.ready)
    warm = worker.ticket(("prefetch",), "prefetch", background=True)
    running = asyncio.ensure_future(worker.run(warm, _slow_job()))
    await _until(lambda: warm.steps > 0)
    assert worker.state is ModelState.READY  # background work does not show as busy
    later = worker.ticket(("prefetch",), "later prefetch", background=True)
    assert warm.cancelled and not later.cancelled  # a newer prefetch supersedes the older one
    request = worker.ticket(("inline", "a"), "request")
    assert later.cancelled and not request.cancelled  # a real request cancels every background ticket
    assert await worker.run(request, _slow_job(3)) == "done"
    assert await running is None and warm.steps < 200
    assert await worker.run(later, _slow_job(1)) is None  # cancelled before it started: never runs
    worker.shutdown()


async def test_the_compile_mode_reaches_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple] = []

    def load(*args):
        asked.append(args)
        return FakeInfiller()

    monkeypatch.setattr(worker_module, "_load", load)
    worker = Worker(lambda: None)
    worker.load("good", "cuda", "auto", 0, "reduce-overhead")
    await _until(lambda: worker.ready)
    assert asked == [("good", "cuda", "auto", 0, "reduce-overhead")]
    worker.shutdown()
