"""Turn a decoded middle into text that fits where it goes.

Line holes (a whole line or block) end with a newline; single-line mode keeps only the first line;
a completion never repeats the text that already follows it.
"""

from __future__ import annotations

from collections.abc import Callable

RegionCheck = Callable[[str, int, int], bool]  # (text, start, end) -> no syntax error there

MIN_OVERLAP = 4
_OPEN, _CLOSE = "([{", ")]}"


def bracket_balance(text: str) -> int:
    """Opening minus closing brackets (negative: the text closes brackets it did not open)."""
    return sum(text.count(c) for c in _OPEN) - sum(text.count(c) for c in _CLOSE)


def first_line(completion: str) -> str:
    """Everything up to and including the first newline that follows some content."""
    stripped = completion.lstrip("\n")
    cut = stripped.find("\n")
    return stripped if cut < 0 else stripped[: cut + 1]


def trim_suffix_overlap(completion: str, suffix: str) -> str:
    """Drop the end of ``completion`` that the suffix already starts with (closing brackets, a next line).

    An overlap is removed when it holds at least ``MIN_OVERLAP`` visible characters, or when it closes
    brackets the completion never opened (``foo(x))`` before ``)``).
    """
    suffix_line = suffix.split("\n", 1)[0]
    for k in range(min(len(completion), len(suffix_line)), 0, -1):
        overlap = suffix_line[:k]
        if not completion.endswith(overlap) or not overlap.strip():
            continue
        if len(overlap.strip()) >= MIN_OVERLAP or bracket_balance(completion) < 0:
            return completion[:-k]
    next_line = suffix.lstrip("\n").split("\n", 1)[0]
    if next_line.strip():
        lines = completion.rstrip("\n").split("\n")
        if len(lines) > 1 and lines[-1].strip() == next_line.strip():
            return "\n".join(lines[:-1]) + "\n"
    return completion


_BOUNDARY = set(" \t()[]{},.:;=+-*/%<>!&|^~@'\"")


def cut_points(completion: str, line_hole: bool) -> list[int]:
    """Where a completion may be cut, longest first: after whole lines (line holes) or at word boundaries."""
    if line_hole:
        ends = [i + 1 for i, ch in enumerate(completion) if ch == "\n"]
        return sorted({len(completion), *ends, 0}, reverse=True)
    marks = {i for i in range(1, len(completion)) if completion[i] in _BOUNDARY or completion[i - 1] in _BOUNDARY}
    return sorted({len(completion), *marks, 0}, reverse=True)


def truncate_to_valid(completion: str, line_hole: bool, fits: Callable[[str], bool]) -> str:
    """The longest cut of ``completion`` that ``fits`` (syntax-aware truncation, as in SAFIM).

    ``fits`` says whether the file with this text in the hole parses around the hole. When not even an empty
    hole fits, the surroundings are broken whatever the hole holds, and the completion is kept whole.
    """
    for k in cut_points(completion, line_hole):
        piece = completion[:k]
        if line_hole and piece.strip() == "":
            piece = ""
        if fits(piece):
            return piece
    return completion


def finish(completion: str, *, line_hole: bool, single_line: bool, suffix: str) -> str:
    """Apply the rules above to one decoded middle."""
    if not line_hole:
        completion = completion.split("\n", 1)[0]  # a hole inside a line finishes that line
    elif single_line:
        completion = first_line(completion)
    completion = trim_suffix_overlap(completion, suffix)
    if not line_hole:
        return completion
    if not completion.strip():
        return ""
    if suffix.startswith("\n") or not suffix:
        return completion.rstrip("\n")
    return completion if completion.endswith("\n") else completion + "\n"
