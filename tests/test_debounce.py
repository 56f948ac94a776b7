"""The adaptive debounce rule (``lsp_server/debounce.py``): pure functions of given times, no clock."""

from __future__ import annotations

import pytest

from lsp_server.debounce import Debouncer, DebounceRule, context_score


def typed(debouncer: Debouncer, intervals: list[float], uri: str = "file:///a.py", start: float = 100.0) -> float:
    """Keystrokes at ``start`` and after each interval; returns the last one's time."""
    now = start
    debouncer.keystroke(uri, now)
    for gap in intervals:
        now += gap
        debouncer.keystroke(uri, now)
    return now


def test_before_any_typing_the_default_interval_is_used() -> None:
    debouncer = Debouncer(DebounceRule(default_interval_s=0.15))
    assert debouncer.typing_interval() == pytest.approx(0.15)
    typed(debouncer, [0.1, 0.1])  # fewer than min_samples
    assert debouncer.typing_interval() == pytest.approx(0.15)


def test_the_typing_interval_is_the_median_of_recent_intervals_without_pauses_or_bursts() -> None:
    debouncer = Debouncer(DebounceRule(min_samples=4))
    typed(debouncer, [0.10, 0.12, 2.5, 0.11, 0.005, 0.30, 0.13])  # a 2.5 s pause and a 5 ms repeat left out
    assert debouncer.typing_interval() == pytest.approx(0.12)


def test_intervals_are_counted_per_document() -> None:
    debouncer = Debouncer(DebounceRule(min_samples=1))
    debouncer.keystroke("file:///a.py", 1.0)
    debouncer.keystroke("file:///b.py", 1.05)  # another document: not an interval of a.py
    debouncer.keystroke("file:///a.py", 1.2)
    assert debouncer.typing_interval() == pytest.approx(0.2)


def test_no_wait_when_generations_are_fast_next_to_typing() -> None:
    debouncer = Debouncer(DebounceRule(min_samples=2, fast_ratio=0.5))
    typed(debouncer, [0.2, 0.2, 0.2])
    debouncer.generated(0.08)  # done well before the next keystroke is due
    assert debouncer.delay(context=0.0) == 0.0


def test_slow_generations_wait_a_multiple_of_the_typing_interval() -> None:
    rule = DebounceRule(min_samples=2, rate_low=1.5, rate_high=2.5, max_s=10.0)
    debouncer = Debouncer(rule)
    typed(debouncer, [0.1, 0.1, 0.1])
    debouncer.generated(0.12)
    assert debouncer.delay(context=0.0) == pytest.approx(2.5 * 0.1)
    assert debouncer.delay(context=1.0) == pytest.approx(1.5 * 0.1)
    debouncer.generated(0.9)
    debouncer.generated(0.9)  # slower generations: the same wait (they are the ones worth saving)
    assert debouncer.delay(context=1.0) == pytest.approx(1.5 * 0.1)


def test_the_wait_follows_the_user_a_slower_typist_waits_longer() -> None:
    fast, slow = Debouncer(DebounceRule(min_samples=2)), Debouncer(DebounceRule(min_samples=2))
    typed(fast, [0.08] * 6)
    typed(slow, [0.3] * 6)
    for debouncer in (fast, slow):
        debouncer.generated(0.2)
    assert slow.delay(0.5) > fast.delay(0.5) > 0


def test_the_wait_is_clamped() -> None:
    debouncer = Debouncer(DebounceRule(min_samples=2, min_s=0.05, max_s=0.25))
    typed(debouncer, [0.5] * 6)
    debouncer.generated(0.6)
    assert debouncer.delay(0.0) == pytest.approx(0.25)


def test_a_wanted_place_waits_less_than_mid_word() -> None:
    debouncer = Debouncer(DebounceRule(min_samples=2, max_s=10.0))
    typed(debouncer, [0.2] * 6)
    debouncer.generated(0.15)
    assert debouncer.delay(context_score("(", at_line_end=True)) < debouncer.delay(context_score("x", False))


def test_context_score() -> None:
    assert context_score("x", at_line_end=False) == 0.0
    assert context_score(" ", at_line_end=False) == 0.5
    assert context_score("_", at_line_end=True) == 0.5
    assert context_score("", at_line_end=True) == 1.0
