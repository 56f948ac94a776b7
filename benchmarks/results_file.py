"""Write a benchmark's results: the JSON at ``out`` and its Markdown table beside it (``out.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_results(result: dict[str, Any], out: Path, table: str, echo: bool = False) -> None:
    """``result`` as JSON at ``out`` and ``table`` at ``out`` with a ``.md`` suffix, folders made as needed;
    ``echo`` prints the table too."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    out.with_suffix(".md").write_text(table)
    if echo:
        print(table)
