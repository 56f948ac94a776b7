"""Turn a decoded middle into text that fits where it goes.

Line holes (a whole line or block) end with a newline; single-line mode keeps only the first line;
a completion never repeats the text that already follows it.
"""

from __future__ import annotations

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
