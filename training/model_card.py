"""The model card (README.md) written into every checkpoint directory.

It names the corpus sources and licenses (from the corpus's ``stats.json`` / ``licenses.json``), the
architecture and size, tokens seen, training time and hardware, and any evaluation scores recorded in
``scores.json`` beside the weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.checkpoint import TrainerState
    from training.train import TrainConfig

SCORES_FILE = "scores.json"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _licenses_section(corpus: Path) -> list[str]:
    licenses = _read_json(corpus / "licenses.json")
    stats = _read_json(corpus / "stats.json")
    lines = ["## Training data", ""]
    sources = stats.get("sources") or _read_json(corpus / "config.json").get("sources")
    if sources:
        lines.append(f"Sources: {', '.join(str(s) for s in sources)}.")
    for key in ("files_kept", "chunks", "bytes_kept", "tokens_estimate"):
        if key in stats:
            lines.append(f"- {key.replace('_', ' ')}: {stats[key]:,}")
    if licenses:
        lines += ["", "| license | files | bytes |", "|---|---|---|"]
        for name, info in sorted(licenses.items()):
            if isinstance(info, dict):
                lines.append(f"| {name} | {info.get('files', '')} | {info.get('bytes', '')} |")
    lines += ["", "Nothing from HumanEval: the corpus was decontaminated against the evaluation sets (13-gram).", ""]
    return lines


def render_card(cfg: TrainConfig, state: TrainerState, params: int, hardware: str, scores: dict | None = None) -> str:
    """Markdown model card for a checkpoint of this run."""
    m = cfg.model
    lines = [
        "# diffill masked-diffusion code model",
        "",
        "A ModernBERT-style masked LM trained with diffill's absorbing-state diffusion objective to fill code",
        "(fill-in-the-middle, `???` holes, region rewrites). Load it with `diffill fill --model DIR`.",
        "",
        "## Model",
        "",
        f"- parameters: {params:,} ({params / 1e6:.1f}M)",
        f"- hidden {m.hidden}, layers {m.layers}, heads {m.heads}, FFN {m.intermediate}, window {m.max_length} tokens"
        if cfg.init is None else f"- initialised from {cfg.init}",
        f"- noise schedule: {cfg.schedule}; loss weighting: {cfg.loss_weighting}; "
        + ("time-conditioned (learned time embedding)" if cfg.time_conditioning else "time-agnostic (no time input)"),
        "",
        "## Training",
        "",
        f"- steps: {state.step:,}, batch {cfg.batch_size}, peak lr {cfg.lr}",
        f"- tokens seen: {state.tokens_processed:,} through the model, {state.tokens_seen:,} of them masked",
        f"- training time: {state.train_seconds / 60:.1f} min on {hardware}",
        "",
        *_licenses_section(cfg.corpus),
    ]
    lines += scores_section(scores if scores is not None else {})
    return "\n".join(lines) + "\n"


def scores_section(scores: dict) -> list[str]:
    """A table of evaluation summaries: {benchmark: {metric: value}}."""
    if not scores:
        return ["## Scores", "", "Not evaluated yet: run `diffill-train eval --model DIR`.", ""]
    lines = ["## Scores", "", "| benchmark | setting | pass@1 | exact match | parses | tasks |"]
    lines.append("|---|---|---|---|---|---|")
    for name, s in scores.items():
        if "elbo_nats_per_token" in s:
            lines.append(f"| {name} | {s.get('setting', '')} | ELBO {s['elbo_nats_per_token']:.3f} nats/token, "
                         f"perplexity <= {s['elbo_perplexity_bound']:.2f} | | | {s.get('tasks', '')} |")
            continue
        lines.append(
            f"| {name} | {s.get('setting', '')} | {s.get('pass_at_1', 0):.1%} "
            f"| {s.get('exact_match', s.get('hole_exact_match', 0)):.1%} "
            f"| {s.get('parse_rate', 0):.1%} | {s.get('tasks', '')} |"
        )
    return [*lines, ""]
