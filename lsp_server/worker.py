"""The model holder: one thread owns the model, loads it in the background and runs generations one by one.

Inference never runs on the event loop: torch on a small CPU should not run two generations at once, so a
single-thread executor does the loading and every job, in order. Each job holds a ``Ticket``. Tickets have
keys (kind of work, document): opening a ticket supersedes the older one of the same key, which then stops
at its next denoising step (the engine checks ``should_stop`` before every step) or never starts, and its
caller gets None. A cancelled request (``$/cancelRequest`` or a progress cancel) stops its ticket the same
way. Background tickets (prefetch: warming the context where the cursor rests) give way to everything:
opening any other ticket cancels them, and they do not make the model show as busy. The holder knows
nothing of LSP: it reports state changes through a callback.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from diffill.errors import DiffillError

if TYPE_CHECKING:
    from diffill.infill import Infiller

log = logging.getLogger(__name__)
T = TypeVar("T")


class ModelState(str, enum.Enum):
    """Where the model holder stands."""

    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    BUSY = "busy"


class Ticket:
    """One piece of work: cancel it from any thread; the model thread polls ``should_stop``."""

    def __init__(self, key: Hashable | None, label: str, background: bool = False) -> None:
        self.key = key
        self.label = label
        self.background = background
        self.steps = 0  # denoising steps that ran (should_stop calls that said go on)
        self.run_s = 0.0  # time spent on the model thread
        self.wait_s = 0.0  # time queued behind other work
        self.warm = False  # the generation started from the states an earlier one left (diffill/reuse.py)
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    def should_stop(self) -> bool:
        if self._cancelled.is_set():
            return True
        self.steps += 1
        return False


def _load(model: str | None, device: str, dtype: str, threads: int, compile_mode: str = "off") -> Infiller:
    """Load and warm up the model (runs on the model thread; imports torch there, not on the event loop).

    The warm-up runs a short fill at every length-bucket shape on a GPU (one small fill on a CPU), so the
    first request pays no first-call costs: with ``compile_mode`` on, that is where the encoder compiles
    (and records its CUDA graphs, one per bucket).

    ``threads`` > 0 sets torch's CPU threads; 0 keeps torch's default (one per physical core). With the
    bundled model two threads are faster than one on an idle machine, but slower than one when another
    process keeps a core busy (measured: ``benchmarks/README.md``): users with such a machine set 1.
    """
    import torch

    from diffill.infill import Infiller
    from diffill.model import load_model
    from diffill.warmup import warm_up

    if threads > 0:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    infiller = Infiller(load_model(model, device, dtype, compile_mode=compile_mode))
    loaded = time.perf_counter()
    shapes = warm_up(infiller)
    lm = infiller.lm
    weights = "int8" if lm.quantized else str(lm.dtype).removeprefix("torch.")
    compiled = f", compiled ({compile_mode})" if lm.compiled else ""
    log.info(
        "model %s loaded on %s (%s%s) in %.1f s, warmed up (%d shape(s)) in %.2f s",
        lm.path,
        lm.device,
        weights,
        compiled,
        loaded - started,
        shapes,
        time.perf_counter() - loaded,
    )
    return infiller


class Worker:
    """Holds the model and schedules generations on its own thread."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffill-model")
        self._on_change = on_change
        self._infiller: Infiller | None = None
        self._state = ModelState.LOADING
        self.error: str | None = None
        self.model_name: str | None = None
        self.device: str | None = None
        self._generation = 0
        self._latest: dict[Hashable, Ticket] = {}
        self._tickets: set[Ticket] = set()
        self._in_flight = 0

    @property
    def state(self) -> ModelState:
        if self._state is ModelState.READY and self._in_flight:
            return ModelState.BUSY
        return self._state

    @property
    def ready(self) -> bool:
        return self._infiller is not None

    def load(self, model: str | None, device: str, dtype: str, threads: int = 0, compile_mode: str = "off") -> None:
        """Start loading a model in the background (call on the event loop); the previous one is dropped."""
        self._generation += 1
        generation = self._generation
        self.cancel_all()
        self._infiller = None
        self.model_name, self.device, self.error = model, device, None
        self._set_state(ModelState.LOADING)
        future = self._executor.submit(_load, model, device, dtype, threads, compile_mode)
        loop = asyncio.get_running_loop()
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(partial(self._loaded, generation, f)))

    def _loaded(self, generation: int, future: Future[Infiller]) -> None:
        if generation != self._generation or future.cancelled():
            return  # a newer load superseded this one
        exc = future.exception()
        if exc is not None:
            self.error = str(exc) if str(exc) else type(exc).__name__
            if not _expected(exc):
                log.error("model failed to load", exc_info=exc)
            self._set_state(ModelState.FAILED)
            return
        self._infiller = future.result()
        self.model_name = str(self._infiller.lm.path)
        self.device = str(self._infiller.lm.device)
        self._set_state(ModelState.READY)

    def ticket(self, key: Hashable | None, label: str, background: bool = False) -> Ticket:
        """A new ticket; the running or queued ticket of the same key (if any) is cancelled, and so is every
        background ticket when this one is not."""
        ticket = Ticket(key, label, background)
        if not background:
            for other in self._tickets:
                if other.background and not other.cancelled:
                    other.cancel()
                    log.debug("%s supersedes %s", label, other.label)
        if key is not None:
            older = self._latest.get(key)
            if older is not None:
                older.cancel()
                log.info("%s supersedes %s", label, older.label)
            self._latest[key] = ticket
        self._tickets.add(ticket)
        return ticket

    def stop(self, key: Hashable) -> None:
        """Cancel the running or queued ticket of ``key``, if any: its answer is no longer wanted."""
        older = self._latest.get(key)
        if older is not None:
            older.cancel()

    def release(self, ticket: Ticket) -> None:
        self._tickets.discard(ticket)
        if ticket.key is not None and self._latest.get(ticket.key) is ticket:
            del self._latest[ticket.key]

    def cancel_all(self) -> None:
        for ticket in list(self._tickets):
            ticket.cancel()

    async def run(self, ticket: Ticket, job: Callable[[Infiller, Ticket], T]) -> T | None:
        """Run ``job`` on the model thread; None when the model is not ready or the ticket was cancelled."""
        infiller = self._infiller
        if infiller is None or ticket.cancelled:
            self.release(ticket)
            return None
        counted = not ticket.background  # warming a cache is not work the user waits for: no "busy"
        if counted:
            self._count(+1)
        queued = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._call, ticket, infiller, job, queued
            )
        except asyncio.CancelledError:
            ticket.cancel()
            raise
        finally:
            if counted:
                self._count(-1)
            self.release(ticket)

    @staticmethod
    def _call(ticket: Ticket, infiller: Infiller, job: Callable[[Infiller, Ticket], T], queued: float) -> T | None:
        started = time.perf_counter()
        ticket.wait_s = started - queued
        if ticket.cancelled:
            return None
        try:
            result = job(infiller, ticket)
        finally:
            ticket.run_s = time.perf_counter() - started
        return None if ticket.cancelled else result

    def _count(self, delta: int) -> None:
        before = self.state
        self._in_flight += delta
        if self.state is not before:
            self._on_change()

    def _set_state(self, state: ModelState) -> None:
        self._state = state
        self._on_change()

    def shutdown(self) -> None:
        self.cancel_all()
        self._executor.shutdown(wait=False, cancel_futures=True)


def _expected(exc: BaseException) -> bool:
    return isinstance(exc, DiffillError)
