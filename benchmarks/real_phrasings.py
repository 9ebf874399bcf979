"""How the agent's rule reader (`--llm none`) reads real seekers' sentences: every phrasebook
template with a title slot (INSPIRED's seeker turns, genrec/evaluation/simulation/phrasebook.py),
filled with the 40 titles most rated in ML-100K's u1 training split, each sentence read on a
fresh state. Prints the share of liked slots read as liked per template (the worst first) and
every template whose slot not liked (disliked, seen, mentioned) is read as liked.

    python benchmarks/real_phrasings.py              # templates below 1.00
    python benchmarks/real_phrasings.py --all        # every template
    python benchmarks/real_phrasings.py --examples 3 # misread sentences per template

Needs INSPIRED's dev.tsv (../shared/data/inspired/dev.tsv or $GENREC_INSPIRED).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")


GENRES = ("Comedy", "Horror", "Drama")


def main() -> None:
    from genrec.agent.state import DialogueState
    from genrec.agent.understanding.extraction import CatalogExtractor
    from genrec.config import Settings
    from genrec.data import load_split
    from genrec.evaluation.simulation.phrasebook_corpus import build_phrasebook

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--titles", type=int, default=40, help="popular titles each template is filled with"
    )
    ap.add_argument(
        "--all", action="store_true", help="print every template, not only those below 1.00"
    )
    ap.add_argument("--examples", type=int, default=1, help="misread sentences shown per template")
    args = ap.parse_args()

    ds, split = load_split("ml-100k", "u1", Settings().datasets_dir)
    cat = ds.catalog
    popular = [
        i
        for i, _ in sorted(split.train.item_counts().items(), key=lambda kv: -kv[1])[: args.titles]
    ]
    book = build_phrasebook().safe_for(cat)
    reader = CatalogExtractor(cat)
    said = got = 0
    rows = []
    misread = []
    for t in book.templates:
        if not t.titles:
            continue
        ok = n = 0
        missed = []
        for k in range(len(popular)):
            ids = [popular[(k + j) % len(popular)] for j in range(len(t.titles))]
            text = t.fill(
                [cat[i].title for i in ids], [GENRES[j % len(GENRES)] for j in range(len(t.genres))]
            )
            ex = reader.extract(text, DialogueState())
            for iid, pol in zip(ids, t.titles):
                if pol == "liked":
                    n += 1
                    ok += iid in ex.liked
                    if iid not in ex.liked and (not missed or missed[-1] != text):
                        missed.append(text)
                elif iid in ex.liked and (not misread or misread[-1][1] is not t):
                    misread.append((pol, t, text))
        if n:
            said, got = said + n, got + ok
            rows.append((ok / n, t, missed))
    rows.sort(key=lambda r: r[0])
    for share, t, missed in rows:
        if share < 1.0 or args.all:
            print(f"{share:.2f}  {t.act:<9}{t.text}")
            for m in missed[:args.examples]:
                print(f"        missed: {m}")
    print(
        f"liked slots understood: {got}/{said} = {got / max(said, 1):.3f} "
        f"over {len(rows)} templates"
    )
    print(f"templates with a slot not liked read as liked: {len({id(t) for _, t, _ in misread})}")
    shown: set[int] = set()
    for pol, t, text in misread:
        if id(t) not in shown:
            shown.add(id(t))
            print(f"  {pol:<9}{t.text}\n        e.g. {text}")


if __name__ == "__main__":
    main()
