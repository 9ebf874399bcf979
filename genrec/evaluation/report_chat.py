"""The chat run's own report parts: headline curves with bootstrap bands, the paired intervals,
and sampled conversations rendered as chat (inline HTML and SVG, no external resources).
"""

from __future__ import annotations

import html
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from genrec.evaluation.report import _fmt
from genrec.evaluation.report_plots import plot_interval_curves

if TYPE_CHECKING:
    from genrec.data import Catalog

ORACLE_NOTE = "oracles (know the user's training items; references, not the bar)"


def format_ci(metrics: Mapping[str, Any]) -> str:
    """The paired bootstrap intervals of agent minus each system, one line each ('' when none).

    >>> print(format_ci({"final": {"ci": {"metric": "recall_cum@10", "turn": 5, "level": 0.95,
    ...     "agent_minus": {"popularity": {"diff": 0.1, "low": 0.05, "high": 0.15,
    ...                                    "n_users": 9}}}}}))  # doctest: +NORMALIZE_WHITESPACE
    agent - popularity  recall_cum@10 at turn 5: +0.1000 [+0.0500, +0.1500]
    (95% paired bootstrap, 9 users)
    """
    final = metrics.get("final") or {}
    lines: list[str] = []
    for key in ("ci_intent", "ci"):  # the intent protocol's headline first
        ci = final.get(key) or {}
        rows = ci.get("agent_minus") or {}
        width = max((len(s) for s in rows), default=0)
        level = round(100 * float(ci.get("level", 0.95)))
        lines += [
            f"agent - {s.ljust(width)}  {ci.get('metric')} at turn {ci.get('turn')}: "
            f"{d['diff']:+.4f} "
            f"[{d['low']:+.4f}, {d['high']:+.4f}] ({level}% paired bootstrap, {d['n_users']} users)"
            for s, d in rows.items()
        ]
    fr = final.get("failures_removed")
    if fr:
        lines.append(
            f"agent removes {fr['share']:+.1%} [{fr['low']:+.1%}, {fr['high']:+.1%}] of the best "
            "peer's "
            f"failures at {fr['metric']} ({fr['vs']}: {fr['peer']:.3f}, agent: {fr['agent']:.3f}; "
            f"{fr['n_users']} users)"
        )
    return "\n".join(lines)


def format_groups(metrics: Mapping[str, Any]) -> str:
    """One line per phrasing source and reveal style: users, the agent's and constrained_fold_in's
    headline, and the agent's understanding ('' when the run has no groups).

    >>> print(format_groups({"by_phrasing": {"real": {"n_users": 3, "final": {"agent": {
    ...     "recall_cum@10": 0.5, "understood_liked": 0.9}}}}}))
    phrasing real (3 users): agent recall_cum@10 0.5000; understood_liked 0.9000
    """
    lines = []
    for key, label in (("by_phrasing", "phrasing"), ("by_reveal", "reveal")):
        for name, g in (metrics.get(key) or {}).items():
            final = g.get("final") or {}
            agent, peer = final.get("agent") or {}, final.get("constrained_fold_in") or {}
            heads = [
                m
                for m in (
                    f"recall_cum@{metrics.get('k', 10)}_intent",
                    f"recall_cum@{metrics.get('k', 10)}",
                )
                if m in agent
            ]
            text = "; ".join(
                f"agent {m} {_fmt(agent[m])}"
                + (f" vs constrained_fold_in {_fmt(peer[m])}" if m in peer else "")
                for m in heads
            )
            und = ", ".join(
                f"{m} {_fmt(agent[m])}"
                for m in ("understood_liked", "misread_disliked", "understood_avoided")
                if m in agent
            )
            lines.append(
                f"{label} {name} ({g['n_users']} users): {text}" + (f"; {und}" if und else "")
            )
    return "\n".join(lines)


def ci_table(metrics: Mapping[str, Any], key: str = "ci") -> str:
    """The paired intervals (``final[key]``) as an HTML table ('' when none)."""
    ci = (metrics.get("final") or {}).get(key) or {}
    rows = ci.get("agent_minus") or {}
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>agent - {html.escape(s)}</td><td>{_fmt(d['diff'])}</td><td>{_fmt(d['low'])}</td>"
        f"<td>{_fmt(d['high'])}</td><td>{d['n_users']}</td></tr>" for s, d in rows.items())
    return (
        f"<p class='note'>{html.escape(str(ci.get('metric')))} at turn {ci.get('turn')}: paired "
        "bootstrap "
        f"over users, {ci.get('resamples')} resamples, seed {ci.get('seed')}, level "
        f"{ci.get('level')}.</p>"
        "<table><thead><tr><th>difference</th><th>mean</th><th>low</th><th>high</th><th>users</th></tr>"
        f"</thead><tbody>{body}</tbody></table>"
    )


