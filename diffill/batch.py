"""Fill many prompt/suffix pairs (benchmark tasks) in batches: one code path for the CLI and the evaluation."""

from __future__ import annotations

from collections.abc import Sequence

from diffill.holes import Span
from diffill.infill import FillOptions, FillRequest, Infiller
from diffill.progress import progress_bar


def fill_pairs(
    infiller: Infiller,
    pairs: Sequence[tuple[str, str]],
    options: FillOptions,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = True,
    lengths: Sequence[int | None] | None = None,
    contexts: Sequence[str] | None = None,
) -> list[str]:
    """One completion for each (prefix, suffix) pair: the text that goes between them.

    ``lengths`` fixes each hole's token budget (oracle length); by default the layout decides. ``contexts``
    gives each pair its repository context (``diffill.retrieval``).
    """
    out: list[str] = []
    lengths = list(lengths) if lengths is not None else [None] * len(pairs)
    contexts = list(contexts) if contexts is not None else [""] * len(pairs)
    with progress_bar(total=len(pairs), desc="fill", unit="task", enabled=progress) as bar:
        for i in range(0, len(pairs), batch_size):
            batch = pairs[i : i + batch_size]
            requests = [
                FillRequest(p + s, [Span(len(p), len(p), length=n)], c)
                for (p, s), n, c in zip(batch, lengths[i : i + batch_size], contexts[i : i + batch_size])
            ]
            out += [r.completions[0] for r in infiller.fill_batch(requests, options, seed=seed + i)]
            bar.update(len(batch))
    return out
