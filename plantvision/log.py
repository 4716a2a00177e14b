"""Structured logging: fixed event names, JSON lines or console, context bound once."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure(json: bool = True, level: int = logging.INFO) -> None:
    """Route structlog to stderr as JSON lines (for machines) or key=value (for people)."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Resolve stderr when a logger is made, not now: a redirected or replaced stream wins.
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get(**context: Any) -> Any:
    """A logger with `context` bound (camera, zone file hash, ...)."""
    return structlog.get_logger("plantvision").bind(**context)
