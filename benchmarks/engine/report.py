"""The bench's outputs: ratios against plain decoding, target checks, Markdown tables, JSON and plots.

Plots are drawn with an Agg canvas per figure (no global matplotlib backend change).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

TARGET_CONTEXT = 512
TARGETS = {"ghost_p50_ms": 100.0, "three_holes_p50_ms": 400.0, "speedup_vs_plain": 8.0, "pass_at_1_drop": 0.01}
FAST = "default"  # the variant the targets are checked on: the engine's current defaults


def _cell(latency: list[dict], case: str, context: int, variant: str) -> dict | None:
    for row in latency:
        if row["case"] == case and row["context"] == context and row["variant"] == variant and "p50_ms" in row:
            return row
    return None


def speedups(latency: list[dict], reference: str = "plain") -> list[dict[str, Any]]:
    """p50 of ``reference`` over p50 of every other variant, per (case, context)."""
    out = []
    for row in latency:
        if row["variant"] == reference or "p50_ms" not in row:
            continue
        ref = _cell(latency, row["case"], row["context"], reference)
        if ref is not None and row["p50_ms"] > 0:
            out.append(
                {
                    "case": row["case"],
                    "context": row["context"],
                    "variant": row["variant"],
                    "ratio_p50": round(ref["p50_ms"] / row["p50_ms"], 2),
                }
            )
    return out


def target_context(contexts: list[dict]) -> int | None:
    """The measured context closest to 512 tokens (requested), preferring one that was not capped."""
    usable = [c for c in contexts if not c["capped"]] or contexts
    if not usable:
        return None
    return min(usable, key=lambda c: abs(c["requested"] - TARGET_CONTEXT))["requested"]


def check_targets(record: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, checked on the ``default`` variant at the context nearest 512 tokens."""
    context = target_context(record["contexts"])
    latency, quality = record["latency"], record.get("quality", {})
    out: dict[str, Any] = {"variant": FAST, "context": context}
    ghost = _cell(latency, "ghost", context, FAST) if context else None
    holes = _cell(latency, "three-holes", context, FAST) if context else None
    plain = _cell(latency, "ghost", context, "plain") if context else None
    if ghost:
        out["ghost_p50_ms"] = _verdict(ghost["p50_ms"], TARGETS["ghost_p50_ms"], lower=True)
    if holes:
        out["three_holes_p50_ms"] = _verdict(holes["p50_ms"], TARGETS["three_holes_p50_ms"], lower=True)
    if ghost and plain:
        out["ghost_speedup_vs_plain"] = _verdict(
            round(plain["p50_ms"] / ghost["p50_ms"], 2), TARGETS["speedup_vs_plain"], lower=False
        )
    if FAST in quality and "plain" in quality:
        drop = round(quality["plain"]["pass_at_1"] - quality[FAST]["pass_at_1"], 4)
        out["pass_at_1_drop_vs_plain"] = _verdict(drop, TARGETS["pass_at_1_drop"], lower=True)
    out.update(_typing_targets(latency, quality, context, plain))
    return out


def _typing_targets(latency: list[dict], quality: dict, context: int | None, plain: dict | None) -> dict[str, Any]:
    """The ghost-text targets again for typing (the first ``default,warm=N`` variant measured), if any."""
    warm = next((row["variant"] for row in latency if row["variant"].startswith(f"{FAST},warm=")), None)
    typing = _cell(latency, "ghost", context, warm) if context and warm else None
    if not typing:
        return {}
    out: dict[str, Any] = {"typing_variant": warm}
    out["ghost_typing_p50_ms"] = _verdict(typing["p50_ms"], TARGETS["ghost_p50_ms"], lower=True)
    if plain:
        out["ghost_typing_speedup_vs_plain"] = _verdict(
            round(plain["p50_ms"] / typing["p50_ms"], 2), TARGETS["speedup_vs_plain"], lower=False
        )
    if warm in quality and "plain" in quality:
        drop = round(quality["plain"]["pass_at_1"] - quality[warm]["pass_at_1"], 4)
        out["pass_at_1_drop_typing_vs_plain"] = _verdict(drop, TARGETS["pass_at_1_drop"], lower=True)
    return out


