"""The engine's ``FillOptions`` for a server job, from the server's settings."""

from __future__ import annotations

from collections.abc import Callable

from diffill.context_cache import CacheConfig
from diffill.denoise import DenoiseConfig
from diffill.infill import FillOptions, Infiller
from diffill.postprocess import RegionCheck
from lsp_server.settings import Settings

# (the engine, the text, where the fill starts) -> repository context for the window (``diffill.retrieval``)
ContextFn = Callable[[Infiller, str, int], str]


def context_for(context: ContextFn | None, infiller: Infiller, text: str, at: int) -> str:
    return context(infiller, text, at) if context is not None else ""


def fill_options(
    settings: Settings,
    temperature: float = 0.0,
    single_line: bool = False,
    cap: int = 512,
    check: RegionCheck | None = None,
    reuse: bool = False,
) -> FillOptions:
    return FillOptions(
        syntax_check=check,
        denoise=DenoiseConfig(steps=settings.steps, temperature=temperature),
        line_length=min(settings.line_length, cap),
        inline_length=min(settings.inline_length, cap),
        single_line=single_line,
        end_probability=settings.end_probability or None,
        cache=CacheConfig(reuse=reuse),
        context_tokens=settings.context_tokens,
    )
