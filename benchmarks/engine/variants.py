"""Decoding settings to compare: plain decoding, the old and the current defaults, and ``key=value`` specs.

- ``plain``: the reference. Full re-encoding every step and one token committed per step, so steps = the
  number of masked tokens; no threshold, no cache, no per-span schedule.
- ``baseline``: the defaults before the fast paths (16 steps, no threshold, no cache, one commit share
  for all spans).
- ``default``: the base options as they are: what ``diffill fill`` uses by default (the server and the
  evaluation share the same engine defaults).
- ``steps=8,threshold=0.9,cache=4,neighbours=8,window=256,order=left-to-right,syntax=1,parallel=1``:
  anything else, starting from ``baseline`` (or from a preset named first: ``default,steps=8``); the
  unmasking order is the base options' unless given.
- ``warm=N`` (with any of the above): typing. Each measured request follows N requests for the same text
  with N, N-1, ..., 1 characters before the first span missing (the first of them cold), and the context
  cache starts from the states the previous request left (``diffill/reuse.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from diffill.choices import UnmaskOrder
from diffill.context_cache import CacheConfig
from diffill.denoise import DenoiseConfig
from diffill.infill import FillOptions

PLAIN_STEPS = 1 << 16  # more steps than any window has masks: the loop commits one token per step
DEFAULT_SWEEP = (
    "plain",
    "baseline",
    "steps=8",
    "steps=32",
    "threshold=0.5",
    "threshold=0.9",
    "cache=16",
    "cache=4,neighbours=8",
    "steps=32,cache=16,neighbours=8",
    "order=left-to-right",
    "default",
    "default,syntax=1",
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
    neighbours: int | None = None  # None: 0, or with ``default`` the base options' neighbours
    window: int | None = None
    order: str | None = None  # None: the base options' order
    syntax: bool | None = None  # the syntax check of post-processing on/off (None: as the base options)
    parallel: bool | None = False  # each span commits its share every step (None: as the base options)
    warm: int = 0  # requests typed before each measured one, whose cached states it reuses (0: cold)
    end: float | None = None  # the length estimate's end-of-middle probability (None: the base options'; 0: off)
    current: bool = False  # use FillOptions()'s denoising and cache settings as they are

    @property
    def plain(self) -> bool:
        return self.steps == PLAIN_STEPS

    def apply(self, base: FillOptions) -> FillOptions:
        window = base.window if self.window is None else min(self.window, base.window or self.window)
        if self.syntax is not None:
            from diffill.syntax import check_for

            base = replace(base, syntax_check=check_for("python") if self.syntax else None)
        if self.parallel is not None:
            base = replace(base, denoise=replace(base.denoise, parallel_spans=self.parallel))
        if self.warm:
            base = replace(base, cache=replace(base.cache, reuse=True))
        if self.end is not None:
            base = replace(base, end_probability=self.end or None)
        if self.current:
            if self.steps is not None:  # default,steps=N
                base = replace(base, denoise=replace(base.denoise, steps=self.steps))
            if self.threshold is not None:  # default,threshold=P
                base = replace(base, denoise=replace(base.denoise, threshold=self.threshold))
            if self.neighbours is not None:  # default,neighbours=N
                base = replace(base, cache=replace(base.cache, neighbours=self.neighbours))
            return replace(base, window=window)
        order = UnmaskOrder(self.order) if self.order else base.denoise.order
        denoise = replace(
            base.denoise, steps=self.steps or DenoiseConfig().steps, threshold=self.threshold, order=order
        )
        cache = CacheConfig(self.cache, self.neighbours or 0, reuse=self.warm > 0)
        return replace(base, denoise=denoise, cache=cache, window=window)

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
            "parallel_spans": options.denoise.parallel_spans,
            "warm": self.warm,
            "end_probability": options.end_probability,
        }


_KEYS = {
    "steps": int,
    "threshold": float,
    "cache": int,
    "neighbours": int,
    "window": int,
    "order": str,
    "syntax": lambda v: bool(int(v)),
    "parallel": lambda v: bool(int(v)),
    "warm": int,
    "end": float,
}
# the keys that may follow the ``default`` preset
WITH_DEFAULT = ("steps", "threshold", "neighbours", "window", "syntax", "parallel", "warm", "end")
PRESETS = {
    "plain": {"steps": PLAIN_STEPS},
    "baseline": {},
    "default": {"steps": None, "current": True, "parallel": None},
}


def parse_variant(spec: str) -> Variant:
    """A preset (plain, baseline, default) and/or ``key=value`` items, comma-separated: ``default,syntax=1``.

    Keys: steps, threshold, cache, neighbours, window, order, syntax (0/1), parallel (0/1), warm (requests
    typed before), end (the length estimate's end-of-middle probability, 0: off); a spec without a preset
    starts from ``baseline``.
    """
    spec = spec.strip()
    items = [item.strip() for item in spec.split(",")]
    values: dict[str, object] = dict(PRESETS.get(items[0], {}))
    if items[0] in PRESETS:
        items = items[1:]
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in _KEYS or (values.get("current") and key not in WITH_DEFAULT):
            raise VariantError(
                f"bad variant {spec!r}: use plain, baseline, default and {', '.join(_KEYS)}=VALUE "
                f"(only {', '.join(WITH_DEFAULT)} with default)"
            )
        try:
            values[key] = _KEYS[key](value)
        except ValueError as exc:
            raise VariantError(f"bad value in variant {spec!r}: {item!r}") from exc
    variant = Variant(spec, **values)  # type: ignore[arg-type]
    if variant.warm < 0 or (variant.warm and variant.plain):
        raise VariantError(f"bad variant {spec!r}: warm must be >= 0, and plain decoding has no cache to reuse")
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
