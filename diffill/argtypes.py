"""argparse types that check a flag's value as it is parsed, and a parser whose errors are one line.

A bad value becomes an argparse error such as ``argument --hidden: must be a positive whole number, got '0'``
(exit status 2) instead of a traceback later. Shared by ``diffill-train`` and any command of the core.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (subparsers inherit the class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``minimum``."""
    wanted = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def multiple_of(step: int) -> Callable[[str], int]:
    """An argparse type: a positive multiple of ``step``."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value % step:
            raise argparse.ArgumentTypeError(f"must be a multiple of {step}, got {text!r}")
        return value

    return parse


def float_in(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number between ``low`` and ``high`` (each end included unless open)."""
    if math.isinf(high):
        wanted = f"a number {'>' if low_open else '>='} {low:g}"
    else:
        wanted = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        too_low = value < low or (low_open and value == low)
        too_high = value > high or (high_open and value == high)
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    return parse


positive_float = float_in(0, math.inf, low_open=True, high_open=True)
non_negative_float = float_in(0, math.inf, high_open=True)
fraction = float_in(0, 1)


def positive_ints(text: str) -> list[int]:
    """An argparse type: comma-separated positive whole numbers, e.g. ``4,8,16``."""
    items = [t.strip() for t in text.split(",")]
    if not all(items):
        raise argparse.ArgumentTypeError(f"must be comma-separated positive whole numbers, got {text!r}")
    return [positive_int(t) for t in items]
