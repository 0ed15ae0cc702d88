"""``flexconv crossres``: the cross-resolution protocol of the FlexConv paper (Table 4).

1. train at the source resolution (``data.resolution=[s, s]``) and test there;
2. move the model to the target resolution (:func:`flexconv.nn.resolution.change_resolution`:
   kernels re-sampled on the finer grid, scaled by (s/t)^D) and test "out of the box";
3. fine-tune ``finetune_epochs`` at the target resolution and test again.

Two diagnostics say why a transfer works or not: ``frequency_over_nyquist``, how far the source
model's kernels are from band-limited on their grid (at most 1 is what anti-aliasing aims for), and
``out_of_the_box_bn_acc``, the out-of-the-box accuracy once the BatchNorm statistics are
re-estimated at the target resolution (no labels, no gradient), which separates a shift of the
activation statistics from kernels that no longer compute what they learned.

The experiment's ``crossres`` node gives ``source``, ``target`` and ``finetune_epochs``. Results
(source accuracy, out-of-the-box accuracy, the drop, fine-tuned accuracy) are printed and written
to ``<run_dir>/crossres.json``; the two training runs are ``<run_dir>/source`` and ``.../finetune``.

Run again in the same ``run_dir`` (an interrupted protocol, or a results study resumed), a stage that
finished with the same config is reused (its results are in ``<stage>/stage_result.json``) and a stage
that was interrupted resumes from its last checkpoint, so nothing trained is lost. The row folder is
locked for the whole protocol: a second process given the same ``run_dir`` is refused
(:class:`flexconv.train.run_dir.RunDirInUseError`) instead of retraining a stage the first one finished.
The command line is :func:`flexconv.cli.train.crossres_main`.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, open_dict
from torch import nn

from flexconv.atomic import write_text
from flexconv.nn.antialias import frequency_over_nyquist
from flexconv.nn.ckconv import CKConv
from flexconv.nn.resolution import change_resolution
from flexconv.train.callbacks import DEVICE_SEPARATOR, joined_devices
from flexconv.train.checkpoints import load_module
from flexconv.train.commands import measure_test_metrics, measure_test_metrics_batch_norm_reestimated, train
from flexconv.train.module import TaskModule
from flexconv.train.run_dir import CHECKPOINTS, RunLock, resolve_run_dir, saved_config_matches

log = logging.getLogger(__name__)

STAGE_RESULT = "stage_result.json"  # in a stage's folder once the stage has finished: what train() returned
DIAGNOSTICS = ("frequency_over_nyquist", "out_of_the_box_bn_acc")
"""The result keys of the diagnostics that :func:`transfer` measures on the source model."""


def _stage_config(
    cfg: DictConfig, run_dir: Path, stage: str, resolution: int, epochs: Optional[int] = None
) -> DictConfig:
    staged = copy.deepcopy(cfg)
    with open_dict(staged):
        staged.run_dir = str(run_dir / stage)
        staged.resume = None
        staged.data.resolution = [resolution] * 2
        if epochs is not None:
            staged.trainer.max_epochs = epochs
    return staged


def train_stage(staged: DictConfig, **train_kwargs: Any) -> dict[str, Any]:
    """:func:`train` one stage, unless it already finished in its folder with this config and its
    checkpoint is still there (its recorded results are returned); a stage interrupted with this config
    resumes from its last checkpoint."""
    run_dir = Path(staged.run_dir)
    done = run_dir / STAGE_RESULT
    if saved_config_matches(run_dir, staged):
        finished = json.loads(done.read_text()) if done.is_file() else None
        if finished and Path(finished["best_checkpoint"] or finished["last_checkpoint"]).is_file():
            log.info("%s finished earlier with this config: reused", run_dir)
            return finished
        if (run_dir / CHECKPOINTS / "last.ckpt").is_file():
            log.info("resuming the interrupted stage in %s", run_dir)
            staged = copy.deepcopy(staged)
            staged.resume = str(run_dir)
    done.unlink(missing_ok=True)  # a result of another config: this stage trains anew
    result = train(staged, **train_kwargs)
    write_text(done, json.dumps(result, indent=1, default=str))
    return result


def training_clock(*stages: dict[str, Any]) -> dict[str, Any]:
    """The protocol's training time and devices from its stages' results: ``wall_time_s``, the sum of the
    stages' (each counted across its own interruptions by :class:`~flexconv.train.callbacks.FitClock`; None
    when a stage kept none), and ``device``, every device that trained a stage, in order."""
    seconds = [stage.get("wall_time_s") for stage in stages]
    devices = [device for stage in stages for device in str(stage.get("device", "unknown")).split(DEVICE_SEPARATOR)]
    total = None if None in seconds else round(sum(s for s in seconds if s is not None), 1)
    return {"wall_time_s": total, "device": joined_devices(devices)}


def measure_test_accuracy(module: TaskModule, cfg: DictConfig) -> float:
    """Test accuracy of ``module`` on ``cfg``'s data (no logging, no checkpoints)."""
    return float(measure_test_metrics(module, cfg)["test/acc"])


