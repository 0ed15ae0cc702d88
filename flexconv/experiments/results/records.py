"""Committed records of finished row/seeds, so a study accumulates across machines and sessions.

A run folder (``runs/results/...``: checkpoints, logs) stays on the machine that trained it, and
these machines are fresh every session. So every finished row/seed of a full (not ``--fast``)
invocation is also written to ``<out>/records/<study>/<row folder>/seed<S>.json``: its resolved
config and its result, a few KB, committed beside ``results.md``. A later invocation on any machine
reuses a record whose config is exactly the row's config (output locations aside) instead of
training again, as it reuses a finished run folder; a record of another config is ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from flexconv.train.run_dir import same_config

RECORDS = "records"
OUTPUT_KEYS = ("run_dir",)
"""Config keys that say where a run wrote, not what it computed: left out when configs are compared."""


def record_path(out: Path, study: str, row_folder: str, seed: int) -> Path:
    """Where the record of one row/seed lives: ``<out>/records/<study>/<row folder>/seed<seed>.json``."""
    return out / RECORDS / study / row_folder / f"seed{seed}.json"


def _without_outputs(config: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in config.items() if key not in OUTPUT_KEYS}


def write_record(path: Path, cfg: Any, result: dict[str, Any]) -> None:
    """Record ``result`` of the run of ``cfg`` (resolved, without ``resume``) at ``path``."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config["resume"] = None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": config, "result": result}, indent=1, default=str) + "\n")


def read_record(path: Path, cfg: Any) -> Optional[dict[str, Any]]:
    """The recorded result at ``path`` when it was computed with ``cfg`` (output locations aside), else None."""
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    wanted = OmegaConf.to_container(cfg, resolve=True)
    return record["result"] if same_config(_without_outputs(record["config"]), _without_outputs(wanted)) else None
