"""Benchmark: `genrec eval chat` at the target scale (every eligible u1 test user, 5 turns, template
simulator, `--llm none`): wall time and every system's headline per turn with the paired bootstrap
interval of agent minus each peer. Intent protocol (the headline): recall_cum@10_intent,
recall_cum@10, by reveal style. Taste protocol: recall_cum@10, success, turns_to_hit,
ndcg@10_standing. Target protocol: SR@t, sr@T, avg_turns, hdcg, the best peer's failures removed.
Every protocol: each phrasing source (real seekers' sentences, templates) apart, with the agent's
understanding of what each said.

Usage:  python benchmarks/eval_chat.py [--protocol intent|taste|target] [--phrasing mixed]
        [--users 0] [--turns 5] [--llm none] [--seed 0] [--concurrency 2] [--workers 2]
Writes benchmarks/results/eval_chat_intent.json (taste: eval_chat.json, target:
eval_chat_target.json) and prints the table. The ranker and the Chroma index are built first
(cached under GENREC_HOME) so the timed run measures the evaluation itself.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"




HEADLINE = ("recall_cum@10", "success", "turns_to_hit", "ndcg@10_standing", "ndcg@10")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--split", default="u1")
    ap.add_argument("--users", type=int, default=0, help="0 = all eligible test users")
    ap.add_argument("--turns", type=int, default=5)
    ap.add_argument("--llm", default="none")
    ap.add_argument("--simulator", default="template")
    ap.add_argument("--protocol", default="intent", choices=("intent", "taste", "target"))
    ap.add_argument("--phrasing", default="mixed", choices=("mixed", "real", "template"))
    ap.add_argument(
        "--seed", type=int, default=0, help="seed of the simulators (not of the ranker)"
    )
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument(
        "--workers", type=int, default=2, help="worker processes (the machine has 2 cores)"
    )
    ap.add_argument(
        "--out", type=Path, default=None, help="run folder (default: a fresh temp folder)"
    )
    ap.add_argument(
        "--ablations",
        type=int,
        default=0,
        metavar="N",
        help="also replay the first N users with template users that reveal fewer kinds of "
        "fact (no decade; no genre wish/decade; titles only), to see which facts help",
    )
    ap.add_argument("--skip-main", action="store_true", help="only run the ablations")
    args = ap.parse_args()
    if args.skip_main:
        ablations(args)
        return

    out = args.out or Path(tempfile.mkdtemp(prefix="genrec-eval-chat-")) / "run"
    if out.exists():
        shutil.rmtree(out)

    def command(users: int, folder: Path) -> list[str]:
        return [
            sys.executable,
            "-m",
            "genrec.cli",
            "eval",
            "chat",
            "--dataset",
            args.dataset,
            "--split",
            args.split,
            "--users",
            str(users),
            "--turns",
            str(args.turns),
            "--llm",
            args.llm,
            "--simulator",
            args.simulator,
            "--protocol",
            args.protocol,
            "--phrasing",
            args.phrasing,
            "--seed",
            str(args.seed),
            "--concurrency",
            str(args.concurrency),
            "--workers",
            str(args.workers),
            "--out",
            str(folder),
            "--no-progress",
        ]

    cmd = command(args.users, out)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    # warm-up: build/load the ranker and index (cached), one user, so the timed run is the harness
    warm = Path(tempfile.mkdtemp(prefix="genrec-eval-warm-")) / "run"
    t0 = time.perf_counter()
    subprocess.run(command(1, warm), check=True, env=env, capture_output=True, text=True)
    warm_s = time.perf_counter() - t0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    import resource

    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"genrec eval chat failed with exit code {proc.returncode}")
    m = json.loads((out / "metrics.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    fin, per = m["final"], m["per_turn"]
    systems = [*m["groups"]["agent"], *m["groups"]["peers"], *m["groups"]["oracles"]]
    heads = (
        target_heads(m["turns"])
        if args.protocol == "target"
        else ("recall_cum@10_intent", "success_intent", *HEADLINE)
        if args.protocol == "intent"
        else HEADLINE
    )
    extra = (
        ("questions",)
        if args.protocol == "target"
        else ("recall@10", "hr@10", "mrr", "seen", "repeated")
    )
    curve = {"target": "success", "intent": "recall_cum@10_intent"}.get(
        args.protocol, "recall_cum@10"
    )
    result = {
        "benchmark": "eval_chat",
        "protocol": args.protocol,
        "command": " ".join(["genrec", *cmd[3:]]),
        "seed": args.seed,
        "machine": machine(),
        "load_average_1min": {"before": load, "after": load_after},
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "cpu_note": "user+system CPU seconds of the timed run: on an idle machine with 2 cores "
        "the wall time is at least cpu_seconds / 2",
        "warmup_seconds_one_user": round(warm_s, 1),
        "users": m["n_users"],
        "turns": m["turns"],
        "fingerprints": cfg.get("fingerprints"),
        "agent_latency_ms": m["latency_ms"],
        "workers": args.workers,
        "llm_calls_per_turn": m["llm_calls"]["per_turn"],
        "leakage": m["leakage"]["count"],
        "groups": m["groups"],
        "final": {s: {k: fin[s].get(k) for k in (*heads, *extra)} for s in systems},
        "agent": {
            k: fin["agent"].get(k) for k in ("constraint_violations", "question", "verified_share")
        },
        "ci": fin.get("ci_intent") or fin["ci"],
        "ci_recall_cum@10": fin["ci"] if args.protocol == "intent" else None,
        "failures_removed": fin.get("failures_removed"),
        "phrasing": args.phrasing,
        "behaviour_mix": cfg.get("behaviour_mix"),
        "reveal_shares": cfg.get("reveal_shares"),
        "by_phrasing": m.get("by_phrasing"),
        "by_reveal": m.get("by_reveal"),
        "no_intent": m.get("no_intent", {}).get("n_users") if args.protocol == "intent" else None,
        "per_turn": {s: {k: per[s].get(k) for k in heads if k in per[s]} for s in systems},
        "intervals": {s: m["intervals"].get(s, {}).get(curve) for s in systems},
        "targets": {"wall_seconds<=300": wall <= 300},
        "run_folder": str(out),
    }
    result["targets"].update(agent_targets(result, heads[0]))
    if args.protocol == "taste":
        talkers = [*m["groups"]["agent"], *m["groups"]["peers"]]
        run = RunTruth.read(out, args.dataset, args.split)
        result["hits_by_request"] = hits_by_request(run, talkers)
        result["within_request"] = within_request(run, talkers)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = {"target": "eval_chat_target.json", "intent": "eval_chat_intent.json"}.get(
        args.protocol, "eval_chat.json"
    )
    (RESULTS / name).write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(table(result, heads, curve))
    from genrec.evaluation.report_chat import format_groups

    if format_groups(m):
        print("\n" + format_groups(m))
    print(
        f"\nwall {wall:.1f}s (CPU {cpu:.1f}s) for {m['n_users']} users x {m['turns']} turns "
        f"on {result['machine']['cores']} cores "
        f"(1-min load average {load} before, {load_after} after); targets: {result['targets']}"
    )
    if "hits_by_request" in result:
        print("\nnew held-out liked items shown per turn, by what the agent's state held that turn "
              "(a requested genre, years, avoided genres):")
        for kind, row in result["hits_by_request"].items():
            print(
                f"  {kind:<22} {row['turns']:5d} turns  "
                + "  ".join(f"{s} {row[s]:.3f}" for s in systems if s in row)
            )  # oracles' lists are constant: left out
    if result.get("within_request", {}).get("turns"):
        w = result["within_request"]
        print(
            f"\nturns with a request in force ({w['turns']} turns, {w['users']} users; "
            f"{w['requested_liked_per_turn']:.2f} held-out liked items a turn satisfy it): "
            "new items that satisfy it a turn / recall of them over those turns:"
        )
        for s in systems:
            if s in w:
                ci = w[s].get("agent_minus_recall_ci95")
                print(f"  {s:<22} {w[s]['hits_per_turn']:.3f} / {w[s]['recall']:.3f}" + (
                    f"   agent - {s}: {ci[0]:+.4f} [{ci[1]:+.4f}, {ci[2]:+.4f}]" if ci else ""))
    print(f"wrote {RESULTS / name}")
    if args.ablations:
        ablations(args)


@dataclass(frozen=True)
class RunTruth:
    """A run's transcripts, each user's held-out liked items, and the catalog (read once)."""

    records: list[dict]
    relevant: dict[int, set[int]]
    catalog: Any

    @classmethod
    def read(cls, out: Path, dataset: str, split: str) -> RunTruth:
        from genrec.config import Settings
        from genrec.data import load_split
        from genrec.evaluation.protocols.taste import truths

        ds, sp = load_split(dataset, split, Settings().datasets_dir)
        records = [
            json.loads(line)
            for line in (out / "transcripts.jsonl").read_text().splitlines()
            if line
        ]
        relevant = {
            u: t.relevant
            for u, t in truths(sp.train, sp.test, [r["user_id"] for r in records]).items()
        }
        return cls(records, relevant, ds.catalog)


def hits_by_request(run: RunTruth, systems: list[str]) -> dict[str, dict[str, float]]:
    """New held-out liked items each system showed per turn, grouped by what the agent's state held
    that turn: a requested genre (G), a year range (Y), avoided genres (A), or none of them (-).
    Where the gap to a peer comes from: the score is the user's overall taste, not the request."""
    records, relevant = run.records, run.relevant
    rows: dict[str, dict[str, float]] = {}
    for r in records:
        for t in r["turns"]:
            held = t.get("agent_state") or {}
            kind = (
                "".join(
                    code
                    for code, on in (
                        ("G", held.get("wanted_genres")),
                        ("Y", held.get("year_min") or held.get("year_max")),
                        ("A", held.get("avoided_genres")),
                    )
                    if on
                )
                or "-"
            )
            row = rows.setdefault(kind, {"turns": 0})
            row["turns"] += 1
            lists = {"agent": t["ranked_item_ids"], **t.get("baselines", {})}
            for s in systems:
                if s in lists:
                    row[s] = row.get(s, 0) + len(set(lists[s]) & relevant[r["user_id"]])
    for row in rows.values():
        for s in systems:
            if s in row:
                row[s] = round(row[s] / row["turns"], 4)
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]["turns"]))


