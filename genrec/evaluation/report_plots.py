"""The inline SVG plots of a report: metrics per turn (with bootstrap bands in a chat run), the
final metrics as grouped bars, the agent's latency histogram (matplotlib, loaded on first use)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

    from matplotlib.figure import Figure

COLORS = {
    "agent": "#d62728", "popularity": "#7f7f7f", "full_history": "#1f77b4",
    "mentioned_fold_in": "#2ca02c", "content_only": "#9467bd", "ranker": "#1f77b4",
    "oracle_popularity": "#17becf", "constrained_fold_in": "#bcbd22",
}

def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _plt() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 10, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt


def plot_curves(
    per_turn: Mapping[str, Mapping[str, Sequence[float | None]]], names: Sequence[str]
) -> str | None:
    """Metric-per-turn curves (``per_turn``: system -> metric -> value per turn), one panel per
    metric in `names`, one line per system."""
    if not per_turn:
        return None
    T = max((len(v) for d in per_turn.values() for v in d.values()), default=0)
    if T < 1:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 2.8))
    for ax, m in zip(axes, names):
        for s, d in per_turn.items():
            vals = d.get(m)
            if not vals:
                continue
            ys = [float("nan") if v is None else v for v in vals]
            ax.plot(range(1, len(ys) + 1), ys, marker="o", ms=3, lw=2 if s == "agent" else 1.3,
                    color=COLORS.get(s), label=s, ls="-" if s == "agent" else "--")
        ax.set_title(m)
        ax.set_xlabel("turn")
        ax.set_xticks(range(1, T + 1))
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False, fontsize=9,
               bbox_to_anchor=(0.5, 1.08))
    return _svg(fig)


def plot_final_bars(
    final: Mapping[str, Mapping[str, Any]], systems: Sequence[str], core: Sequence[str]
) -> str | None:
    """Grouped bars of the final metrics per system: those of `core` some system has."""
    if not final:
        return None
    plt = _plt()
    names = [m for m in core if any(m in final[s] for s in systems)]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(names) + 2), 3.0))
    width = 0.8 / max(len(systems), 1)
    for j, s in enumerate(systems):
        ys = [final[s].get(m) or 0.0 for m in names]
        xs = [i + (j - (len(systems) - 1) / 2) * width for i in range(len(names))]
        bars = ax.bar(xs, ys, width=width * 0.95, color=COLORS.get(s), label=s)
        for b, y in zip(bars, ys):
            ax.text(
                b.get_x() + b.get_width() / 2, y, f"{y:.2f}", ha="center", va="bottom", fontsize=7
            )
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.legend(
        fontsize=8,
        frameon=False,
        ncol=min(len(systems), 5),
        loc="upper left",
        bbox_to_anchor=(0, 1.18),
    )
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def plot_latency(latencies: Sequence[float]) -> str | None:
    """Histogram of the agent's per-turn latency."""
    vals = [float(x) for x in latencies if x is not None]
    if not vals:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    ax.hist(vals, bins=min(40, max(5, len(vals) // 10)), color=COLORS["agent"], alpha=0.85)
    ax.set_xlabel("agent latency per turn (ms)")
    ax.set_ylabel("turns")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _svg(fig)


def plot_interval_curves(metrics: Mapping[str, Any], names: Sequence[str]) -> str | None:
    """One panel per metric: every system's mean per turn with its bootstrap band (oracles
    dotted)."""
    per_turn, intervals = metrics.get("per_turn") or {}, metrics.get("intervals") or {}
    names = [m for m in names if any(m in d for d in per_turn.values())]
    if not names:
        return None
    oracles = set((metrics.get("groups") or {}).get("oracles") or ())
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 3.2), squeeze=False)
    for ax, m in zip(axes[0], names):
        for s, d in per_turn.items():
            vals = d.get(m)
            if not vals or all(v is None for v in vals):
                continue
            xs = list(range(1, len(vals) + 1))
            ys = [float("nan") if v is None else v for v in vals]
            style = ":" if s in oracles else ("-" if s == "agent" else "--")
            ax.plot(
                xs,
                ys,
                marker="o",
                ms=3,
                lw=2 if s == "agent" else 1.3,
                color=COLORS.get(s),
                ls=style,
                label=s + (" (oracle)" if s in oracles else ""),
            )
            band = (intervals.get(s) or {}).get(m)
            if band:
                lo = [float("nan") if v is None else v for v in band["low"]]
                hi = [float("nan") if v is None else v for v in band["high"]]
                ax.fill_between(xs, lo, hi, color=COLORS.get(s), alpha=0.12, lw=0)
        ax.set_title(m)
        ax.set_xlabel("turn")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=min(len(labels), 4),
        frameon=False,
        fontsize=9,
        bbox_to_anchor=(0.5, 1.12),
    )
    return _svg(fig)


__all__ = ["COLORS", "plot_curves", "plot_final_bars", "plot_interval_curves", "plot_latency"]
