"""Write flexconv checkpoints whole or not at all; read them, or say clearly which file is not one.

A flexconv checkpoint is a Lightning checkpoint of :class:`TaskModule`: a dict with
``state_dict``, ``hyper_parameters`` (``model_name``, ``model_options``, ``run_config``, ...) and,
for resuming, the loop state (``loops``, ``global_step``). :class:`AtomicCheckpointIO` (the trainer's
checkpoint plugin) writes each one through :func:`flexconv.atomic.atomic_open`: a run killed or out
of disk space mid-save keeps its previous ``last.ckpt``. :func:`read_checkpoint` loads it the way
Lightning does (``weights_only=True``) and turns every way a wrong file fails (empty, truncated,
another program's pickle, a plain state dict) into one :class:`CheckpointError` naming the file.
:func:`evaluation_module` also reads release files (``flexconv/checkpoints/<name>.pt``, see
:mod:`flexconv.models.pretrained`: weights and what rebuilds and tests them) and released names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from flexconv.atomic import atomic_open
from flexconv.models.pretrained import RELEASES, list_pretrained, read_release
from flexconv.train.module import TaskModule

RELEASE_SUFFIX = ".pt"  # run checkpoints are .ckpt
TRAINING_KEYS = ("state_dict", "hyper_parameters")
RESUME_KEYS = ("loops", "global_step", "optimizer_states")


class CheckpointError(ValueError):
    """A file given as a checkpoint is missing or is not a readable flexconv checkpoint."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoints, written to a temporary file in the same folder and renamed
    over the target (local paths)."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Optional[Any] = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options (got {storage_options!r})")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as file:
            torch.save(checkpoint, file)


def read_checkpoint(path: str | Path, for_resume: bool = False) -> dict[str, Any]:
    """The checkpoint dict at ``path`` (on the CPU); with ``for_resume``, also require the loop state."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is not a readable checkpoint: the file is empty")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - torch.load fails in many ways on a wrong file
        # (EOFError, RuntimeError "PytorchStreamReader failed", UnpicklingError, KeyError, ...)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated, or not written by torch.save): "
            f"{type(error).__name__}: {reason[:200]}"
        ) from error
    required = TRAINING_KEYS + (RESUME_KEYS if for_resume else ())
    missing = [key for key in required if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise CheckpointError(
            f"{path} is not a flexconv training checkpoint: it has no {', '.join(missing)} "
            "(expected a checkpoints/last.ckpt or best.ckpt of a flexconv run)"
        )
    hyper = checkpoint["hyper_parameters"]
    if not isinstance(hyper, dict) or "model_name" not in hyper or "run_config" not in hyper:
        raise CheckpointError(
            f"{path} is a Lightning checkpoint but not of a flexconv run "
            "(no model_name / run_config in its hyper_parameters)"
        )
    return checkpoint


def load_module(path: str | Path) -> TaskModule:
    """The :class:`TaskModule` stored at ``path``, on the CPU, checked first."""
    read_checkpoint(path)
    return TaskModule.load_from_checkpoint(path, map_location="cpu")


def release_module(release: dict[str, Any]) -> TaskModule:
    """A :class:`TaskModule` holding a release file's model and weights (for testing it)."""
    run_config = release["run_config"]
    module = TaskModule(
        model_name=release["model_name"],
        model_options=release["model_config"],
        optim=run_config["optim"],
        objective=release["objective"],
        run_config=run_config,
    )
    module.model.load_state_dict(release["state_dict"])
    return module


def evaluation_module(checkpoint: str | Path) -> TaskModule:
    """The module that ``flexconv evaluate <checkpoint>`` tests: a run's ``.ckpt``, a release file
    (``.pt``) or the name of a released checkpoint (``flexconv/checkpoints/<name>.pt``)."""
    path = Path(checkpoint)
    if not path.exists() and str(checkpoint) in RELEASES:
        path = RELEASES[str(checkpoint)].path
    if not path.exists():
        raise CheckpointError(
            f"no checkpoint at {path}, and no released checkpoint of that name "
            f"(released: {', '.join(list_pretrained()) or 'none'})"
        )
    if path.suffix == RELEASE_SUFFIX:
        return release_module(read_release(path))
    return load_module(path)
