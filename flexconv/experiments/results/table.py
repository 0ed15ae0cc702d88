"""Collect: each finished row/seed is a :class:`Record` under one schema, in its run folder
(``<runs>/<study>/<row>/seed<S>/record.json``) and, outside ``--fast``, committed beside the page
(``<out>/records/<study>/<row>/seed<S>.json``) so that a study accumulates across machines. A record is reused only
for a row whose resolved config equals its own (outputs aside); one of another schema version is refused, naming
the file: records are migrated, never filled in."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from flexconv.atomic import write_text

SCHEMA_VERSION = 1
RECORDS = "records"
RUN_RECORD = "record.json"
OUTPUT_KEYS = ("run_dir", "resume")  # where a run wrote or continued from, not what it computed
ENVIRONMENT_PACKAGES = ("torch", "lightning", "numpy", "aeon", "mnist1d", "scikit-learn")  # can change the numbers


@dataclass(frozen=True)
class Record:
    """One finished row/seed: its study, row folder and seed, its resolved config, its result, and the versions
    of Python and :data:`ENVIRONMENT_PACKAGES` that computed it (None where unknown; not compared on reuse)."""

    study: str
    row: str
    seed: int
    config: dict[str, Any]
    result: dict[str, Any]
    environment: Optional[dict[str, str]] = None
    schema_version: int = SCHEMA_VERSION

    def computed(self, config: dict[str, Any]) -> bool:
        """Whether this record is the result of ``config`` (a resolved config; outputs aside)."""
        return _without_outputs(self.config) == _without_outputs(config)


def _without_outputs(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in OUTPUT_KEYS}


def record_path(out: Path, study: str, row: str, seed: int) -> Path:
    """Where the committed record of one row/seed lives."""
    return out / RECORDS / study / row / f"seed{seed}.json"


def environment() -> dict[str, str]:
    """The Python version and the versions of the installed :data:`ENVIRONMENT_PACKAGES`."""
    installed = {(d.metadata["Name"] or "").lower(): d.version for d in metadata.distributions()}
    return {"python": platform.python_version(), **{p: installed[p] for p in ENVIRONMENT_PACKAGES if p in installed}}


def write_record(path: Path, record: Record) -> None:
    """Write ``record`` at ``path`` atomically (a killed study never leaves half a record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = asdict(record)
    ordered = {"schema_version": fields.pop("schema_version"), **fields}
    write_text(path, json.dumps(ordered, indent=1, default=str) + "\n")


def read_record(path: Path) -> Record:
    """The record at ``path``; ValueError naming the file when it is not of :data:`SCHEMA_VERSION`."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        version = data.get("schema_version") if isinstance(data, dict) else None
        raise ValueError(f"{path}: a results record of schema version {version!r}; this version reads {SCHEMA_VERSION}")
    return Record(**data)


def collect(out: Path, runs: Path) -> list[Record]:
    """The table: every committed record under ``<out>/records`` and every run folder's record under ``runs``."""
    committed = sorted((out / RECORDS).glob("*/*/seed*.json"))
    in_runs = sorted(runs.glob(f"*/*/seed*/{RUN_RECORD}")) if runs.is_dir() else []
    return [read_record(path) for path in (*committed, *in_runs)]
