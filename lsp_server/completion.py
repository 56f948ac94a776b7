"""Ghost text, before and after the engine: plan the span to fill, then turn a middle into an insert text.

Planning follows the should-complete decision: the rest of a line is a zero-width span at the cursor; one
line or a block on an empty line replaces that line, and a block after ``def f():|`` (or, invoked, the line
after a complete one) goes on a line opened below. A whole line is filled the way the model was trained and
the CLI fills a benchmark task: the engine sees the text before the line and the text from the next line on,
with a hole at the start of a line between them (its middle is whole lines, indentation and line break
included), not a hole followed by the old line's own line break.
Post-processing keeps what the editor already shows before the cursor (its indentation), ends a block
where the code dedents out of it, never repeats the text that follows, and drops empty results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from diffill.confidence import TokenSpan
from diffill.holes import Span
from lsp_server.should_complete import Decision, Mode

SUFFIX_CHARS = 16_384  # of the text after the item, what post-processing compares it with (not a whole file)


@dataclass(frozen=True)
class Budgets:
    """Token budgets per mode."""

    inline: int = 16
    line: int = 32
    block: int = 16


@dataclass(frozen=True)
class Plan:
    """What the engine fills and where its result goes in the document."""

    mode: Mode
    text: str  # what the engine sees: the document, without the line to fill or with a line opened at the cursor
    span: Span  # in ``text``, with its token budget
    start: int  # the document range the item replaces
    end: int
    before: str  # document text between ``start`` and the cursor (the insert text must begin with it)
    lead: str  # put before the middle in the insert text ("\n" when a line was opened)
    outer_indent: str  # indentation of the block opener line (BLOCK), else ""

    @property
    def single_line(self) -> bool:
        return self.mode is not Mode.BLOCK


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _line_bounds(text: str, offset: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    if end > start and text[end - 1] == "\r":
        end -= 1
    return start, end


def _previous_code_line(text: str, line_start: int) -> str:
    cursor = line_start - 1
    while cursor > 0:
        start = text.rfind("\n", 0, cursor) + 1
        if text[start:cursor].strip():
            return text[start:cursor]
        cursor = start - 1
    return ""


def plan(text: str, offset: int, decision: Decision, budgets: Budgets) -> Plan | None:
    """The span to fill for ``decision`` at ``offset``; None when there is nothing to fill."""
    mode = decision.mode
    if mode is Mode.NONE:
        return None
    if mode is Mode.LINE:
        return Plan(mode, text, Span(offset, offset, length=budgets.inline), offset, offset, "", "", "")
    length = budgets.block if mode is Mode.BLOCK else budgets.line
    line_start, line_end = _line_bounds(text, offset)
    after = _next_line_start(text, line_end)
    if decision.open_line:  # "def f():|" -> fill a new line below; replace trailing blanks of the line
        opened = text[:offset] + "\n" + text[after:]
        outer = _indent(text[line_start:offset])
        return Plan(mode, opened, Span(offset + 1, offset + 1, length=length), offset, line_end, "", "\n", outer)
    outer = _indent(_previous_code_line(text, line_start)) if mode is Mode.BLOCK else ""
    without = text[:line_start] + text[after:]
    span = Span(line_start, line_start, length=length)
    return Plan(mode, without, span, line_start, line_end, text[line_start:offset], "", outer)


def _next_line_start(text: str, line_end: int) -> int:
    """Where the line after the one ending at ``line_end`` starts (the text's end when there is none)."""
    newline = text.find("\n", line_end)
    return len(text) if newline < 0 else newline + 1


def insert_text(plan: Plan, middle: str, document: str) -> str | None:
    """The item's insert text for the engine's ``middle``, or None when it adds nothing."""
    suffix = document[plan.end : plan.end + SUFFIX_CHARS]
    if plan.mode is Mode.LINE:
        return _finish_line(middle, suffix)
    lines = middle.rstrip().split("\n")
    while lines and not lines[0].strip():
        lines = lines[1:]
    lines = _indent_block(_cut_at_dedent(lines), plan) if plan.mode is Mode.BLOCK else lines[:1]
    lines = _drop_repeated_lines(lines, suffix)
    if not "".join(lines).strip():
        return None
    lines = _keep_typed_indent(lines, plan.before)
    return plan.lead + "\n".join(lines)


def continuation(plan: Plan, piece: str, document: str, cursor: int) -> str | None:
    """The item's insert text that adds ``piece`` at ``cursor`` (a remembered suggestion's rest, see
    ``lsp_server/suggestions.py``), or None when, for this plan, it adds nothing: a one-line plan takes the
    piece up to its first line break."""
    if plan.single_line:
        piece = piece.split("\n", 1)[0]
    if not piece.strip():
        return None
    return document[plan.start : cursor] + piece + document[cursor : plan.end]


def _finish_line(middle: str, suffix: str) -> str | None:
    text = middle.split("\n", 1)[0].rstrip()
    rest = suffix.split("\n", 1)[0]
    if not text.strip() or rest.startswith(text):
        return None  # nothing, or only what already follows the cursor
    return text


def _cut_at_dedent(lines: list[str]) -> list[str]:
    """Keep the block: stop at the first line that is less indented than the block's first line."""
    if not lines:
        return lines
    depth = len(_indent(lines[0]))
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() and len(_indent(line)) < depth:
            return lines[:i]
    return lines


def _indent_block(lines: list[str], plan: Plan) -> list[str]:
    """A block body must be indented deeper than its opener: shift it one level when it is not."""
    if not lines or not lines[0].strip() or len(_indent(lines[0])) > len(plan.outer_indent):
        return lines
    unit = "\t" if "\t" in plan.outer_indent else "    "
    shift = plan.outer_indent + unit
    depth = len(_indent(lines[0]))
    return [shift + line[depth:] if line.strip() else line for line in lines]


def _drop_repeated_lines(lines: list[str], suffix: str) -> list[str]:
    """Drop the completion's last lines when they are the lines that already follow it."""
    following = [s.strip() for s in suffix.split("\n")[1:] if s.strip()]
    for k in range(min(len(lines), len(following)), 0, -1):
        tail = [s.strip() for s in lines[-k:]]
        if tail == following[:k]:
            return lines[:-k]
    return lines


def _keep_typed_indent(lines: list[str], before: str) -> list[str]:
    """The first line keeps the indentation already typed before the cursor; the rest follow its shift."""
    if not lines or lines[0].startswith(before):
        return lines
    first = _indent(lines[0])
    delta = len(before) - len(first)
    out = [before + lines[0][len(first) :]]
    for line in lines[1:]:
        if delta > 0 and not before.count("\t") and line.strip():
            line = " " * delta + line
        out.append(line)
    return out


def carry_spans(spans: Sequence[TokenSpan], middle: str, insert: str) -> list[TokenSpan]:
    """Token ranges in ``middle`` (with their confidence) carried to ``insert``, the item's text made from it:
    characters are matched between the two (a moved indentation, a cut tail or a lead line break keep the
    rest aligned); a token none of whose characters is in ``insert`` is left out."""
    if not spans or not insert:
        return []
    to_insert: dict[int, int] = {}
    for block in SequenceMatcher(None, middle, insert, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            to_insert[block.a + k] = block.b + k
    out: list[TokenSpan] = []
    for start, end, conf in spans:
        kept = [to_insert[i] for i in range(start, end) if i in to_insert]
        if kept:
            out.append((min(kept), max(kept) + 1, conf))
    return out


def dedupe(texts: list[str | None]) -> list[str]:
    """Distinct non-empty texts, first occurrence first."""
    seen: set[str] = set()
    out = []
    for text in texts:
        if text is None or text.rstrip() in seen:
            continue
        seen.add(text.rstrip())
        out.append(text)
    return out
