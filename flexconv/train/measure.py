"""Train a run and measure it: what a results row records with its result, so that a report needs no checkpoint.

:func:`train_measured` trains (continuing a run stopped mid-training in the same folder) and adds
:func:`kernel_sizes_of_run` (the learned and initial kernel sizes of the continuous layers) and, if asked,
:func:`batch_norm_reestimated_metrics` (the test metrics once the BatchNorm statistics are re-estimated);
:func:`crossres_measured` runs the cross-resolution protocol and adds :func:`params_of_run`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

from flexconv.train.run_dir import CHECKPOINTS, saved_config_matches

log = logging.getLogger(__name__)


def train_measured(cfg: Any, batch_norm_reestimated: bool = False) -> dict[str, Any]:
    """:func:`flexconv.train.commands.train` (resumed if it was interrupted) with the run's kernel sizes and, with
    ``batch_norm_reestimated``, its test metrics once the BatchNorm statistics are re-estimated."""
    from flexconv.train.commands import train

    result = train(resume_if_interrupted(cfg))
    result["kernel_sizes"] = kernel_sizes_of_run(Path(cfg.run_dir))
    return {**result, **(batch_norm_reestimated_metrics(cfg, result) if batch_norm_reestimated else {})}


def crossres_measured(cfg: Any, _batch_norm_reestimated: bool = False) -> dict[str, Any]:
    """:func:`flexconv.train.crossres.crossres` (which reuses or resumes its stages itself) with the source
    model's parameter count."""
    from flexconv.train.crossres import crossres

    result = crossres(cfg)
    return {**result, "params": params_of_run(Path(result["source_run"]))}


def resume_if_interrupted(cfg: Any) -> Any:
    """``cfg`` with ``resume`` set to its run folder when that folder holds a run of this exact config (its
    ``config.yaml``) that stopped before it finished (a ``checkpoints/last.ckpt``, no result)."""
    run_dir = Path(cfg.run_dir)
    if not ((run_dir / "config.yaml").is_file() and (run_dir / CHECKPOINTS / "last.ckpt").is_file()):
        return cfg
    if not saved_config_matches(run_dir, cfg):
        log.info("%s holds a run of another config: training from scratch", run_dir)
        return cfg
    log.info("resuming the interrupted run in %s", run_dir)
    resumed = cfg.copy()
    resumed.resume = str(run_dir)
    return resumed


BATCH_NORM_REESTIMATED = "bn_reestimated/"
"""Prefix of the test metrics measured with re-estimated BatchNorm statistics (``bn_reestimated/test/loss``)."""


def batch_norm_reestimated_metrics(cfg: Any, result: dict[str, Any]) -> dict[str, float]:
    """The test metrics of the run's checkpoint (the best, else the last) once its BatchNorm statistics are
    re-estimated on training batches (:func:`flexconv.train.commands.measure_test_metrics_batch_norm_reestimated`),
    each key prefixed with :data:`BATCH_NORM_REESTIMATED`."""
    from flexconv.train.checkpoints import load_module
    from flexconv.train.commands import measure_test_metrics_batch_norm_reestimated

    checkpoint = result.get("best_checkpoint") or result["last_checkpoint"]
    metrics = measure_test_metrics_batch_norm_reestimated(load_module(checkpoint), cfg)
    return {BATCH_NORM_REESTIMATED + key: float(value) for key, value in metrics.items()}


def kernel_sizes_of_run(run_dir: Path) -> Optional[dict[str, Any]]:
    """The kernel sizes of a training run's final model (its ``last.ckpt``): ``learned`` and ``initial`` (taps
    per axis, per continuous layer, in layer order) and ``grid`` (the first layer's grid, taps per axis). None
    for a model without continuous (CKConv/FlexConv) layers."""
    import torch

    from flexconv.models.registry import build_model, model_config
    from flexconv.train.callbacks import continuous_layers
    from flexconv.train.module import TaskModule

    module = TaskModule.load_from_checkpoint(run_dir / CHECKPOINTS / "last.ckpt", map_location="cpu")
    layers = continuous_layers(module.model)
    if not layers:
        return None
    grid = list(layers[0][1].grid_sizes())
    fresh = build_model(model_config(module.hparams["model_name"], **module.model_config)).eval()  # initial masks
    with torch.no_grad():
        fresh(torch.zeros(1, module.model_config["in_channels"], *grid))
    return {
        "learned": [list(layer.effective_kernel_size()) for _, layer in layers],
        "initial": [list(layer.effective_kernel_size()) for _, layer in continuous_layers(fresh)],
        "grid": grid,
    }


def params_of_run(run_dir: Path) -> Optional[int]:
    """The parameter count in a training run's ``summary.json`` (None without one)."""
    summary = run_dir / "summary.json"
    return json.loads(summary.read_text()).get("params") if summary.is_file() else None
