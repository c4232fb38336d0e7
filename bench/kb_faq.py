"""An imported-FAQ knowledge base made from the project's own articles, for checking the retriever where there
are no ways of asking: one CSV row per article (``id,question,answer,lang,url``: the title as the question, the
Markdown body as the answer), as a help-desk FAQ export looks. ``kb/questions`` is not used.

    python -m bench.kb_faq --out results/bench/kb_faq.csv
    make kb-build SOURCE=results/bench/kb_faq.csv INDEX=build/kb-faq
    make kb-eval INDEX=build/kb-faq QUERIES=bench/data/wild_dev/kb.csv NEGATIVES=bench/data/wild_dev/kb_negatives.csv
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from kb_index.documents import parse_markdown

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "kb" / "articles"


def faq_rows(articles: Path = ARTICLES) -> list[dict[str, str]]:
    rows = []
    for path in sorted(articles.rglob("*.md")):
        document = parse_markdown(path.read_text(encoding="utf-8"), str(path))
        rows.append(
            {
                "id": document.id,
                "question": document.title,
                "answer": document.body,
                "lang": document.lang,
                "url": document.url,
            }
        )
    return rows


def write_rows(path: Path, fieldnames: list[str], rows: list[dict[str, str]]) -> None:
    """``rows`` as a CSV with a header at ``path``, its folder made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, default=ARTICLES)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = faq_rows(args.articles)
    write_rows(args.out, ["id", "question", "answer", "lang", "url"], rows)
    print(f"{len(rows)} FAQ rows -> {args.out}")


if __name__ == "__main__":
    main()
