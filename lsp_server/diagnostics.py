"""A word about a file that does not parse: fills and rewrites read the code around them, broken code reads badly.

When a fill or rewrite is asked for, the document is checked (``diffill.syntax.parse_problem``: a hole counts
as code or as nothing, whichever parses, so only problems outside the holes count; languages without a check
are left alone) and ``textDocument/publishDiagnostics`` carries one Information diagnostic at the first error,
or none once the file parses again. ``clear`` empties them when the document closes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from diffill.holes import Span
from diffill.syntax import check_for, parse_problem
from lsp_server.edits import LineIndex

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)
SOURCE = "diffill"
_LINE = re.compile(r"line (\d+)")


def parse_notice(
    text: str, language: str | None, holes: list[Span], codec: PositionCodec | None = None
) -> types.Diagnostic | None:
    """The diagnostic for ``text`` when it does not parse (its first error's line), else None."""
    if check_for(language) is None:
        return None
    problem = parse_problem(text, holes=holes, language=language)
    if problem is None:
        return None
    found = _LINE.match(problem)
    index = LineIndex(text, codec)
    line = min(max(int(found.group(1)) - 1, 0), len(index.starts) - 1) if found else 0
    where = f"line {line + 1}"
    return types.Diagnostic(
        range=index.range(int(index.starts[line]), int(index.ends[line])),
        message=f"diffill: this file does not parse ({where}); fills may be worse",
        severity=types.DiagnosticSeverity.Information,
        source=SOURCE,
    )


async def check(server: LanguageServer, doc: TextDocument, holes: list[Span]) -> None:
    """Publish the notice for ``doc`` (or clear it when the file parses); the parse runs off the event loop.
    Documents of languages without a check get nothing."""
    if check_for(doc.language_id) is None:
        return
    text, version = doc.source, doc.version
    try:
        notice = await asyncio.to_thread(parse_notice, text, doc.language_id, holes, doc.position_codec)
    except Exception:  # a fault of the check must not stop the fill it comes with
        log.exception("parse check of %s failed", doc.uri)
        return
    diagnostics = [notice] if notice is not None else []
    server.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=doc.uri, diagnostics=diagnostics, version=version)
    )


def clear(server: LanguageServer, uri: str) -> None:
    """No notice for ``uri`` any more (the document closed)."""
    server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))