def within_request(run: RunTruth, systems: list[str]) -> dict:
    """On the turns where a request is in force ("a comedy from the 80s": the simulated user's
    `requested_genres` and year bounds), the held-out liked items that satisfy it, and per system
    the new items shown that satisfy it (a turn) and their recall over those turns (per user,
    averaged). A diagnostic for how the score would read if a request said what the user wants
    now."""
    from genrec.evaluation.metrics import paired_bootstrap_ci
    from genrec.retrieval import SearchFilters

    records, relevant, cat = run.records, run.relevant, run.catalog
    turns, pool = 0, 0
    hits = {s: 0 for s in systems}
    found: dict[str, dict[int, set[int]]] = {s: {} for s in systems}
    asked: dict[int, set[int]] = {}
    for r in records:
        for t in r["turns"]:
            said = t.get("stated") or {}
            genres = set(said.get("requested_genres") or ())
            if not genres:
                continue
            request = SearchFilters(genres_any=sorted(genres), year_min=said.get("year_min"),
                                    year_max=said.get("year_max"))
            ok = {i for i in relevant[r["user_id"]] if i in cat and request.allows(cat[i])}
            turns, pool = turns + 1, pool + len(ok)
            asked[r["user_id"]] = ok
            lists = {"agent": t["ranked_item_ids"], **t.get("baselines", {})}
            for s in systems:
                if s in lists:
                    got = set(lists[s]) & ok
                    hits[s] += len(got)
                    found[s].setdefault(r["user_id"], set()).update(got)
    summary: dict = {
        "turns": turns,
        "users": len(asked),
        "requested_liked_per_turn": round(pool / max(turns, 1), 3),
    }
    users = [u for u, ok in asked.items() if ok]
    recall = {s: [len(found[s].get(u, set())) / len(asked[u]) for u in users] for s in systems}
    for s in systems:
        if found[s] or hits[s]:
            summary[s] = {"hits_per_turn": round(hits[s] / max(turns, 1), 4),
                          "recall": round(sum(recall[s]) / max(len(users), 1), 4)}
            if s != "agent" and "agent" in recall and users:
                diff, low, high = paired_bootstrap_ci(recall["agent"], recall[s])
                summary[s]["agent_minus_recall_ci95"] = [
                    round(diff, 4),
                    round(low, 4),
                    round(high, 4),
                ]
    return summary