def _verdict(value: float, target: float, lower: bool) -> dict[str, Any]:
    return {"value": value, "target": target, "met": value <= target if lower else value >= target}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown(record: dict[str, Any]) -> str:
    """Tables: latency per case and context, quality per variant, targets."""
    lines = [
        f"# diffill bench: {record['hardware']}",
        "",
        f"model `{record['model']['path']}` ({record['model']['params']:,} parameters, window "
        f"{record['model']['max_length']}), {record['dtype']}, {record['threads']} torch thread(s), "
        f"attention `{record['attention']}`",
        "",
    ]
    for c in record["contexts"]:
        if c["capped"]:
            lines.append(f"context {c['requested']} is capped at the model's window: {c['used']} tokens")
    ratios = {(r["case"], r["context"], r["variant"]): r["ratio_p50"] for r in record["speedup"]}
    lines += [
        "",
        "| case | context | variant | tokens | masked | steps | p50 ms | p95 ms | tokens/s | x plain |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in record["latency"]:
        if "p50_ms" not in row:
            lines.append(
                f"| {row['case']} | {row['context']} | {row['variant']} | skipped: {row.get('skipped')} | | | | | | |"
            )
            continue
        ratio = ratios.get((row["case"], row["context"], row["variant"]))
        lines.append(
            f"| {row['case']} | {row['context']} | {row['variant']} | {row['width']} | {row['masked']} | "
            f"{_fmt(row['steps'])} | {_fmt(row['p50_ms'])} | {_fmt(row['p95_ms'])} | {_fmt(row['tokens_per_s'], 0)} "
            f"| {_fmt(ratio, 2) if ratio else '1 (ref)' if row['variant'] == 'plain' else '-'} |"
        )
    lines += _quality_table(record.get("quality", {})) + _targets_lines(record.get("targets", {}))
    layout = record.get("layout")
    if layout:
        lines += [
            "",
            f"Layout of a {layout['lines']:,}-line file ({layout['tokens']:,} tokens): "
            f"p50 {layout['layout_p50_ms']} ms (tokenising all of it: {layout['tokenize_whole_file_ms']} ms)",
        ]
    return "\n".join(lines) + "\n"


def _quality_table(quality: dict[str, Any]) -> list[str]:
    if not quality:
        return []
    lines = [
        "",
        "| variant | tasks | pass@1 | exact match | parses | same as plain | fill s/task |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, q in quality.items():
        lines.append(
            f"| {name} | {q['tasks']} | {q['pass_at_1']:.3f} | {q['exact_match']:.3f} | "
            f"{q['parse_rate']:.3f} | {_fmt(q.get('same_as_plain'), 3)} | {q['fill_s_per_task']:.3f} |"
        )
    return lines


def _targets_lines(targets: dict[str, Any]) -> list[str]:
    typing = f"; typing: {targets['typing_variant']}" if "typing_variant" in targets else ""
    lines = ["", f"Targets ({targets.get('variant')} at context {targets.get('context')}{typing}):"]
    for key, v in targets.items():
        if isinstance(v, dict):
            lines.append(f"- {key}: {v['value']} (target {v['target']}): {'met' if v['met'] else 'NOT met'}")
    return lines


def write_json(record: dict[str, Any], path: Path) -> Path:
    """Atomically: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(record, indent=1) + "\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)  # an Agg canvas for this figure only
    return fig


def plot_latency_vs_context(record: dict[str, Any], path: Path) -> Path:
    """p50 latency against the sequence length, one panel per case, one line per variant."""
    cases = list(record["cases"])
    fig = _figure(11, 3.2 * ((len(cases) + 1) // 2))
    from matplotlib import colormaps

    colours = colormaps["tab20"]
    for i, case in enumerate(cases):
        ax = fig.add_subplot((len(cases) + 1) // 2, 2, i + 1)
        for k, variant in enumerate(record["variants"]):
            rows = [r for r in record["latency"] if r["case"] == case and r["variant"] == variant and "p50_ms" in r]
            rows.sort(key=lambda r: r["width"])
            if rows:
                style = {"linewidth": 2.5} if variant in ("plain", FAST) else {"linewidth": 1, "alpha": 0.8}
                ax.plot(
                    [r["width"] for r in rows],
                    [r["p50_ms"] for r in rows],
                    marker="o",
                    label=variant,
                    color=colours(k % 20),
                    **style,
                )
        ax.set_title(case)
        ax.set_xlabel("tokens in the sequence")
        ax.set_ylabel("p50 latency (ms)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    handles, labels = fig.axes[0].get_legend_handles_labels() if fig.axes else ([], [])
    fig.legend(handles, labels, loc="upper center", ncol=min(5, max(len(labels), 1)), fontsize=7)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    fig.savefig(path)
    return path


QUALITY_SERIES = (
    ("pass_at_1", "pass@1", "o"),
    ("exact_match", "exact match", "x"),
    ("parse_rate", "parses", "s"),
    ("same_as_plain", "same as plain", "^"),
)


def plot_quality_vs_latency(record: dict[str, Any], path: Path, case: str = "ghost") -> Path | None:
    """Each variant's quality (pass@1, exact match, parse rate, share identical to plain decoding) against its
    ghost-text p50 at the context nearest 512 tokens."""
    context = target_context(record["contexts"])
    points = []
    for name, q in record.get("quality", {}).items():
        cell = _cell(record["latency"], case, context, name)
        if cell is not None:
            points.append((name, cell["p50_ms"], q))
    if not points:
        return None
    fig = _figure(8, 5)
    ax = fig.add_subplot()
    for key, label, marker in QUALITY_SERIES:
        ax.scatter([p[1] for p in points], [p[2].get(key, 0.0) for p in points], marker=marker, label=label)
    for name, ms, q in points:
        ax.annotate(
            name, (ms, q.get("same_as_plain", 0.0)), fontsize=6, xytext=(3, 3), textcoords="offset points", rotation=20
        )
    ax.set_xscale("log")
    ax.set_xlabel(f"{case} p50 latency at context {context} (ms)")
    ax.set_ylabel(f"HumanEval single-line, {points[0][2]['tasks']} tasks")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path
