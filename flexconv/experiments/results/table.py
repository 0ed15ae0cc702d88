"""Collect: the table of finished row/seeds, read from run folders and committed records under one schema.

Every finished row/seed is a :class:`Record`: ``{schema_version, study, row, seed, config, result,
environment}``, the row being its folder name and the config its resolved training config. The same JSON is
written in the run folder (``<runs>/<study>/<row>/seed<S>/record.json``, which stays on the machine that trained
it) and, for a full (not ``--fast``) invocation, committed beside the page
(``<out>/records/<study>/<row>/seed<S>.json``), so that a study accumulates across machines and sessions. A
record is reused only when its config equals the row's config exactly (output locations and ``resume`` aside);
a record of another schema version is refused, naming the file: records are migrated, never filled in.

environment: the Python version and the versions of :data:`ENVIRONMENT_PACKAGES` that computed the result
(None in records written before they were kept); not compared when a record is reused.
"""

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
OUTPUT_KEYS = ("run_dir", "resume")
"""Config keys that say where a run wrote or continued from, not what it computed: left out when compared."""
ENVIRONMENT_PACKAGES = ("torch", "lightning", "numpy", "aeon", "mnist1d", "scikit-learn")
"""The packages whose versions can change a row's numbers: the framework, the loop, and the data loaders."""


@dataclass(frozen=True)
class Record:
    """One finished row/seed: where it belongs (study, row folder, seed), its resolved config and its result."""

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
    """Where the committed record of one row/seed lives: ``<out>/records/<study>/<row>/seed<seed>.json``."""
    return out / RECORDS / study / row / f"seed{seed}.json"


def environment() -> dict[str, str]:
    """The Python version and the installed versions of :data:`ENVIRONMENT_PACKAGES` (those installed)."""
    versions = {"python": platform.python_version()}
    for package in ENVIRONMENT_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


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
