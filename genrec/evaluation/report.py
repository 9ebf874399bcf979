"""Run reports: a self-contained report.html (inline CSS, inline SVG plots) and a plain-text
summary table, from a metrics.json-shaped dict (`final` and optional `per_turn` per system).
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genrec.evaluation.report_plots import plot_curves, plot_final_bars, plot_latency
from genrec.provenance import git_commit, provenance

CORE = ("ndcg@{k}", "recall@{k}", "hr@{k}", "mrr")
TABLE_COLUMNS = (
    "recall_cum@{k}_intent",
    "success_intent",
    "recall_cum@{k}",
    "success",
    "turns_to_hit",
    "ndcg@{k}_standing",
    "ndcg@{k}",
    "recall@{k}",
    "hr@{k}",
    "mrr",
    "precision@{k}",
    "mean_test_rating",
    "constraint_violations",
    "seen",
    "repeated",
    "disliked",
)
TARGET_COLUMNS = ("sr@{T}", "avg_turns", "hdcg", "questions", "constraint_violations")
"""The target protocol's summary columns (``sr@T`` is named for the number of turns)."""
AGENT_COLUMNS = (
    "verified_share",
    "llm_text_share",
    "unknown_titles",
    "latency_ms",
    "llm_calls",
    "question",
    "error",
    "understood_liked",
    "misread_disliked",
    "understood_avoided",
    "year_filter",
)
NOT_SYSTEMS = ("ci", "ci_intent", "failures_removed")
"""Keys of ``final`` that are not systems (the bootstrap blocks)."""


def _systems(metrics: Mapping[str, Any]) -> list[str]:
    """The systems of ``final``: agent and peers first, oracles (``groups.oracles``) last."""
    final = metrics.get("final") or {}
    oracles = list((metrics.get("groups") or {}).get("oracles") or ())
    names = [s for s in final if s not in NOT_SYSTEMS]
    return [s for s in names if s not in oracles] + [s for s in names if s in oracles]


def _k(metrics: Mapping[str, Any]) -> int:
    return int(metrics.get("k", 10))


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.1f}" if abs(v) >= 100 else f"{v:.4f}"
    return str(v)


def _columns(metrics: Mapping[str, Any], template: Sequence[str] | None = None) -> list[str]:
    """The summary columns present in ``final``: the protocol's (target or taste) unless `template`
    is given."""
    k, T = _k(metrics), int(metrics.get("turns", 0) or 0)
    if template is None:
        template = TARGET_COLUMNS if metrics.get("protocol") == "target" else TABLE_COLUMNS
    names = [c.format(k=k, T=T) for c in template]
    final = metrics.get("final", {})
    present = {m for s in _systems(metrics) for m in final[s]}
    return [c for c in names if c in present]


