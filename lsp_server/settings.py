"""The language server's settings: a typed frozen dataclass read from the client's JSON.

Settings come from three layers, later ones winning: the ``diffill serve`` flags, the client's
``initializationOptions`` and the ``diffill`` section of ``workspace/didChangeConfiguration`` (or of
``workspace/configuration``). On the wire every key is the camelCase form of a field name
(``lineLength``, ``holeMarker``, ...). A value that fails its check keeps the value of the layer below and
is reported once, so the client can show one message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from diffill import defaults
from diffill.choices import COMPILE_MODES, DEVICES, DTYPES
from diffill.holes import DEFAULT_MARKER

SECTION = "diffill"
ADAPT_MODES = ("off", "manual", "background")

Check = Callable[[Any], Any]


def _int(lo: int, hi: int) -> Check:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"must be an integer in {lo}..{hi}")
        return value

    return check


def _float(lo: float, hi: float, open_low: bool = False) -> Check:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if not (lo < value if open_low else lo <= value) or value > hi:
            raise ValueError(f"must be in {'(' if open_low else '['}{lo}, {hi}]")
        return float(value)

    return check


def _choice(options: tuple[str, ...]) -> Check:
    def check(value: Any) -> str:
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return check


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _model(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a directory path (or null for the bundled model)")
    return os.path.expandvars(os.path.expanduser(value))


def _marker(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value:
        raise ValueError("must be a non-empty string on one line")
    return value


def _languages(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("must be a list of languageIds (an empty list enables every language)")
    return tuple(value)


def _check(fn: Check) -> dict[str, Check]:
    return {"check": fn}


@dataclass(frozen=True)
class Settings:
    """Everything a client may configure (wire names are the camelCase forms)."""

    model: str | None = field(default=None, metadata=_check(_model))  # checkpoint dir; None: bundled
    device: str = field(default="auto", metadata=_check(_choice(DEVICES)))
    dtype: str = field(default="auto", metadata=_check(_choice(DTYPES)))
    threads: int = field(default=0, metadata=_check(_int(0, 256)))  # torch CPU threads; 0: torch's default
    # torch.compile of the encoder (GPU: reduce-overhead records CUDA graphs; the first load takes minutes)
    compile: str = field(default="off", metadata=_check(_choice(COMPILE_MODES)))
    steps: int = field(default=defaults.STEPS, metadata=_check(_int(1, 1024)))  # denoising steps (at most)
    line_length: int = field(default=defaults.LINE_LENGTH, metadata=_check(_int(1, 512)))  # a line, a hole on its own
    # a block after an opener. The bundled model reads a middle's length off its budget: on the block cases of
    # HumanEval single-line (every 10th task: 22 one-line blocks) a budget of 16 passes 7, 32 passes 5, 96 passes 2
    multiline_length: int = field(default=16, metadata=_check(_int(1, 1024)))
    inline_length: int = field(default=defaults.INLINE_LENGTH, metadata=_check(_int(1, 512)))  # the rest of a line
    # a hole ends where P(end-of-middle) first reaches this on the first step; 0: no estimate, full budgets
    end_probability: float = field(default=defaults.END_PROBABILITY or 0.0, metadata=_check(_float(0.0, 1.0)))
    hole_marker: str = field(default=DEFAULT_MARKER, metadata=_check(_marker))
    temperature: float = field(default=0.8, metadata=_check(_float(0.0, 5.0)))  # invoked candidates
    candidates: int = field(default=3, metadata=_check(_int(1, 16)))  # invoked: how many to sample
    languages: tuple[str, ...] = field(default=("python",), metadata=_check(_languages))
    # automatic ghost text: wait this long before generating (adaptiveDebounce off), or at least this long when
    # the adaptive debounce waits at all
    debounce_ms: int = field(default=0, metadata=_check(_int(0, 5000)))
    # automatic ghost text: wait as this user's typing and this machine's generations make worth it
    # (lsp_server/debounce.py): a multiple of the typing interval, none when generations are fast next to typing
    adaptive_debounce: bool = field(default=True, metadata=_check(_bool))
    debounce_max_ms: int = field(default=400, metadata=_check(_int(0, 5000)))  # the adaptive debounce's longest wait
    light_strength: float = field(default=0.4, metadata=_check(_float(0.0, 1.0, open_low=True)))
    complete_in_comments: bool = field(default=False, metadata=_check(_bool))
    complete_in_strings: bool = field(default=False, metadata=_check(_bool))
    multiline_on_empty_line: bool = field(default=False, metadata=_check(_bool))
    # diffill/prefetch: encode the context where the cursor rests, so the next keystroke's ghost text starts warm
    prefetch: bool = field(default=True, metadata=_check(_bool))
    # automatic ghost text is shown only when the confidence gate's score (lsp_server/gate.py: the calibrated
    # chance that the suggestion is right) reaches this; invoked requests always answer
    min_confidence: float = field(default=0.2, metadata=_check(_float(0.0, 1.0)))
    # fills and rewrites mark their tokens less confident than this for review (diffill/marks); 0: no marks
    uncertain_below: float = field(default=0.5, metadata=_check(_float(0.0, 1.0)))
    # fills and rewrites send their text as it denoises (diffill/preview), for the editor to draw over the span
    preview: bool = field(default=True, metadata=_check(_bool))
    # learning the workspace: off, manual (on the diffill.adaptNow command), background (while the user is idle)
    adapt: str = field(default="manual", metadata=_check(_choice(ADAPT_MODES)))
    adapt_minutes: float = field(default=12.0, metadata=_check(_float(0.0, 240.0, open_low=True)))  # training time
    # repository context: tokens of the workspace's code most like the text at the cursor, put before the prefix
    context_tokens: int = field(default=0, metadata=_check(_int(0, 384)))

    def enabled_for(self, language_id: str | None) -> bool:
        """Whether inline completion runs in a document of this languageId."""
        return not self.languages or (language_id or "") in self.languages

    def model_key(self) -> tuple[str | None, str, str, int, str]:
        """What decides how the model is loaded: a change reloads it."""
        return self.model, self.device, self.dtype, self.threads, self.compile

    def to_wire(self) -> dict[str, Any]:
        """The settings as the client writes them."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[wire_name(f.name)] = list(value) if isinstance(value, tuple) else value
        return out


def wire_name(name: str) -> str:
    """``line_length`` -> ``lineLength``."""
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


_FIELDS = {wire_name(f.name): f for f in fields(Settings)}


def section(raw: Any) -> Mapping[str, Any] | None:
    """The ``diffill`` section of a settings object that may or may not be nested under it."""
    if not isinstance(raw, Mapping):
        return None
    inner = raw.get(SECTION)
    if isinstance(inner, Mapping):
        return inner
    return raw if not raw or any(k in _FIELDS for k in raw) else None


def parse_settings(raw: Mapping[str, Any] | None, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """``base`` with the valid values of ``raw`` applied, and one line per invalid or unknown key."""
    base = base or Settings()
    if raw is None:
        return base, []
    changes: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        spec = _FIELDS.get(key)
        if spec is None:
            problems.append(f"unknown setting {key!r}")
            continue
        if value is None and spec.name != "model":  # null: this layer leaves the key to the one below
            continue
        try:
            changes[spec.name] = spec.metadata["check"](value)
        except ValueError as exc:
            problems.append(f"{key} {exc} (got {value!r}); using {getattr(base, spec.name)!r}")
    return replace(base, **changes), problems


def problems_message(problems: list[str]) -> str:
    """One message for the client about every invalid setting."""
    return "diffill: invalid settings: " + "; ".join(problems)