def groups_table(metrics: Mapping[str, Any], key: str = "by_reveal") -> str:
    """Each group of users (``metrics[key]``: by reveal style or phrasing source) with every
    system's final figures, the agent's understanding of what they said included ('' when there is
    none)."""
    groups = metrics.get(key) or {}
    names = list(
        dict.fromkeys(
            m for g in groups.values() for d in (g.get("final") or {}).values() for m in d
        )
    )
    rows = []
    for name, g in groups.items():
        for system, d in (g.get("final") or {}).items():
            vals = "".join(f"<td>{_fmt(d.get(m))}</td>" for m in names)
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{g['n_users']}</td><td>{html.escape(system)}</td>"
                        f"{vals}</tr>")
    if not rows:
        return ""
    heads = "".join(f"<th>{html.escape(m)}</th>" for m in names)
    what = {
        "by_reveal": "how the user revealed tonight's intent",
        "by_phrasing": "the words the simulated users spoke (real seekers' sentences or templates)",
    }
    note = f"By {what.get(key, key)}."
    if key == "by_reveal":
        note += (
            f" {(metrics.get('no_intent') or {}).get('n_users', 0)} users had no intent (no "
            "genre covers "
            "3 of their held-out liked items) and are scored apart."
        )
    return (f"<p class='note'>{html.escape(note)}</p><table><thead><tr><th>group</th><th>users</th>"
            f"<th>system</th>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


_CHAT_CSS = (
    "<style>.chat{border:1px solid #ddd;border-radius:8px;padding:8px 12px;margin:12px 0}"
    ".u{background:#eef4ff;padding:6px 10px;border-radius:8px;margin:6px 30% 6px "
    "0;white-space:pre-wrap}"
    ".a{background:#f6f6f6;padding:6px 10px;border-radius:8px;margin:6px 0 6px "
    "20%;white-space:pre-wrap;"
    "font-size:12px}.ids{font-size:11px;color:#777;margin-left:20%}</style>"
)


def _sample(records: Sequence[Mapping[str, Any]], n: int, seed: int) -> list[Mapping[str, Any]]:
    """`n` records picked with `seed`, in user order."""
    return sorted(
        random.Random(seed).sample(list(records), min(n, len(records))),
        key=lambda r: int(r["user_id"]),
    )


def render_conversations(
    records: Sequence[Mapping[str, Any]],
    *,
    n: int = 3,
    seed: int = 0,
    catalog: Catalog | None = None,
    relevant: Mapping[int, set[int]] | None = None,
) -> str:
    """`n` conversations picked with `seed`, as chat bubbles; shown items that were held-out
    likes are marked with a star (the scorer's knowledge, never the simulator's)."""
    picked = _sample(records, n, seed)
    if not picked:
        return ""
    out = [_CHAT_CSS]
    for rec in picked:
        uid = int(rec["user_id"])
        liked = (relevant or {}).get(uid, set())
        out.append(f"<div class='chat'><b>user {uid}</b>")
        for t, turn in enumerate(rec.get("turns") or [], 1):
            out.append(f"<div class='u'>{html.escape(str(turn.get('user', '')))}</div>")
            out.append(f"<div class='a'>{html.escape(str(turn.get('agent', '')))}</div>")
            shown = ", ".join(_label(i, catalog) + (" ★" if i in liked else "")
                              for i in turn.get("ranked_item_ids") or [])
            short = ", ".join(_label(i, catalog) + (" ★" if i in liked else "")
                              for i in turn.get("shortlist_item_ids") or [])
            out.append(f"<div class='ids'>turn {t} shown: {html.escape(shown) or '-'}<br>"
                       f"standing shortlist: {html.escape(short) or '-'}</div>")
        out.append("</div>")
    return "\n".join(out)


def _label(item_id: int, catalog: Catalog | None) -> str:
    it = catalog.get(int(item_id)) if catalog is not None else None
    return f"{it.title} [{item_id}]" if it is not None else str(item_id)


def chat_sections(
    metrics: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    catalog: Catalog | None = None,
    relevant: Mapping[int, set[int]] | None = None,
) -> list[str]:
    """The chat run's report sections, in order (HTML strings)."""
    k = int(metrics.get("k", 10))
    parts = []
    if (metrics.get("final") or {}).get("ci_intent"):
        intent = plot_interval_curves(metrics, [f"recall_cum@{k}_intent", "success_intent"])
        parts.append(
            f"<h2>Headline: recall_cum@{k}_intent per turn (tonight's kind of film)</h2>"
            f"{'<div class=plot>' + intent + '</div>' if intent else ''}"
            f"{ci_table(metrics, 'ci_intent')}"
            f"{groups_table(metrics)}"
        )
    if metrics.get("by_phrasing"):
        parts.append("<h2>By phrasing source: scores and the agent's understanding</h2>"
                     + groups_table(metrics, "by_phrasing"))
    head = plot_interval_curves(metrics, [f"recall_cum@{k}", "success"])
    if head:
        parts.append(f"<h2>Headline: recall_cum@{k} per turn (95% bootstrap bands)</h2>"
                     f"<div class='plot'>{head}</div>{ci_table(metrics)}")
    standing = plot_interval_curves(metrics, [f"ndcg@{k}_standing", f"ndcg@{k}"])
    if standing:
        parts.append(
            f"<h2>Standing shortlist: ndcg@{k}_standing per turn (and ndcg@{k} of the new "
            "items)</h2>"
            f"<div class='plot'>{standing}</div>"
        )
    conv = render_conversations(records, seed=seed, catalog=catalog, relevant=relevant)
    if conv:
        parts.append(
            "<h2>Three sampled conversations</h2>"
            "<p class='note'>★: a held-out liked item (known to the scorer only).</p>" + conv
        )
    return parts


def render_target_conversations(records: Sequence[Mapping[str, Any]], *, n: int = 3, seed: int = 0,
                                catalog: Catalog | None = None) -> str:
    """`n` target-protocol conversations picked with `seed`: the agent's turns as chat bubbles, the
    target marked with a star, then whether the user accepted and each peer's outcome."""
    picked = _sample(records, n, seed)
    if not picked:
        return ""
    out = [_CHAT_CSS]
    for rec in picked:
        target = int(rec["target_item_id"])
        out.append(f"<div class='chat'><b>user {int(rec['user_id'])}</b>, target: "
                   f"{html.escape(_label(target, catalog))}")
        for t, turn in enumerate(rec.get("turns") or [], 1):
            out.append(f"<div class='u'>{html.escape(str(turn.get('user', '')))}</div>")
            out.append(f"<div class='a'>{html.escape(str(turn.get('agent', '')))}</div>")
            shown = ", ".join(_label(i, catalog) + (" ★" if i == target else "")
                              for i in turn.get("ranked_item_ids") or [])
            out.append(f"<div class='ids'>turn {t} shown: {html.escape(shown) or '-'}</div>")
        if rec.get("accepted"):
            out.append(f"<div class='u'>{html.escape(str(rec.get('last_user', '')))}</div>")
        peers = "; ".join(
            f"{name}: "
            + (f"found it in {len(c.get('turns') or [])} turns"
               if c.get("accepted") else "not found")
            for name, c in (rec.get("peers") or {}).items()
        )
        out.append(f"<div class='ids'>agent: {'found it' if rec.get('accepted') else 'not found'}; "
                   f"{html.escape(peers)}</div></div>")
    return "\n".join(out)


def target_sections(
    metrics: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    *,
    seed: int = 0,
    catalog: Catalog | None = None,
) -> list[str]:
    """The target-protocol report sections, in order (HTML strings)."""
    parts = []
    head = plot_interval_curves(metrics, ["success"])
    if head:
        fr = (metrics.get("final") or {}).get("failures_removed")
        removed = (
            ""
            if not fr
            else f"<p>The agent removes <b>{fr['share']:.1%}</b> [{fr['low']:.1%}, "
            f"{fr['high']:.1%}] of the best peer's ({html.escape(str(fr['vs']))}) failures at "
            f"{html.escape(str(fr['metric']))}.</p>"
        )
        parts.append("<h2>Headline: success rate by turn, SR@t (95% bootstrap bands)</h2>"
                     f"<div class='plot'>{head}</div>{removed}{ci_table(metrics)}")
    conv = render_target_conversations(records, seed=seed, catalog=catalog)
    if conv:
        parts.append(
            "<h2>Three sampled conversations</h2>"
            "<p class='note'>★: the user's target (the simulated user never writes its title).</p>"
            + conv
        )
    return parts


__all__ = [
    "ORACLE_NOTE",
    "chat_sections",
    "render_target_conversations",
    "target_sections",
    "ci_table",
    "format_ci",
    "render_conversations",
]
