"""Decoding settings to compare: plain decoding, the old and the current defaults, and ``key=value`` specs.

- ``plain``: the reference. Full re-encoding every step and one token committed per step, so steps = the
  number of masked tokens; no threshold, no cache.
- ``baseline``: the defaults before the fast paths (16 steps, no threshold, no cache).
- ``default``: the base options as they are: what ``diffill fill`` uses by default (the server and the
  evaluation share the same engine defaults).
- ``steps=8,threshold=0.9,cache=4,neighbours=8,window=256,order=left-to-right,syntax=1``: anything else,
  starting from ``baseline`` (or from a preset named first: ``default,syntax=1``); the unmasking order is
  the base options' unless given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lsp_server.choices import UnmaskOrder
from lsp_server.context_cache import CacheConfig
from lsp_server.denoise import DenoiseConfig
from lsp_server.infill import FillOptions

PLAIN_STEPS = 1 << 16  # more steps than any window has masks: the loop commits one token per step
DEFAULT_SWEEP = (
    "plain", "baseline", "steps=8", "steps=32", "threshold=0.5", "threshold=0.9",
    "cache=16", "cache=4,neighbours=8", "steps=32,cache=16,neighbours=8", "order=left-to-right",
    "default", "default,syntax=1",
)


class VariantError(ValueError):
    """A variant spec that cannot be parsed."""


@dataclass(frozen=True)
class Variant:
    """One decoding setting; ``apply`` puts it on base options (the CLI's defaults: budgets, post-processing)."""

    name: str
    steps: int | None = 16  # None: the current default
    threshold: float | None = None
    cache: int = 0
    neighbours: int = 0
    window: int | None = None
    order: str | None = None  # None: the base options' order
    syntax: bool | None = None  # the syntax check of post-processing on/off (None: as the base options)
    current: bool = False  # use FillOptions()'s denoising and cache settings as they are

    @property
    def plain(self) -> bool:
        return self.steps == PLAIN_STEPS

    def apply(self, base: FillOptions) -> FillOptions:
        window = base.window if self.window is None else min(self.window, base.window or self.window)
        if self.syntax is not None:
            from lsp_server.syntax import check_for

            base = replace(base, syntax_check=check_for("python") if self.syntax else None)
        if self.current:
            return replace(base, window=window)
        order = UnmaskOrder(self.order) if self.order else base.denoise.order
        denoise = replace(base.denoise, steps=self.steps or DenoiseConfig().steps, threshold=self.threshold,
                          order=order)
        return replace(base, denoise=denoise, cache=CacheConfig(self.cache, self.neighbours), window=window)

    def describe(self, base: FillOptions) -> dict[str, object]:
        """The settings in effect on ``base``, for the JSON report."""
        options = self.apply(base)
        return {
            "steps": "masked tokens (one per step)" if self.plain else options.denoise.steps,
            "threshold": options.denoise.threshold,
            "order": options.denoise.order.value,
            "cache_refresh": options.cache.refresh_every,
            "cache_neighbours": options.cache.neighbours,
            "window": options.window,
            "syntax_check": options.syntax_check is not None,
        }


_KEYS = {
    "steps": int, "threshold": float, "cache": int, "neighbours": int, "window": int, "order": str,
    "syntax": lambda v: bool(int(v)),
}
PRESETS = {
    "plain": {"steps": PLAIN_STEPS},
    "baseline": {},
    "default": {"steps": None, "current": True},
}


def parse_variant(spec: str) -> Variant:
    """A preset (plain, baseline, default) and/or ``key=value`` items, comma-separated: ``default,syntax=1``.

    Keys: steps, threshold, cache, neighbours, window, order, syntax (0/1); a spec without a preset starts
    from ``baseline``.
    """
    spec = spec.strip()
    items = [item.strip() for item in spec.split(",")]
    values: dict[str, object] = dict(PRESETS.get(items[0], {}))
    if items[0] in PRESETS:
        items = items[1:]
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in _KEYS or (values.get("current") and key not in ("window", "syntax")):
            raise VariantError(f"bad variant {spec!r}: use plain, baseline, default and {', '.join(_KEYS)}=VALUE "
                               "(only window and syntax with default)")
        try:
            values[key] = _KEYS[key](value)
        except ValueError as exc:
            raise VariantError(f"bad value in variant {spec!r}: {item!r}") from exc
    variant = Variant(spec, **values)  # type: ignore[arg-type]
    try:
        variant.apply(FillOptions())
    except ValueError as exc:  # includes an unknown order
        raise VariantError(f"bad variant {spec!r}: {exc}") from exc
    return variant


def parse_variants(specs: list[str] | tuple[str, ...]) -> list[Variant]:
    """Parse specs, always including ``plain`` (the reference of every ratio) first."""
    variants = [parse_variant(s) for s in specs]
    if not any(v.plain for v in variants):
        variants.insert(0, parse_variant("plain"))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise VariantError("a variant is listed twice")
    return variants
