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
# Reuse across requests (ghost text while typing, ``diffill/reuse.py``): at most this many requests in a
# row build on one full pass, and an edit of more than this many tokens gets a full pass.
REUSE_MAX = 8
REUSE_MAX_CHANGED = 32
PARALLEL_SPANS = True  # several spans in one sequence: each commits its share every step (steps = longest span)
# Hole lengths. A hole of unknown length gets a budget of masks; the first step's end-of-middle probabilities
# then set its length: it ends where P(end-of-middle) first reaches END_PROBABILITY (measured: pass@1 rises well
# above filling the whole budget, more at budget 16 than 32, since the bundled model was trained with padding
# that grew with the middle and reads length off the budget; benchmarks/README.md).
END_PROBABILITY: float | None = 0.3
LINE_LENGTH = 16  # token budget of a hole on its own line(s) and of a line of ghost text
INLINE_LENGTH = 16  # token budget of a hole inside a line
# Repository context (``diffill.retrieval``): tokens of the window's own room that retrieved code may take.
CONTEXT_TOKENS = 0
