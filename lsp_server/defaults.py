"""The engine's default decoding settings, shared by its dataclasses, the CLI flags and the server.

Chosen with ``diffill bench`` on the bundled model (numbers and reasons in benchmarks/README.md).
Importable without torch.
"""

from __future__ import annotations

STEPS = 16  # denoising steps at most (a hole of fewer tokens takes at most one step per token)
THRESHOLD: float | None = None  # parallel decoding: also commit every position more confident than this
# (off: the bundled model is rarely that confident, so it saved no step; it may pay with a stronger model)
CACHE_REFRESH = 16  # context cache: a full encoder pass every N steps, only the spans between (0: off)
CACHE_NEIGHBOURS = 8  # context tokens on each side of a span recomputed with it on cached steps