def agent_targets(result: dict, head: str) -> dict[str, bool | float]:
    """The agent issue's targets on this run: ratios to the peers named there, with the paired
    interval of the difference where one is asked for; `_ratio` entries are the measured values."""
    fin, paired = result["final"], (result.get("ci") or {}).get("agent_minus", {})
    agent = fin["agent"][head]
    out: dict[str, bool | float] = {
        "constraint_violations==0": result["agent"].get("constraint_violations") == 0,
        # measured in this run: with --workers 2 on 2 cores three processes share them (one process
        # alone: `--workers 1 --concurrency 1`, see benchmarks/README.md, Agent turn overhead)
        f"agent_latency_p95_ms<=50 ({result['workers']} workers share the cores)":
            result["agent_latency_ms"]["p95"] <= 50,
    }
    if result["protocol"] == "target":
        peers = [s for s in result["groups"]["peers"] if fin[s].get(head) is not None]
        fr = result.get("failures_removed") or {}
        out[f"failures_removed_of_best_peer({fr.get('vs')})"] = round(
            float(fr.get("share", 0.0)), 3
        )
        out["failures_removed>=1/3"] = float(fr.get("share", 0.0)) >= 1 / 3
        out["avg_turns<every_peer"] = all(
            fin["agent"]["avg_turns"] < fin[s]["avg_turns"] for s in peers
        )
        return out
    if result["protocol"] == "intent":
        for peer, bar, metric in (
            ("constrained_fold_in", 1.10, head),
            ("popularity", 1.30, "recall_cum@10"),
        ):
            if peer not in fin:
                continue
            out[f"{metric}_ratio_to_{peer}"] = round(
                fin["agent"][metric] / max(fin[peer][metric], 1e-12), 3
            )
            low = (paired.get(peer) or {}).get("low")
            out[f"{metric}>={bar:.2f}x_{peer}"] = fin["agent"][metric] >= bar * fin[peer][
                metric
            ] and (metric != head or (low is not None and low > 0))
        for source, g in (result.get("by_phrasing") or {}).items():
            liked = (g["final"].get("agent") or {}).get("understood_liked")
            out[f"understood_liked_{source}>=0.95"] = liked is not None and liked >= 0.95
        return out
    for peer, bar in (
        ("mentioned_fold_in", 1.10),
        ("popularity", 1.30),
        ("constrained_fold_in", None),
    ):
        if peer not in fin:
            continue
        out[f"{head}_ratio_to_{peer}"] = round(agent / max(fin[peer][head], 1e-12), 3)
        if bar is not None:
            low = (paired.get(peer) or {}).get("low")
            out[f"{head}>={bar:.2f}x_{peer}"] = agent >= bar * fin[peer][head] and (
                peer != "mentioned_fold_in" or (low is not None and low > 0))
    if "mentioned_fold_in" in fin:
        out["ndcg@10_standing>=mentioned_fold_in"] = (
            fin["agent"]["ndcg@10_standing"] >= fin["mentioned_fold_in"]["ndcg@10_standing"])
    return out


