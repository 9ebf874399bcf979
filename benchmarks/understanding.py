"""Understanding of real people's words: INSPIRED's crowd-sourced seeker turns replayed into the
agent, each turn's change of state compared with the project's gold labels; the template
simulator's messages scored the same way; a plain keyword matcher in the same run. Writes
results/understanding.json.

    python benchmarks/understanding.py                    # both halves, 60 template users
    python benchmarks/understanding.py --half heldout     # the half nothing was tuned on
    python benchmarks/understanding.py --show-errors 40   # print misread held-out... turns

Needs INSPIRED's dev.tsv (../shared/data/inspired/dev.tsv or $GENREC_INSPIRED); `--llm none`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _fmt(x: Any) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def _span(x: list[float] | None, signed: bool = False) -> str:
    if not x:
        return ""
    return f"[{x[0]:+.3f}, {x[1]:+.3f}]" if signed else f"[{x[0]:.3f}, {x[1]:.3f}]"


def table(name: str, res: dict[str, Any]) -> str:
    ci = res.get("intervals") or {}
    lines = [
        f"{name}: {res['utterances']} utterances, false additions {res['false_additions']} "
        f"({_fmt(res['false_addition_rate'])} {_span(ci.get('false_addition_rate'))}), "
        f"errors {res['errors']}, ms/utt mean {_fmt(res['ms_per_utterance']['mean'])} "
        f"p95 {_fmt(res['ms_per_utterance']['p95'])}",
        f"  {'slot':<18}{'P':>7}{'R':>7}{'F1':>7}{'gold':>6}{'read':>6}"
        + ("   F1 95% interval   F1 minus keyword, paired" if ci else ""),
    ]
    for slot, s in res["slots"].items():
        lines.append(
            f"  {slot:<18}{_fmt(s['precision']):>7}{_fmt(s['recall']):>7}{_fmt(s['f1']):>7}"
            f"{s['support']:>6}{s['predicted']:>6}"
            + (f"   {_span(ci['f1'].get(slot)):<18}"
               f"{_span(ci.get('f1_minus_baseline', {}).get(slot), signed=True)}" if ci else "")
        )
    kinds = ", ".join(
        f"{k} {v['with_false_addition']}/{v['utterances']}" for k, v in res["false_by_kind"].items()
    )
    lines.append(f"  false additions by kind: {kinds}")
    return "\n".join(lines)


def show_errors(results: list, n: int) -> None:
    """Print up to n turns whose reading differs from the gold (or adds what was never said)."""
    bad = [t for t in results if t.false or t.reading.liked != t.expected.liked
           or t.reading.disliked != t.expected.disliked or t.reading.wanted != t.expected.wanted
           or t.reading.avoided != t.expected.avoided]
    for t in bad[:n]:
        print(f"    {t.dialog_id[:20]}#{t.utt_id} [{t.kind}] {t.text[:160]!r}\n"
              f"      read liked={sorted(t.reading.liked)} disliked={sorted(t.reading.disliked)} "
              f"wanted={sorted(t.reading.wanted)} avoided={sorted(t.reading.avoided)} "
              f"years={sorted(t.reading.years)} other={sorted(t.reading.other_items)}\n"
              f"      gold liked={sorted(t.expected.liked)} disliked={sorted(t.expected.disliked)} "
              f"wanted={sorted(t.expected.wanted)} avoided={sorted(t.expected.avoided)} "
              f"years={sorted(t.expected.years)} false={t.false}")


def template_results(
    rec: Any, parts: Any, users: int, turns: int, seed: int, keyword: Any
) -> tuple[list, list]:
    """Template simulated users talking to the agent; gold = what each message stated (the
    simulator's own record), the keyword reader reads the same messages."""
    from genrec.agent.state import DialogueState
    from genrec.agent.understanding.genres import GenreVocabulary
    from genrec.agent.understanding.vocabulary import KIDS
    from genrec.evaluation.simulation.persona import persona_for_user, persona_seed
    from genrec.evaluation.simulation.template_user import TemplateSimulator
    from genrec.evaluation.simulation.user import Stated
    from genrec.evaluation.understanding_readers import state_change
    from genrec.evaluation.understanding_score import (
        Expected,
        TurnResult,
        false_additions,
        net_of_held,
    )

    kids_avoid = GenreVocabulary(parts.catalog.genres).kids_avoid

    def expected(before: Stated, after: Stated, named: tuple[int, ...], text: str) -> Expected:
        ex = Expected(
            liked=set(after.liked) - set(before.liked),
            disliked=set(after.disliked) - set(before.disliked),
            mentioned=set(named).union(
                *(
                    set(getattr(after, p)) - set(getattr(before, p))
                    for p in ("liked", "disliked", "seen", "interested", "rejected")
                )
            ),
            wanted=(set(after.wanted_genres) | set(after.requested_genres))
            - (set(before.wanted_genres) | set(before.requested_genres)),
            avoided=set(after.avoided_genres) - set(before.avoided_genres),
        )
        if KIDS.search(
            text
        ):  # the agent's kids rule: a request for children avoids the adult genres
            ex.avoided |= set(kids_avoid) - set(after.wanted_genres) - set(before.avoided_genres)
        for key, b, a in (
            ("min", before.year_min, after.year_min),
            ("max", before.year_max, after.year_max),
        ):
            if a is not None and a != b:
                ex.years.add((key, a))
        return ex

    agent_out, kw_out = [], []
    test_users = sorted(int(u) for u in set(parts.split.test.users))[:users]
    for uid in test_users:
        persona = persona_for_user(parts.split.train, uid, parts.catalog)
        if not persona.liked:
            continue
        sim = TemplateSimulator(persona, parts.catalog, seed=persona_seed(seed, uid))
        session = f"template-{uid}"
        before = sim.stated.model_copy(deep=True)
        utter = sim.opening()
        for _ in range(turns):
            ex = expected(before, sim.stated, utter.named, utter.text)
            kind = "reaction" if set(utter.facts) & {"reaction", "opinion"} else "preference"
            prior = rec.state(session) if rec.session_exists(session) else None
            started = time.perf_counter()
            reply = rec.chat(session, utter.text)
            ms = (time.perf_counter() - started) * 1000
            r = state_change(prior or DialogueState(), rec.state(session))
            r.ms = ms
            ex = net_of_held(ex, prior)
            agent_out.append(
                TurnResult("template", uid, utter.text, kind, ex, r, false_additions(ex, r))
            )
            kr = keyword.read(session, utter.text)
            kw_out.append(
                TurnResult("template", uid, utter.text, kind, ex, kr, false_additions(ex, kr))
            )
            before = sim.stated.model_copy(deep=True)
            utter = sim.respond(reply.text, reply.item_ids, reply.question)
    return agent_out, kw_out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--corpus", type=Path, default=None, help="INSPIRED dev.tsv (default: ../shared/...)"
    )
    ap.add_argument("--half", choices=["tune", "heldout", "both"], default="both")
    ap.add_argument(
        "--template-users", type=int, default=60, help="u1 test users the template part replays"
    )
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--show-errors", type=int, default=0, help="print this many misread turns per half"
    )
    ap.add_argument(
        "--dataset", default="ml-100k", help="catalog to ground titles in (default: ml-100k)"
    )
    ap.add_argument(
        "--reader",
        choices=["agent", "understanding"],
        default="agent",
        help="agent: Recommender.chat (needs the ranker and index); understanding: the "
        "understanding stage alone (no ranker or index to build; no template part)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON path (default: results/understanding.json, or understanding_<dataset>.json)",
    )
    args = ap.parse_args()

    from genrec.agent import Recommender, SessionStore
    from genrec.agent.builder import build_parts
    from genrec.config import Settings
    from genrec.evaluation.real_dialogues import default_corpus_path, load_dialogues
    from genrec.evaluation.understanding_readers import (
        AgentReader,
        ExtractorReader,
        KeywordReader,
    )
    from genrec.evaluation.understanding_score import GoldGrounder, intervals, replay, score

    corpus = args.corpus or default_corpus_path()
    s = Settings(dataset=args.dataset)
    if args.reader == "agent":
        parts = build_parts(s, progress=True)
        catalog = parts.catalog
    else:
        from genrec.data import load_dataset

        data = load_dataset(s.dataset, s.datasets_dir)
        catalog, counts = data.catalog, data.ratings.item_counts()
        args.template_users = 0
    out_path = args.out or Path(__file__).parent / "results" / (
        "understanding.json" if args.dataset == "ml-100k" else f"understanding_{args.dataset}.json")
    grounder = GoldGrounder(catalog)
    latest = grounder.latest
    from genrec.provenance import git_commit

    out: dict[str, Any] = {
        "machine": machine(),
        "commit": git_commit(),
        "dataset": s.dataset,
        "catalog_items": len(catalog),
        "reader": args.reader,
        "llm": "none",
        "corpus": str(corpus),
        "command": "python benchmarks/understanding.py " + " ".join(sys.argv[1:]),
        "halves": {},
    }
    halves = ["tune", "heldout"] if args.half == "both" else [args.half]
    for half in halves:
        dialogues = load_dialogues(corpus, half=half)
        row: dict[str, Any] = {"dialogues": len(dialogues)}
        agent_reader: Any = (
            ExtractorReader(catalog, popularity=counts) if args.reader == "understanding"
            else AgentReader(Recommender(catalog=parts.catalog, ranker=parts.ranker,
                                         store=parts.store, llm=None, policy="guided",
                                         sessions=SessionStore(None), config=s.agent)))
        agent_results = replay(agent_reader, dialogues, grounder)
        keyword_results = replay(KeywordReader(catalog), dialogues, grounder)
        row["agent"] = score(agent_results, latest)
        row["agent"]["intervals"] = intervals(agent_results, latest, keyword_results,
                                              seed=args.seed)
        row["keyword"] = score(keyword_results, latest)
        print(table(f"[{half}] {agent_reader.name}", row["agent"]))
        if args.show_errors:
            show_errors(agent_results, args.show_errors)
        print(table(f"[{half}] keyword", row["keyword"]))
        out["halves"][half] = row
    if args.template_users:
        rec = Recommender(catalog=parts.catalog, ranker=parts.ranker, store=parts.store, llm=None,
                          policy="guided", sessions=SessionStore(None), config=s.agent)
        agent_t, kw_t = template_results(rec, parts, args.template_users, args.turns, args.seed,
                                         KeywordReader(parts.catalog))
        out["template"] = {"users": args.template_users, "turns": args.turns, "seed": args.seed,
                           "agent": score(agent_t, latest), "keyword": score(kw_t, latest)}
        print(table("[template] agent", out["template"]["agent"]))
        if args.show_errors:
            show_errors(agent_t, args.show_errors)
        print(table("[template] keyword", out["template"]["keyword"]))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
