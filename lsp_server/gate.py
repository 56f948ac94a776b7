"""The confidence gate: is automatic ghost text sure enough to show?

Ghost text that is usually wrong teaches the user to ignore it. Each fill says how sure the model was of
every token it committed and how sharply the length estimate ended the middle (``lsp_server/jobs/ghost.py``);
``features`` reads a few numbers off the tokens the user would see and ``score`` turns them into one number
in [0, 1], calibrated as the chance that the suggestion is right: a logistic fit (``GATE``) chosen and fitted
by ``benchmarks/ghost_gate.py`` on half of HumanEval-infilling's single-line tasks and checked on the other
half. An automatic request is answered only when the score reaches the ``minConfidence`` setting (default
0.2: on the held-out half, 27% of the requests get a suggestion and 44% of those pass, where without the gate
20% of all suggestions pass); an invoked one always is (the user asked). The fit is the bundled model's; with
another checkpoint the scores still rank its suggestions, but their calibration is not known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from diffill.confidence import TokenSpan

FLOOR = 1e-6  # probabilities are clipped here before their logarithm


@dataclass(frozen=True)
class Features:
    """What the gate reads off one suggestion."""

    mean: float  # mean confidence of the shown tokens
    minimum: float  # the least confident shown token
    mean_log: float  # mean log-confidence (the log of the geometric mean)
    end_peak: float  # the length estimate's most likely length: its probability
    tokens: int  # shown tokens


def features(spans: Sequence[TokenSpan], end_probabilities: Sequence[float]) -> Features:
    """The gate's features of a suggestion whose shown tokens are ``spans`` (with their confidence)."""
    conf = [c for _, _, c in spans]
    if not conf:
        return Features(0.0, 0.0, math.log(FLOOR), end_peak(end_probabilities), 0)
    logs = [math.log(max(c, FLOOR)) for c in conf]
    return Features(sum(conf) / len(conf), min(conf), sum(logs) / len(logs), end_peak(end_probabilities), len(conf))


def end_peak(p_end: Sequence[float]) -> float:
    """The probability of the most likely middle length, reading the first step's end-of-middle probability at
    each position as the chance that the middle ends there given it reached it (the first position never
    ends it). 1.0 when no length was estimated (a sharp, given length)."""
    if not p_end:
        return 1.0
    survive, best = 1.0, 0.0
    for p in p_end[1:]:
        best = max(best, survive * p)
        survive *= 1.0 - p
    return max(best, survive)


@dataclass(frozen=True)
class Logistic:
    """``sigmoid(bias + sum(weight * feature))`` over named features of ``Features``."""

    bias: float
    weights: tuple[tuple[str, float], ...]

    def __call__(self, f: Features) -> float:
        z = self.bias + sum(w * _value(f, name) for name, w in self.weights)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def _value(f: Features, name: str) -> float:
    if name == "log_tokens":
        return math.log1p(f.tokens)
    return float(getattr(f, name))


# Fitted by benchmarks/ghost_gate.py on the bundled model's fills of HumanEval single-line tasks of even-numbered
# problems (188 tasks; every 5th task from the first and from the third); benchmarks/results/ghost/gate.json
# holds the fit, the other candidates and the coverage/precision curves. On the other half (226 tasks) it ranks
# best of the candidates at 10-40% coverage (44% of the shown suggestions pass at 25% coverage, against 37% for
# the mean token confidence), and so it does fitted the other way round (43% against 34%).
GATE = Logistic(
    bias=-3.506,
    weights=(
        ("mean", 4.2234),
        ("minimum", 2.433),
        ("mean_log", -0.1272),
        ("end_peak", 0.3515),
        ("log_tokens", -1.6095),
    ),
)


def score(f: Features, model: Logistic = GATE) -> float:
    """The gate's statistic: the calibrated chance that the suggestion is right (0 when it shows no token)."""
    return model(f) if f.tokens else 0.0


def shown(value: float, min_confidence: float, invoked: bool) -> bool:
    """Whether a suggestion with gate score ``value`` is shown."""
    return invoked or value >= min_confidence