def target_heads(turns: int) -> tuple[str, ...]:
    """The target protocol's columns: sr@T (named for the turns), avg_turns, hdcg, SR@t per turn."""
    return (f"sr@{turns}", "avg_turns", "hdcg", "success")


def table(result: dict, heads: tuple[str, ...] = HEADLINE, curve: str = "recall_cum@10") -> str:
    """Markdown: final values per system (oracles last), the headline curve per turn, and the
    paired intervals."""
    turns = result["turns"]
    oracles = set(result["groups"]["oracles"])
    head = result["ci"]["metric"]
    cols = [h for h in heads if h != "success" or curve != "success"]
    lines = [
        "| system | "
        + " | ".join(cols)
        + " | "
        + " | ".join(f"{curve} t{t + 1}" for t in range(turns))
        + f" | agent - system, {head} [95% CI] |",
        "|---" * (len(cols) + turns + 2) + "|",
    ]
    for s, fin in result["final"].items():
        ci = result["ci"]["agent_minus"].get(s)
        diff = f"{ci['diff']:+.4f} [{ci['low']:+.4f}, {ci['high']:+.4f}]" if ci else ""
        name = f"{s} (oracle)" if s in oracles else s
        lines.append(
            f"| {name} | "
            + " | ".join(f"{fin[k]:.4f}" if fin.get(k) is not None else "-" for k in cols)
            + " | "
            + " | ".join(f"{v:.4f}" for v in result["per_turn"][s][curve])
            + f" | {diff} |"
        )
    return "\n".join(lines)