def largest_frequency_over_nyquist(model: nn.Module) -> Optional[float]:
    """The largest :func:`~flexconv.nn.antialias.frequency_over_nyquist` over the model's continuous
    layers; None without a kernel network of analytic frequencies (a CNN, SIREN kernels)."""
    ratios = [frequency_over_nyquist(m) for m in model.modules() if isinstance(m, CKConv)]
    known = [r for r in ratios if r is not None]
    return max(known) if known else None


def transfer(
    checkpoint: str | Path, target_cfg: DictConfig, source: int, target: int
) -> tuple[TaskModule, dict[str, Any]]:
    """The source model of ``checkpoint`` moved to the ``target`` resolution, with its out-of-the-box
    accuracy and the two diagnostics on ``target_cfg``'s data (the :data:`DIAGNOSTICS` keys)."""
    module = load_module(checkpoint)
    ratio = largest_frequency_over_nyquist(module.model)  # on the grid the model was trained on
    change_resolution(module.model, source, target)
    figures = {
        "out_of_the_box_acc": measure_test_accuracy(module, target_cfg),
        "frequency_over_nyquist": ratio,
        "out_of_the_box_bn_acc": float(measure_test_metrics_batch_norm_reestimated(module, target_cfg)["test/acc"]),
    }
    return module, figures


def crossres(cfg: DictConfig) -> dict[str, Any]:
    """Run the protocol for ``cfg`` (which has a ``crossres`` node); returns its figures."""
    source, target = _resolutions(cfg)
    run_dir, _ = resolve_run_dir(cfg)
    with RunLock(run_dir):
        return _protocol(cfg, run_dir, source, target)


def _resolutions(cfg: DictConfig) -> tuple[int, int]:
    if cfg.crossres is None:
        raise ValueError(
            "crossres needs an experiment with a `crossres` node {source, target, finetune_epochs}, "
            "e.g. experiment=cifar10_crossres_16_32"
        )
    return int(cfg.crossres.source), int(cfg.crossres.target)


def _protocol(cfg: DictConfig, run_dir: Path, source: int, target: int) -> dict[str, Any]:
    """The three steps of the module docstring, in ``run_dir`` (locked by the caller)."""
    source_run = train_stage(_stage_config(cfg, run_dir, "source", source))
    checkpoint = source_run["best_checkpoint"] or source_run["last_checkpoint"]
    target_cfg = _stage_config(cfg, run_dir, "finetune", target, int(cfg.crossres.finetune_epochs))
    module, figures = transfer(checkpoint, target_cfg, source, target)

    finetuned = train_stage(target_cfg, init_state=module.model.state_dict(), resolution_change=[source, target])
    results = {
        "source_resolution": source,
        "target_resolution": target,
        "source_acc": source_run["test_acc"],
        "out_of_the_box_acc": figures["out_of_the_box_acc"],
        "drop": source_run["test_acc"] - figures["out_of_the_box_acc"],
        "finetuned_acc": finetuned["test_acc"],
        **{key: figures[key] for key in DIAGNOSTICS},
        "source_run": source_run["run_dir"],
        "finetune_run": finetuned["run_dir"],
        **training_clock(source_run, finetuned),
    }
    write_text(run_dir / "crossres.json", json.dumps(results, indent=2))
    return results
