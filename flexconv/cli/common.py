"""What every ``flexconv`` command shares: its log messages on stderr."""

from __future__ import annotations

import logging


def setup_logging() -> None:
    """INFO messages of flexconv's own loggers on stderr (Lightning's loggers keep their own handlers)."""
    logger = logging.getLogger("flexconv")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
