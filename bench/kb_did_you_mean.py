"""`make bench-kb-did-you-mean [QUERIES=<csv>] [NEGATIVES=<csv>]`: how often "did you mean" buttons hold the right
article, against answering with the best article alone (the baseline, same run, same index).

    python -m bench.kb_did_you_mean --queries bench/data/wild_dev/kb.csv [--negatives F] [--sweep]

Each labelled question goes through the knowledge-base search and ``kb_index.answering.choose_article`` (no NLU
intent: the imported-FAQ case, where the search alone decides). Reported:

  answered    the share shown one article, and how often it is the right one;
  offered     the share shown buttons, and how often the right article is among them;
  resolved    right article shown, or among the buttons: what the customer can reach in one step;
  wrong       a wrong single article shown (the cost "did you mean" exists to cut);
  baseline    the same without "did you mean": answered when over the threshold, right or wrong;
  negatives   out-of-scope questions that got an answer or buttons (lower is better);
  buttons     a button sends the article's title: the share of titles met in the run whose search shows that
              very article (1.0 expected).

``--sweep`` prints a grid of margin and floor on the same questions: tune on the development set only
(bench/data/wild_dev/kb.csv), then measure the held-out set once. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from kb_index.answering import DidYouMean, choose_article
from kb_index.embedders import create_embedder
from kb_index.evaluate import LabelledQuery, read_queries, read_texts
from kb_index.index import load_current
from kb_index.search import Retriever, SearchResponse
from kb_index.settings import KbSettings

MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08)
FLOORS = (0.0, 0.03, 0.05, 0.08, 0.1)


@dataclass(frozen=True)
class Figures:
    questions: int
    answered: float
    answered_right: float
    offered: float
    offered_right: float
    resolved: float
    wrong: float
    baseline_right: float
    baseline_wrong: float
    negatives_reached: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def score(
    queries: Sequence[LabelledQuery],
    responses: Sequence[SearchResponse],
    negatives: Sequence[SearchResponse],
    ask: DidYouMean,
) -> Figures:
    n = len(queries)
    answered = answered_right = offered = offered_right = base_right = base_wrong = 0
    for query, response in zip(queries, responses, strict=True):
        choice = choose_article(response, None, did_you_mean=ask)
        if choice.hit is not None:
            answered += 1
            answered_right += choice.hit.id == query.expected_id
        elif choice.options:
            offered += 1
            offered_right += any(h.id == query.expected_id for h in choice.options)
        if response.answered:
            base_right += response.hits[0].id == query.expected_id
            base_wrong += response.hits[0].id != query.expected_id
    reached = sum(1 for r in negatives if (c := choose_article(r, None, did_you_mean=ask)).hit is not None or c.options)
    return Figures(
        questions=n,
        answered=answered / n,
        answered_right=answered_right / answered if answered else 0.0,
        offered=offered / n,
        offered_right=offered_right / offered if offered else 0.0,
        resolved=(answered_right + offered_right) / n,
        wrong=(answered - answered_right) / n,
        baseline_right=base_right / n,
        baseline_wrong=base_wrong / n,
        negatives_reached=reached / len(negatives) if negatives else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=Path, default=Path("bench/data/wild_dev/kb.csv"))
    parser.add_argument("--negatives", type=Path)
    parser.add_argument("--index", type=Path)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args(argv)

    settings = KbSettings.from_env()
    embedder = create_embedder(settings.embedder)
    loaded = load_current(args.index or Path(settings.index_dir), embedder.name, embedder.dim)
    retriever = Retriever(loaded, embedder, settings.search)
    queries = read_queries(args.queries)
    responses = [retriever.search(q.query, lang=q.lang or None, k=5) for q in queries]
    negatives = [retriever.search(t, k=5) for t in read_texts(args.negatives)] if args.negatives else []

    titles = sorted({(h.id, h.lang, h.title) for r in responses for h in r.hits})
    title_ok = 0
    for doc, lang, title in titles:
        by_title = choose_article(retriever.search(title, lang=lang, k=5), None)
        title_ok += by_title.hit is not None and by_title.hit.id == doc
    chosen = DidYouMean()
    if args.sweep:
        print("margin floor  answered(right)  offered(right)  resolved  wrong  negatives")
        for margin in MARGINS:
            for floor in FLOORS:
                f = score(queries, responses, negatives, replace(chosen, margin=margin, floor=floor))
                neg = "-" if f.negatives_reached is None else f"{f.negatives_reached:.3f}"
                print(
                    f"{margin:6.2f} {floor:5.2f}  {f.answered:.3f}({f.answered_right:.3f})    "
                    f"{f.offered:.3f}({f.offered_right:.3f})   {f.resolved:.3f}    {f.wrong:.3f}  {neg}"
                )
    figures = score(queries, responses, negatives, chosen)
    off = score(queries, responses, negatives, replace(chosen, enabled=False))
    print(
        f"{args.queries} ({figures.questions} questions), margin {chosen.margin}, floor {chosen.floor}:\n"
        f"  did you mean: one article for {figures.answered:.1%} (right {figures.answered_right:.1%}), buttons for "
        f"{figures.offered:.1%} (right one among them {figures.offered_right:.1%}); resolved {figures.resolved:.1%}, "
        f"wrong article {figures.wrong:.1%}\n"
        f"  baseline (best article only): right {off.resolved:.1%}, wrong article {off.wrong:.1%}\n"
        f"  a button's title finds its article: {title_ok}/{len(titles)}"
    )
    result: dict[str, object] = {"did_you_mean": figures.as_dict(), "baseline": off.as_dict()}
    result.update(data=str(args.queries), margin=chosen.margin, floor=chosen.floor)
    result.update(titles=len(titles), titles_found=title_ok)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
