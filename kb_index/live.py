"""The index a running service searches, swapped without a restart when a new build is activated.

``LiveRetriever.get()`` looks at the CURRENT pointer at most every ``check_interval`` seconds; when it names
another build, that build is loaded and verified off to the side and only then replaces the one in use. A
build that fails to load is logged (``kb.index.reload_failed``) and the old one keeps serving; it is not
retried until CURRENT changes again.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import structlog

from kb_index.embedders import Embedder
from kb_index.index import IndexError_, IndexNotFound, current_build, load_build
from kb_index.search import Retriever, SearchSettings

log = structlog.stdlib.get_logger(__name__)


class LiveRetriever:
    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        check_interval: float = 2.0,
    ) -> None:
        self.index_dir = index_dir
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        self.check_interval = check_interval
        self._retriever: Retriever | None = None
        self._build_name = ""
        self._failed_name = ""
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def build_name(self) -> str:
        return self._build_name

    def get(self) -> Retriever:
        """The retriever of the newest good build. Raises ``IndexError_`` only while no build was ever loaded."""
        if time.monotonic() - self._checked_at >= self.check_interval:
            self.refresh()
        retriever = self._retriever
        if retriever is None:
            raise IndexNotFound(f"no usable knowledge-base index at {self.index_dir}")
        return retriever

    def refresh(self) -> bool:
        """Loads the build CURRENT names if it is new; True when a new build was swapped in."""
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                build = current_build(self.index_dir)
            except IndexError_ as error:
                if self._retriever is None:
                    log.warning("kb.index.missing", index_dir=str(self.index_dir), error=str(error))
                    raise
                log.error("kb.index.pointer_broken", error=str(error), serving=self._build_name)
                return False
            if build.name in (self._build_name, self._failed_name):
                return False
            try:
                retriever = Retriever(
                    load_build(build, self.embedder.name, self.embedder.dim), self.embedder, self.settings
                )
            except (IndexError_, OSError, ValueError) as error:
                self._failed_name = build.name
                log.error(
                    "kb.index.reload_failed", build=build.name, error=str(error), serving=self._build_name or None
                )
                if self._retriever is None:
                    raise
                return False
            self._retriever, self._build_name, self._failed_name = retriever, build.name, ""
            log.info("kb.index.loaded", build=build.name, chunks=len(retriever.index.chunks))
            return True