VARIANTS = {
    "all facts": ("genre", "liked", "avoid", "decade", "disliked"),
    "no decade": ("genre", "liked", "avoid", "disliked"),
    "no genre wish, no decade": ("liked", "avoid", "disliked"),
    "titles only": ("liked", "disliked"),
}


def ablations(args: argparse.Namespace) -> None:
    """Replay the first N users with template users that reveal fewer kinds of fact."""
    import torch

    from genrec.config import get_settings
    from genrec.evaluation.harness import ChatEvalConfig, build_components, run_chat_eval
    from genrec.evaluation.simulation.factory import TemplateSimulator

    torch.set_num_threads(1)
    s = get_settings(dataset=args.dataset, split=args.split, llm=args.llm)
    cfg = ChatEvalConfig(
        dataset=args.dataset,
        split=args.split,
        users=args.ablations,
        turns=args.turns,
        llm=args.llm,
        concurrency=args.concurrency,
    )
    parts = build_components(s, cfg, progress=False)
    rows = {}
    for name, kinds in VARIANTS.items():
        out = Path(tempfile.mkdtemp(prefix="genrec-ablation-")) / "run"
        t0 = time.perf_counter()
        res = run_chat_eval(
            cfg,
            dataset=parts.dataset,
            split=parts.split,
            agent=parts.agent,
            out_dir=out,
            ranker=parts.ranker,
            store=parts.store,
            popularity_ranker=parts.popularity_ranker,
            progress=False,
            report=False,
            simulator_factory=lambda p, seed, kinds=kinds: TemplateSimulator(
                p, parts.dataset.catalog, seed=seed, kinds=kinds
            ),
        )
        fin = res.metrics["final"]
        rows[name] = {
            "seconds": round(time.perf_counter() - t0, 1),
            "recall_cum@10": {sys_: fin[sys_]["recall_cum@10"] for sys_ in fin if sys_ != "ci"},
            "ndcg@10": {sys_: fin[sys_]["ndcg@10"] for sys_ in fin if sys_ != "ci"},
            "agent": {
                k: fin["agent"].get(k)
                for k in (
                    "understood_liked",
                    "misread_disliked",
                    "year_filter",
                    "off_genre",
                    "seen",
                    "question",
                )
            },
        }
        print(
            f"{name:<26} recall_cum@10: agent {fin['agent']['recall_cum@10']:.4f}  "
            f"mentioned_fold_in {fin['mentioned_fold_in']['recall_cum@10']:.4f}  "
            f"popularity {fin['popularity']['recall_cum@10']:.4f}"
        )
    path = RESULTS / "eval_chat_ablations.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"users": args.ablations, "turns": args.turns, "llm": args.llm,
                                "machine": machine(), "variants": rows}, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
