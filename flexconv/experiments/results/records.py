"""Committed records of finished row/seeds, so a study accumulates across machines and sessions.

A run folder (``runs/results/...``: checkpoints, logs) stays on the machine that trained it, and
these machines are fresh every session. So every finished row/seed of a full (not ``--fast``)
invocation is also written to ``<out>/records/<study>/<row folder>/seed<S>.json``: its resolved
config and its result, a few KB, committed beside ``results.md``. A later invocation on any machine
reuses a record whose config is exactly the row's config (output locations aside) instead of
training again, as it reuses a finished run folder; a record of another config is ignored.

A record also holds the versions of the packages that computed it (:func:`environment`): the project
pins ranges, not versions, so the same seed and config can give other numbers a year later, and the
record says which versions gave its number (records written before this have none). They are not
compared when a record is reused.
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from flexconv.atomic import write_text
from flexconv.train.run_dir import same_config

RECORDS = "records"
OUTPUT_KEYS = ("run_dir",)
"""Config keys that say where a run wrote, not what it computed: left out when configs are compared."""
ENVIRONMENT_PACKAGES = ("torch", "lightning", "numpy", "aeon", "mnist1d", "scikit-learn")
"""The packages whose versions can change a row's numbers: the framework, the loop, and the data loaders."""


def record_path(out: Path, study: str, row_folder: str, seed: int) -> Path:
    """Where the record of one row/seed lives: ``<out>/records/<study>/<row folder>/seed<seed>.json``."""
    return out / RECORDS / study / row_folder / f"seed{seed}.json"


def _without_outputs(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in OUTPUT_KEYS}


def environment() -> dict[str, str]:
    """The Python version and the installed versions of :data:`ENVIRONMENT_PACKAGES` (those installed)."""
    versions = {"python": platform.python_version()}
    for package in ENVIRONMENT_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_record(path: Path, cfg: Any, result: dict[str, Any]) -> None:
    """Record ``result`` of the run of ``cfg`` (resolved, without ``resume``) at ``path``, with the environment."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config["resume"] = None
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"config": config, "result": result, "environment": environment()}
    write_text(path, json.dumps(record, indent=1, default=str) + "\n")  # a killed study never leaves half a record


def read_record(path: Path, cfg: Any) -> Optional[dict[str, Any]]:
    """The recorded result at ``path`` when it was computed with ``cfg`` (output locations aside), else None."""
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    wanted = OmegaConf.to_container(cfg, resolve=True)
    return record["result"] if same_config(_without_outputs(record["config"]), _without_outputs(wanted)) else None
