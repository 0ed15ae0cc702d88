"""``flexconv release``: turn a finished run's checkpoint into a released checkpoint file.

    flexconv release runs/main_job/<time>/checkpoints/best.ckpt --name flextcn_mnist1d \\
        --command "flexconv train experiment=main_job"

tests the checkpoint on its dataset's test split (``flexconv evaluate``), writes
``flexconv/checkpoints/<name>.pt`` in the format of :mod:`flexconv.models.pretrained` (the model's
float32 weights and what rebuilds and tests it, no optimiser state), tests the written file again,
fails if the two accuracies differ, and prints the :data:`~flexconv.models.pretrained.RELEASES` entry
to add. (``flexconv evaluate`` reads release files and released names:
:func:`flexconv.train.checkpoints.evaluation_module`.)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from flexconv.atomic import atomic_open
from flexconv.models.pretrained import CHECKPOINT_DIR, FORMAT, Release
from flexconv.train.checkpoints import RELEASE_SUFFIX, load_module
from flexconv.train.commands import evaluate
from flexconv.train.module import TaskModule


def release_data(module: TaskModule, name: str, command: str, test_acc: float) -> dict[str, Any]:
    """The release file's dict for a trained ``module`` (see :mod:`flexconv.models.pretrained`)."""
    run_config = copy.deepcopy(module.hparams["run_config"])
    run_config["run_dir"] = None
    return {
        "format": FORMAT,
        "name": name,
        "model_name": module.hparams["model_name"],
        "model_config": module.model_config,
        "state_dict": {
            key: value.detach().float().clone() if value.is_floating_point() else value.clone()
            for key, value in module.model.state_dict().items()
        },
        "objective": module.objective,
        "run_config": run_config,
        "dataset": run_config["data"]["name"],
        "test_acc": test_acc,
        "params": sum(p.numel() for p in module.model.parameters()),
        "command": command,
    }


def release(checkpoint: str | Path, name: str, command: str, out_dir: str | Path = CHECKPOINT_DIR) -> Release:
    """Write ``<out_dir>/<name>.pt`` from a run's ``checkpoint``; returns its table entry.

    The test accuracy is measured here, on the checkpoint and again on the written file.
    """
    if not command.startswith("flexconv train"):
        raise ValueError(f"--command must be the `flexconv train ...` command that produced the run, got {command!r}")
    test_acc = evaluate(checkpoint)["test_acc"]
    data = release_data(load_module(checkpoint), name, command, test_acc)
    path = Path(out_dir) / f"{name}{RELEASE_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as file:
        torch.save(data, file)
    again = evaluate(path)["test_acc"]
    if again != test_acc:
        raise RuntimeError(
            f"{path} tests at {again:.4%}, its checkpoint at {test_acc:.4%}: the release is not faithful"
        )
    return Release(
        name=name,
        model_name=data["model_name"],
        dataset=data["dataset"],
        test_acc=test_acc,
        params=data["params"],
        command=command,
    )
