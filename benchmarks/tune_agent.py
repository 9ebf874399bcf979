"""Tuning: the agent's fusion weights and question policy, chosen on validation data, never on test.

The validation split is carved out of u1.base (10 %, seeded); the ranker is trained on the rest of
u1.base, and the simulated users are built from that rest too. Every variant replays the same users
in both protocols (`genrec eval chat`, `--llm none`): the taste protocol's recall_cum@10 and the
target protocol's sr@5 at the last turn, each next to the best peer of that protocol.

Usage:  python benchmarks/tune_agent.py [--users 100] [--turns 5] [--concurrency 2]
        [--only NAME ...]
Writes benchmarks/results/tune_agent.json and prints a table (the chosen variant marked).
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

ALL_QUESTIONS = ["example", "genre", "decade"]
# (name, personal weights: rank, search, genre, decade, pop; shrink; question attributes)
GRID = [
    ("taste-visible (previous default)", (0.65, 0.05, 0.15, 0.10, 0.05), 1.0, []),
    ("taste-visible, questions", (0.65, 0.05, 0.15, 0.10, 0.05), 1.0, ALL_QUESTIONS),
    ("ranker-led, questions", (0.85, 0.00, 0.05, 0.05, 0.05), 1.0, ALL_QUESTIONS),
    ("ranker-led, title questions", (0.85, 0.00, 0.05, 0.05, 0.05), 1.0, ["example"]),
    ("ranker-led, no questions", (0.85, 0.00, 0.05, 0.05, 0.05), 1.0, []),
    ("ranker only, questions", (1.00, 0.00, 0.00, 0.00, 0.00), 0.0, ALL_QUESTIONS),
    ("ranker only, title questions", (1.00, 0.00, 0.00, 0.00, 0.00), 0.0, ["example"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--only", nargs="*", default=None, metavar="NAME",
                    help="run only the grid rows with these names (default: all)")
    args = ap.parse_args()

    import torch

    from genrec.agent import AgentConfig, Recommender, SessionStore
    from genrec.config import Settings
    from genrec.data import load_split
    from genrec.data.splits import validation_split
    from genrec.evaluation.harness import ChatEvalConfig, run_chat_eval
    from genrec.knobs import CandidateConfig, FusionWeights
    from genrec.llm import get_llm
    from genrec.ranking import load_or_train_ranker
    from genrec.retrieval import open_store

    torch.set_num_threads(1)
    settings = Settings()
    dataset, u1 = load_split("ml-100k", "u1", settings.datasets_dir, seed=settings.seed)
    split = validation_split(u1.train, seed=settings.seed)
    ranker = load_or_train_ranker(settings, dataset, split)
    store = open_store(settings, dataset, popularity=split.train.item_counts())
    rows = []
    grid = [g for g in GRID if args.only is None or g[0] in args.only]
    for name, (rank, search, genre, decade, pop), shrink, questions in grid:
        weights = FusionWeights(rank=rank, search=search, genre=genre, decade=decade, pop=pop)
        config = AgentConfig(
            candidates=CandidateConfig(personal=weights, shrink=shrink),
            ask_questions=bool(questions),
            question_attributes=questions or ALL_QUESTIONS,
        )
        row: dict = {
            "name": name,
            "weights": weights.model_dump(),
            "shrink": shrink,
            "questions": questions,
        }
        t0 = time.perf_counter()
        for protocol, head in (("taste", "recall_cum@10"), ("target", f"sr@{args.turns}")):
            agent = Recommender(
                catalog=dataset.catalog,
                ranker=ranker,
                store=store,
                llm=get_llm("none", settings),
                sessions=SessionStore(None),
                config=config,
            )
            cfg = ChatEvalConfig(
                split=split.name,
                users=args.users,
                turns=args.turns,
                protocol=protocol,
                concurrency=args.concurrency,
                seed=settings.seed,
            )
            with tempfile.TemporaryDirectory(prefix="genrec-tune-") as tmp:
                res = run_chat_eval(
                    cfg,
                    dataset=dataset,
                    split=split,
                    agent=agent,
                    ranker=ranker,
                    store=store,
                    out_dir=Path(tmp) / "run",
                    progress=False,
                    report=False,
                )
            fin = res.metrics["final"]
            peers = {s: fin[s][head] for s in res.metrics["groups"]["peers"]}
            best_peer = max(peers, key=lambda s: peers[s])
            row[protocol] = {
                "metric": head,
                "agent": round(fin["agent"][head], 4),
                "best_peer": best_peer,
                "best_peer_value": round(peers[best_peer], 4),
                "ci_vs_best_peer": fin["ci"]["agent_minus"].get(best_peer),
                "users": res.metrics["n_users"],
            }
        row["seconds"] = round(time.perf_counter() - t0, 1)
        row["score"] = round(row["taste"]["agent"] / row["taste"]["best_peer_value"]
                             + row["target"]["agent"] / row["target"]["best_peer_value"], 4)
        rows.append(row)
        print(
            f"{name:34s} taste {row['taste']['agent']:.4f} "
            f"(best peer {row['taste']['best_peer_value']:.4f})  "
            f"target {row['target']['agent']:.4f} "
            f"(best peer {row['target']['best_peer_value']:.4f})  "
            f"({row['seconds']} s)",
            flush=True,
        )
    # the criterion: the sum of the agent's ratios to the best peer in each protocol
    best = max(rows, key=lambda r: r["score"])
    print(
        f"\n| variant | taste recall_cum@10 | best taste peer | target sr@{args.turns} "
        "| best target peer | score |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        mark = " **chosen**" if r is best else ""
        print(
            f"| {r['name']}{mark} | {r['taste']['agent']:.4f} | {r['taste']['best_peer']} "
            f"{r['taste']['best_peer_value']:.4f} | {r['target']['agent']:.4f} | "
            f"{r['target']['best_peer']} "
            f"{r['target']['best_peer_value']:.4f} | {r['score']:.4f} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"benchmark": "tune_agent", "split": split.name, "users": args.users, "turns": args.turns,
           "criterion": "taste recall_cum@10 / best taste peer + target sr@T / best target peer",
           "machine": machine(), "rows": rows, "best": best["name"]}
    name = "tune_agent.json" if args.only is None else "tune_agent_subset.json"
    (RESULTS / name).write_text(json.dumps(out, indent=2) + "\n")
    print("wrote", RESULTS / name)


if __name__ == "__main__":
    main()
