"""Structured logging: structlog events with dotted names, rendered as JSON lines through stdlib logging.

Going through stdlib logging puts uvicorn's and the libraries' records in the same stream and format.
Callers log ids and sizes; any customer text goes through ``zabota.redaction.mask_for_log`` first.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

# Marks the handler this module installs, so configuring twice (tests, reloads) never doubles every line.
_HANDLER_NAME = "zabota-gateway"

# The webchat socket takes the website's signed identity token in its URL (browsers cannot set headers on a
# WebSocket), and uvicorn logs every path with its query: the token is a bearer credential, so it is masked.
_IDENTITY_IN_QUERY = re.compile(r"([?&]identity=)[^&\s\"']+")


class QueryTokenFilter(logging.Filter):
    """Masks ``identity=<token>`` in the arguments of stdlib records (uvicorn's access and WebSocket lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _IDENTITY_IN_QUERY.sub(r"\1***", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str) and "identity=" in record.msg:
            record.msg = _IDENTITY_IN_QUERY.sub(r"\1***", record.msg)
        return True


_SHARED_PROCESSORS: list[structlog.typing.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str) -> None:
    numeric_level = logging.getLevelName(level)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: structlog.testing.capture_logs must see loggers created before it.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(QueryTokenFilter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
            foreign_pre_chain=_SHARED_PROCESSORS,
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric_level)
    # httpx logs every request URL at INFO, and Rasa's /status URL carries the auth token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # uvicorn installs its own plain-text handlers before it calls the app factory; send its records through
    # the JSON handler instead, so one process writes one format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
