"""Tuning: the agent's candidate-fusion weights, chosen on a validation split, never on test.

The validation split is carved out of u1.base (10 %, seeded); the ranker is trained on the rest
of u1.base, and the template users are built from that rest too. Every weight set runs the same
conversations (`genrec eval chat` protocol, `--llm none`), so rows compare like with like.

Usage:  python benchmarks/tune_agent.py [--users 150] [--turns 5] [--concurrency 2]
Writes benchmarks/results/tune_agent.json and prints a table (best last-turn NDCG@10 marked).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

# (name, personal weights: rank, search, genre, decade, pop; shrink towards popularity)
GRID = [
    ("pop-heavy (old default)", (0.30, 0.05, 0.10, 0.05, 0.55), 0.0),
    ("balanced", (0.60, 0.05, 0.10, 0.05, 0.20), 0.0),
    ("ranker-led", (0.80, 0.05, 0.05, 0.05, 0.05), 0.0),
    ("ranker-led, shrink 1", (0.80, 0.05, 0.05, 0.05, 0.05), 1.0),
    ("ranker-led, shrink 2", (0.80, 0.05, 0.05, 0.05, 0.05), 2.0),
    ("ranker-led, shrink 4", (0.80, 0.05, 0.05, 0.05, 0.05), 4.0),
    ("ranker+taste, shrink 2", (0.70, 0.00, 0.10, 0.10, 0.10), 2.0),
    ("ranker only", (1.00, 0.00, 0.00, 0.00, 0.00), 0.0),
    ("taste-visible, shrink 1", (0.65, 0.05, 0.15, 0.10, 0.05), 1.0),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=150)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None, metavar="NAME",
                    help="run only the grid rows with these names (default: all)")
    args = ap.parse_args()

    from genrec.agent import AgentConfig, Recommender, SessionStore
    from genrec.components import CandidateConfig, FusionWeights
    from genrec.config import Settings
    from genrec.data import load_split
    from genrec.data.splits import validation_split
    from genrec.evaluation.harness import ChatEvalConfig, run_chat_eval
    from genrec.llm import get_llm
    from genrec.ranking import load_or_train_ranker
    from genrec.retrieval import open_store

    settings = Settings()
    dataset, u1 = load_split("ml-100k", "u1", settings.datasets_dir, seed=settings.seed)
    split = validation_split(u1.train, seed=settings.seed)
    ranker = load_or_train_ranker(settings, dataset, split)
    store = open_store(settings, dataset)
    rows = []
    grid = [g for g in GRID if args.only is None or g[0] in args.only]
    for name, (rank, search, genre, decade, pop), shrink in grid:
        weights = FusionWeights(rank=rank, search=search, genre=genre, decade=decade, pop=pop)
        config = AgentConfig(candidates=CandidateConfig(personal=weights, shrink=shrink))
        agent = Recommender(catalog=dataset.catalog, ranker=ranker, store=store,
                            llm=get_llm("none", settings), sessions=SessionStore(None), config=config)
        cfg = ChatEvalConfig(split=split.name, users=args.users, turns=args.turns,
                             concurrency=args.concurrency, seed=settings.seed)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="genrec-tune-") as tmp:
            res = run_chat_eval(cfg, dataset=dataset, split=split, agent=agent, ranker=ranker,
                                out_dir=Path(tmp) / "run", progress=False, report=False)
        per = res.metrics["per_turn"]
        curve = [round(x, 4) for x in per["agent"]["ndcg@10"]]
        rows.append({"name": name, "weights": weights.model_dump(), "shrink": shrink,
                     "seconds": round(time.perf_counter() - t0, 1), "agent_ndcg@10_per_turn": curve,
                     "agent_ndcg@10_mean_over_turns": round(sum(curve) / len(curve), 4),
                     "popularity_ndcg@10": round(res.metrics["final"]["popularity"]["ndcg@10"], 4),
                     "mentioned_fold_in_ndcg@10": round(res.metrics["final"]["mentioned_fold_in"]["ndcg@10"], 4),
                     "users": res.metrics["n_users"]})
        print(f"{name:26s} agent per turn {rows[-1]['agent_ndcg@10_per_turn']}  "
              f"({rows[-1]['seconds']} s)", flush=True)
    # the criterion: NDCG@10 averaged over turns (every turn's list is shown to the user)
    best = max(rows, key=lambda r: r["agent_ndcg@10_mean_over_turns"])
    print(f"\n{'weights rank/search/genre/decade/pop, shrink':58s} {'turn 1':>7s} "
          f"{'turn ' + str(args.turns):>7s} {'mean':>7s}")
    for r in rows:
        w = r["weights"]
        tag = (f"{w['rank']:.2f}/{w['search']:.2f}/{w['genre']:.2f}/{w['decade']:.2f}/{w['pop']:.2f}, "
               f"{r['shrink']:g}")
        mark = "  <- best" if r is best else ""
        print(f"{r['name'] + ' ' + tag:58s} {r['agent_ndcg@10_per_turn'][0]:7.4f} "
              f"{r['agent_ndcg@10_per_turn'][-1]:7.4f} {r['agent_ndcg@10_mean_over_turns']:7.4f}{mark}")
    print(f"same users: popularity {rows[0]['popularity_ndcg@10']:.4f}, "
          f"mentioned_fold_in {rows[0]['mentioned_fold_in_ndcg@10']:.4f} (last turn)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"benchmark": "tune_agent", "split": split.name, "users": args.users, "turns": args.turns,
           "machine": machine(), "rows": rows, "best": best["name"]}
    (RESULTS / ("tune_agent.json" if args.only is None else "tune_agent_subset.json")).write_text(json.dumps(out, indent=2) + "\n")
    print("wrote", RESULTS / ("tune_agent.json" if args.only is None else "tune_agent_subset.json"))


if __name__ == "__main__":
    main()
