"""What every ``flexconv`` command shares: its log messages on stderr, and results printed as a table."""

from __future__ import annotations

import logging
from typing import Any


def setup_logging() -> None:
    """INFO messages of flexconv's own loggers on stderr (Lightning's loggers keep their own handlers)."""
    logger = logging.getLogger("flexconv")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def print_results(title: str, results: dict[str, Any]) -> None:
    """A rich table of the results (accuracy, params, wall time, run folder, ...)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=True)
    table.add_column("result")
    table.add_column("value")
    for key, value in results.items():
        if isinstance(value, float):
            value = f"{100 * value:.2f} %" if "acc" in key else f"{value:.4g}"
        table.add_row(key, str(value))
    Console().print(table)
