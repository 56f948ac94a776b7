"""Progress bars for long work, always on stderr (stdout may carry results or JSON-RPC)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True) -> tqdm:
    """A tqdm bar on stderr; hidden when ``enabled`` is False."""
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=not enabled, dynamic_ncols=True)
