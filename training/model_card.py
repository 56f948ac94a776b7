"""The model card (README.md) of a checkpoint directory, rendered from what the directory holds.

A checkpoint carries ``training_config.json`` (the run's settings), ``trainer_state.json`` (steps, tokens,
time, hardware), its weights, and optionally ``scores.json`` (evaluation summaries). The card names the
corpus sources and licenses (from the corpus's ``stats.json`` / ``licenses.json``), the architecture and
size, tokens seen, training time and hardware, and the scores. ``diffill-train card DIR`` renders it again.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import safe_open

SCORES_FILE = "scores.json"
CONFIG_FILE = "training_config.json"
STATE_FILE = "trainer_state.json"
CORPUS_FILES = ("stats.json", "licenses.json")  # copied into exported models as corpus_*.json


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def count_weights(model_dir: Path) -> int:
    """Parameters stored in the directory's safetensors files (tied weights are stored once)."""
    total = 0
    for shard in sorted(model_dir.glob("*.safetensors")):
        if shard.name.startswith(("optimizer", "time_embedding")):
            continue
        with safe_open(str(shard), framework="pt") as f:
            total += sum(_numel(f.get_slice(key).get_shape()) for key in f.keys())  # noqa: SIM118
    return total


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _sources(stats: dict, licenses: dict) -> list[str]:
    kept = licenses.get("kept", {})
    distributions = sorted({s for info in kept.values() for s in info.get("sources", {})})
    stdlib = [s for s in distributions if s == "stdlib"]
    packages = [s.split(":", 1)[1] for s in distributions if s.startswith("site-packages:")]
    other = [s for s in distributions if s not in stdlib and not s.startswith("site-packages:")]
    parts = []
    if stdlib:
        parts.append("the Python standard library")
    if packages:
        parts.append(f"the sources of {len(packages)} installed packages ({', '.join(packages)})")
    parts += other
    return parts


def _data_section(corpus: Path | None, model_dir: Path | None = None) -> list[str]:
    stats = _read_json(corpus / "stats.json") if corpus is not None else {}
    licenses = _read_json(corpus / "licenses.json") if corpus is not None else {}
    if not stats and model_dir is not None:  # an exported model carries copies
        stats = _read_json(model_dir / "corpus_stats.json")
        licenses = _read_json(model_dir / "corpus_licenses.json")
    lines = ["## Training data", ""]
    sources = _sources(stats, licenses)
    if sources:
        lines += ["Sources: " + "; ".join(sources) + ".", ""]
    for key, label in (
        ("files_kept", "files kept"),
        ("bytes_kept", "bytes"),
        ("chunks", "examples (chunks)"),
        ("spans", "spans"),
        ("estimated_tokens_examples", "tokens (estimate: bytes / 3.5)"),
    ):
        if key in stats:
            lines.append(f"- {label}: {stats[key]:,}")
    kept = licenses.get("kept", {})
    if kept:
        lines += ["", "| license (kept) | files | bytes |", "|---|---|---|"]
        for name, info in sorted(kept.items(), key=lambda kv: -kv[1].get("bytes", 0)):
            lines.append(f"| {name} | {info.get('files', 0):,} | {info.get('bytes', 0):,} |")
    excluded = licenses.get("excluded_files", {})
    if excluded:
        names = ", ".join(f"{k} ({v} files)" for k, v in sorted(excluded.items()))
        lines += ["", f"Excluded by license: {names}."]
    dropped = stats.get("dropped", {})
    if dropped:
        lines += ["", "Dropped: " + ", ".join(f"{k} {v:,}" for k, v in sorted(dropped.items())) + "."]
    lines += ["", "Decontaminated against HumanEval-infilling (files sharing a 13-gram with it were dropped).", ""]
    return lines


def render_card(
    config: dict, state: dict, params: int, scores: dict | None = None, model_dir: Path | None = None
) -> str:
    """Markdown model card from a run's config, trainer state and parameter count."""
    m = config.get("model", {})
    hardware = state.get("extra", {}).get("hardware", "unrecorded hardware")
    architecture = (
        f"- initialised from {config['init']}"
        if config.get("init")
        else f"- ModernBERT encoder: hidden {m.get('hidden')}, layers {m.get('layers')}, heads {m.get('heads')}, "
        f"FFN {m.get('intermediate')}, window {m.get('max_length')} tokens"
    )
    timing = (
        "time-conditioned (learned time embedding)"
        if config.get("time_conditioning")
        else "time-agnostic (no time input)"
    )
    lines = [
        "# diffill masked-diffusion code model",
        "",
        "A masked LM trained with diffill's absorbing-state diffusion objective to fill code (fill-in-the-middle,",
        "`???` holes, region rewrites); `<|eom|>` tokens end each middle, so holes get their length from the",
        "model. Load it with `diffill fill --model DIR` (safetensors; no remote code).",
        "",
        "## Model",
        "",
        f"- parameters: {params:,} ({params / 1e6:.1f}M)",
        architecture,
        f"- noise schedule: {config.get('schedule')}; loss weighting: {config.get('loss_weighting')}; {timing}",
        "",
        "## Training",
        "",
        f"- steps: {state.get('step', 0):,}, batch {config.get('batch_size')}, peak lr {config.get('lr')}, "
        f"warm-up {config.get('warmup')} steps then cosine decay",
        f"- tokens seen: {state.get('tokens_processed', 0):,} through the model, "
        f"{state.get('tokens_seen', 0):,} of them masked (loss-bearing)",
        f"- training time: {state.get('train_seconds', 0) / 60:.1f} min on {hardware}",
        "",
        *_data_section(Path(config["corpus"]) if config.get("corpus") else None, model_dir),
        *scores_section(scores or {}),
    ]
    return "\n".join(lines) + "\n"


def card_for(checkpoint: Path) -> str:
    """Render the card of a checkpoint directory from the files it holds."""
    config = _read_json(checkpoint / CONFIG_FILE)
    if not config:
        raise FileNotFoundError(f"{checkpoint} has no {CONFIG_FILE}; was it written by diffill-train train?")
    return render_card(
        config,
        _read_json(checkpoint / STATE_FILE),
        count_weights(checkpoint),
        _read_json(checkpoint / SCORES_FILE),
        checkpoint,
    )


def scores_section(scores: dict) -> list[str]:
    """A table of evaluation summaries: {benchmark: {metric: value}}."""
    if not scores:
        return ["## Scores", "", "Not evaluated yet: run `diffill-train eval --model DIR --card`.", ""]
    lines = ["## Scores", "", "| benchmark | setting | pass@1 | exact match | parses | tasks |"]
    lines.append("|---|---|---|---|---|---|")
    for name, s in scores.items():
        if "elbo_nats_per_token" in s:
            lines.append(
                f"| {name} | {s.get('setting', '')} | ELBO {s['elbo_nats_per_token']:.3f} nats/token, "
                f"perplexity <= {s['elbo_perplexity_bound']:.2f} | | | {s.get('tasks', '')} |"
            )
            continue
        lines.append(
            f"| {name} | {s.get('setting', '')} | {s.get('pass_at_1', 0):.1%} "
            f"| {s.get('exact_match', s.get('hole_exact_match', 0)):.1%} "
            f"| {s.get('parse_rate', 0):.1%} | {s.get('tasks', '')} |"
        )
    return [*lines, ""]
