"""Per-turn agent overhead (everything but LLM time), LLM calls and prompt tokens per turn.

Scripted multi-turn conversations on ML-100K (real ranker, real Chroma) with the `none`
backend and with a fake LLM (guided and tool-calling). Overhead = wall time of `chat` minus the
time spent inside LLM calls (Reply.timings["overhead"]); CPU = process CPU time per turn (a
figure that stays meaningful on a shared, loaded machine). Writes results/agent_turn.json.

    python benchmarks/agent_turn.py                 # 40 conversations x 6 turns per backend
    python benchmarks/agent_turn.py --conversations 10
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from _machine import machine  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CONVERSATIONS = [
    ["hi", "I loved Star Wars and Raiders of the Lost Ark", "something from the 80s, no horror",
     "more please", "I hated the first one", "any comedies?"],
    ["recommend something", "a funny animated film for kids", "I liked Toy Story",
     "not Aladdin", "after 1990 please", "more"],
    ["I'm into sci-fi from the 90s", "I've seen Independence Day and liked it",
     "no action please", "what else?", "Batman", "the 1992 one"],
    ["I loved Fargo but hated Titanic", "crime thrillers", "nothing before 1980",
     "I liked the second one", "more like that", "show them again"],
    ["scary movies", "I loved Alien (1979) and Scream", "from the 70s or 80s",
     "between 1970 and 1985", "no comedy", "more"],
    ["I liked the shawshenk redemption", "dramas", "something older, before 1970",
     "westerns?", "not too violent please", "more"],
]




def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


def fake_script(policy: str):
    """A fake LLM that answers every request sensibly: extraction, writer, tool loop."""

    def reply(req):
        text = req.last_user_text
        if req.tools:
            if any(m.type == "tool" for m in req.messages):
                return "Here are a few picks for you."
            return {"name": "rank_for_user", "args": {"k": 20}}
        if req.response_format and "Extract the user's movie preferences" in text:
            return {}  # no reading of its own (an empty object): the rules' reading stands
        if req.response_format:
            start = text.find("[{")
            ev = json.JSONDecoder().raw_decode(text[start:])[0] if start >= 0 else []
            return {"text": "Some picks you may like.",
                    "rationales": [{"item_id": e["item_id"],
                                    "rationale": f"A {e['genres'][0]} film from {e['year']}."}
                                   for e in ev if e.get("genres") and e.get("year")]}
        return "What kind of movie would you like?"

    return reply


def run(name: str, rec: Any, conversations: int) -> dict[str, Any]:
    overhead, total, calls, prompt, cpu, stages, qs = [], [], [], [], [], {}, 0
    t0 = time.perf_counter()
    for c in range(conversations):
        script = CONVERSATIONS[c % len(CONVERSATIONS)]
        for msg in script:
            c0 = time.process_time()
            r = rec.chat(f"{name}-{c}", msg)
            cpu.append((time.process_time() - c0) * 1000)
            for k in ("understand", "candidates", "respond"):
                stages.setdefault(k, []).append(r.timings.get(k, 0.0))
            overhead.append(r.timings["overhead"])
            total.append(r.timings["total"])
            calls.append(r.llm_calls)
            prompt.append(r.prompt_tokens)
            qs += r.question
    wall = time.perf_counter() - t0
    return {
        "backend": name, "turns": len(overhead), "wall_s": round(wall, 2),
        "overhead_p50_ms": round(_pct(overhead, 0.5), 2),
        "overhead_p95_ms": round(_pct(overhead, 0.95), 2),
        "overhead_mean_ms": round(statistics.fmean(overhead), 2),
        "total_p95_ms": round(_pct(total, 0.95), 2),
        "cpu_p50_ms": round(_pct(cpu, 0.5), 2), "cpu_p95_ms": round(_pct(cpu, 0.95), 2),
        **{f"{k}_p50_ms": round(_pct(v, 0.5), 2) for k, v in stages.items()},
        "llm_calls_mean": round(statistics.fmean(calls), 3), "llm_calls_max": max(calls),
        "prompt_tokens_mean": round(statistics.fmean(prompt), 1), "prompt_tokens_max": max(prompt),
        "question_turns": qs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conversations", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=2, help="Conversations run first, not timed.")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (query embedding).")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "agent_turn.json"
    )
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from genrec.agent import Recommender, SessionStore
    from genrec.agent.builder import build_parts
    from genrec.config import Settings
    from genrec.llm import fake_backend, get_llm

    s = Settings()
    parts = build_parts(s, progress=True)
    backends = {
        "none (guided)": (get_llm("none", s), "guided"),
        "fake (guided)": (fake_backend([fake_script("guided")] * 100000), "guided"),
        "fake (tool-calling)": (fake_backend([fake_script("tool-calling")] * 100000),
                                "tool-calling"),
    }
    rows = []
    for name, (llm, policy) in backends.items():
        rec = Recommender(catalog=parts.catalog, ranker=parts.ranker, store=parts.store, llm=llm,
                          policy=policy, sessions=SessionStore(None))
        if args.warmup:
            run(f"warm-{name}", rec, args.warmup)
        rows.append(run(name, rec, args.conversations))
    info = machine()
    info["load_avg_end"] = list(os.getloadavg())
    info["torch_threads"] = args.threads
    hdr = (f"{'backend':<22}{'turns':>6}{'ovh p50 ms':>12}{'ovh p95 ms':>12}{'cpu p50':>9}"
           f"{'cpu p95':>9}{'LLM calls':>11}{'max calls':>10}{'prompt tok':>12}")
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        print(f"{r['backend']:<22}{r['turns']:>6}{r['overhead_p50_ms']:>12.1f}"
              f"{r['overhead_p95_ms']:>12.1f}{r['cpu_p50_ms']:>9.1f}{r['cpu_p95_ms']:>9.1f}"
              f"{r['llm_calls_mean']:>11.2f}{r['llm_calls_max']:>10}"
              f"{r['prompt_tokens_mean']:>12.0f}")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB; "
          f"load {info['load_avg_1m']:.1f} at the end")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": info, "dataset": s.dataset, "split": s.split,
                                    "conversations": args.conversations, "results": rows},
                                   indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