def format_summary(metrics: Mapping[str, Any], *, columns: Sequence[str] | None = None) -> str:
    """A fixed-width table: one row per system, the final value of each metric.

    >>> print(format_summary({"k": 10, "final": {"agent": {"ndcg@10": 0.5, "mrr": 0.25}}}))
    system  ndcg@10  mrr
    agent   0.5000   0.2500
    """
    final = metrics.get("final", {})
    cols = list(columns) if columns else _columns(metrics)
    systems = _systems(metrics)
    rows = [["system", *cols]] + [[s, *(_fmt(final[s].get(c)) for c in cols)] for s in systems]
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    oracles = set((metrics.get("groups") or {}).get("oracles") or ())
    first_oracle = next((n for n, s in enumerate(systems, 1) if s in oracles), None)
    if first_oracle is not None:
        lines.insert(
            first_oracle, "-- oracles (know the user's training items; references, not the bar):"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- html

_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;\
margin:24px auto;max-width:1180px;
color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}\
h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
th,td{padding:4px 10px;text-align:right;border-bottom:1px solid #eee}
th:first-child,td:first-child{text-align:left}
th{background:#f6f6f6;font-weight:600}
tr.agent td{font-weight:600;background:#fff4f4}
.ok{background:#e8f6e8;border:1px solid #9c9;padding:8px 12px;border-radius:6px}
.bad{background:#fde8e8;border:1px solid #d99;padding:8px 12px;border-radius:6px;\
color:#900;font-weight:600}
pre{background:#f8f8f8;padding:10px;font-size:12px;overflow:auto;max-height:420px}
.plot svg{max-width:100%;height:auto}
.note{font-size:12px;color:#555}
"""


def _table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, agent_row: str | None = "agent"
) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for r in rows:
        cls = ' class="agent"' if agent_row and r and r[0] == agent_row else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_html(
    metrics: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    latencies: Sequence[float] = (),
    title: str = "genrec evaluation",
    notes: Sequence[str] = (),
    sections: Sequence[str] = (),
) -> str:
    """The whole report as one HTML string (no external resources)."""
    final = {s: metrics["final"][s] for s in _systems(metrics)}
    chat = metrics.get("kind", "chat") == "chat"
    target = metrics.get("protocol") == "target"
    parts = [f"<h1>{html.escape(title)}</h1>", *_run_status(metrics, config)]
    parts.append("<h2>Summary (after the last turn)</h2>" if chat else "<h2>Summary</h2>")
    parts += _summary(metrics, final, _summary_columns(metrics, final, chat))
    for n in notes:
        parts.append(f"<p class='note'>{html.escape(n)}</p>")
    parts.extend(sections)
    parts += _per_turn(metrics, latencies, target)
    parts.append(
        "<h2>Configuration</h2><pre>"
        + html.escape(json.dumps(config, indent=2, default=str))
        + "</pre>"
    )
    extra = {k: v for k, v in metrics.items() if k not in ("final", "per_turn")}
    parts.append(
        "<h2>Run facts</h2><pre>" + html.escape(json.dumps(extra, indent=2, default=str)) + "</pre>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>"
        + html.escape(title)
        + "</title><style>"
        + _CSS
        + "</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def _summary_columns(
    metrics: Mapping[str, Any], final: Mapping[str, Mapping[str, Any]], chat: bool
) -> list[str]:
    """The summary table's metric columns: a chat run's chosen ones, else every metric the
    systems report, in first-seen order (without the aliases a ranker report writes twice)."""
    if chat:
        return _columns(metrics)
    k = _k(metrics)
    alias = {f"hr@{k}": f"hit_rate@{k}", "mrr": f"mrr@{k}"}  # written twice by write_ranker_report
    seen = {m for d in final.values() for m in d}
    return [c for c in dict.fromkeys(m for d in final.values() for m in d)
            if c != "users" and alias.get(c) not in seen]


def _run_status(metrics: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The run's settings line, the leakage verdict and a note when the run is incomplete."""
    cfg = config.get("config") or config.get("protocol") or config
    meta = [
        f"{k}: {cfg.get(k)}"
        for k in ("dataset", "split", "turns", "simulator", "llm", "policy", "seed")
        if k in cfg
    ]
    meta += [f"users: {metrics.get('n_users', '-')}", f"commit: {config.get('git_commit') or '-'}",
             f"created: {config.get('created', '-')}"]
    parts = [f"<p class='meta'>{html.escape(' · '.join(meta))}</p>"]
    leak = metrics.get("leakage")
    if leak is not None:
        if leak.get("count"):
            parts.append(
                f"<p class='bad'>LEAKAGE: simulated users named {leak['count']} held-out item(s); "
                "this run is invalid.</p>"
            )
        else:
            parts.append(
                "<p class='ok'>Leakage guard: no held-out title was named by a simulated user.</p>"
            )
    if metrics.get("complete") is False:
        parts.append(
            f"<p class='bad'>Incomplete run: {metrics.get('n_users')} of "
            f"{metrics.get('users_selected')} users done; rerun the same command to resume.</p>"
        )
    return parts


def _summary(
    metrics: Mapping[str, Any], final: Mapping[str, Mapping[str, Any]], cols: Sequence[str]
) -> list[str]:
    """The summary table, the agent's own figures and the note on the oracles."""
    parts = [
        _table(["system", *cols], [[s, *(d.get(c) for c in cols)] for s, d in final.items()])
    ]
    agent_cols = [c for c in AGENT_COLUMNS if c in final.get("agent", {})]
    if agent_cols:
        lat = metrics.get("latency_ms", {})
        parts.append(_table(["agent", *agent_cols, "latency p50", "latency p95"],
                            [["mean per turn", *(final["agent"].get(c) for c in agent_cols),
                              lat.get("p50"), lat.get("p95")]], agent_row=None))
    oracles = list((metrics.get("groups") or {}).get("oracles") or ())
    if oracles:
        parts.append(
            f"<p class='note'>Oracles (last rows: {html.escape(', '.join(oracles))}) know the "
            "user's training items: labelled references, not the bar.</p>"
        )
    return parts


def _per_turn(metrics: Mapping[str, Any], latencies: Sequence[float], target: bool) -> list[str]:
    """The plots (metrics per turn, final metrics, agent latency) and the ndcg@k table per turn;
    a target run has the latency plot only."""
    parts = []
    core = [c.format(k=_k(metrics)) for c in CORE]
    curves = None if target else plot_curves(metrics.get("per_turn") or {}, core)
    if curves:
        parts.append("<h2>Metrics per turn</h2><div class='plot'>" + curves + "</div>")
    bars = None if target else plot_final_bars(metrics.get("final") or {}, _systems(metrics), core)
    if bars:
        parts.append("<h2>Final metrics</h2><div class='plot'>" + bars + "</div>")
    hist = plot_latency(latencies)
    if hist:
        parts.append("<h2>Agent latency</h2><div class='plot'>" + hist + "</div>")
    per_turn = metrics.get("per_turn", {})
    if per_turn and not target:
        k = _k(metrics)
        m = f"ndcg@{k}"
        T = max((len(d.get(m, [])) for d in per_turn.values()), default=0)
        parts.append(f"<h2>{m} per turn</h2>")
        parts.append(_table(["system", *[f"turn {t + 1}" for t in range(T)]],
                            [[s, *d.get(m, [])] for s, d in per_turn.items()]))
    return parts


def write_report(
    out_dir: Path,
    metrics: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    latencies: Sequence[float] = (),
    title: str = "genrec evaluation",
    notes: Sequence[str] = (),
    write_json: bool = False,
    sections: Sequence[str] = (),
) -> Path:
    """Write report.html (and, with `write_json`, metrics.json and config.json) into `out_dir`.

    Used by `genrec eval chat` and `genrec eval ranker` so both runs read the same way.

    Returns:
        The path of report.html.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if write_json:
        (out_dir / "metrics.json").write_text(
            json.dumps(metrics, indent=2, default=str) + "\n", encoding="utf-8"
        )
        (out_dir / "config.json").write_text(
            json.dumps(config, indent=2, default=str) + "\n", encoding="utf-8"
        )
    path = out_dir / "report.html"
    path.write_text(render_html(metrics, config, latencies=latencies, title=title, notes=notes,
                                       sections=sections), encoding="utf-8")
    return path


def write_ranker_report(
    out_dir: Path,
    final: Mapping[str, Mapping[str, Any]],
    config: Mapping[str, Any],
    *,
    k: int = 10,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a ranker evaluation (`genrec eval ranker --out DIR`) in the same format as a chat run.

    Args:
        out_dir: the run folder (created).
        final: system -> metric -> value, e.g. ``{"ranker": {"ndcg@10": 0.4}, "popularity":
        {...}}``.
            Keys such as ``hit_rate@10`` / ``mrr@10`` from `metrics.topn_metrics` are also written
            under the chat names ``hr@10`` / ``mrr``, so both reports read alike.
        config: what was run (dataset, split, parameters ...); stored in config.json.
        k: the list length the metrics were computed at.
        extra: other facts for metrics.json (rmse, timings ...).

    Returns:
        The path of report.html (metrics.json and config.json are written next to it).
    """
    aliases = {f"hit_rate@{k}": f"hr@{k}", f"mrr@{k}": "mrr"}
    fin: dict[str, dict[str, Any]] = {}
    for system, d in final.items():
        row = dict(d)
        for src, dst in aliases.items():
            if src in row and dst not in row:
                row[dst] = row[src]
        fin[system] = row
    users = next((d.get("users") for d in fin.values() if d.get("users") is not None), None)
    metrics = {"kind": "ranker", "k": k, "final": fin, "per_turn": {},
               "n_users": int(users) if users is not None else None, **dict(extra or {})}
    cfg = {"kind": "ranker", **dict(config), "git_commit": git_commit(), "provenance": provenance(),
           "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return write_report(out_dir, metrics, cfg, title="genrec eval ranker", write_json=True)


__all__ = [
    "format_summary",
    "render_html",
    "write_ranker_report",
    "write_report",
]
