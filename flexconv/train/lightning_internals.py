"""Every use of Lightning's private API in flexconv, in one place, each with the reason it has no public
equivalent. ``tests/train/test_lightning_internals.py`` checks each one against the installed Lightning
(names, signatures, what they hold), so a Lightning release that changes them fails there, by name,
instead of somewhere inside a resumed run. The versions tested are pinned in pyproject.toml.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.model_summary.model_summary import _format_summary_table

# ExperimentWriter's hook that deletes an existing metrics.csv when a writer starts: the run history
# (flexconv.train.history) overrides it to keep the rows of the run it resumes.
CSV_START_HOOK = "_check_log_dir_exists"


def epoch_metric_results(trainer: L.Trainer) -> Any:
    """The training epoch loop's running metric accumulators (a ``_ResultCollection``: key -> result
    with ``value``, ``cumulated_batch_size`` and ``meta``). A checkpoint saved mid-epoch keeps them, so
    that a resumed run logs the same epoch means as an uninterrupted one; Lightning saves none of it."""
    return trainer.fit_loop.epoch_loop._results


def save_last_checkpoint(callback: ModelCheckpoint, trainer: L.Trainer) -> None:
    """Save ``callback``'s ``last.ckpt`` now, unless Lightning would skip it (sanity check, fast dev run,
    already saved at this step). ModelCheckpoint saves it only at an epoch's end or every n steps;
    flexconv also saves after each epoch's first step (flexconv.train.resumable.DataOrder)."""
    if not callback._should_skip_saving_checkpoint(trainer):
        callback._save_last_checkpoint(trainer, callback._monitor_candidates(trainer))


def format_summary_table(
    total_parameters: int,
    trainable_parameters: int,
    model_size: float,
    total_training_modes: dict[str, int],
    total_flops: int,
    *columns: tuple[str, list[str]],
) -> str:
    """Lightning's model-summary table of ``columns`` (name, values) with its totals, as ModelSummary
    prints it; flexconv drops the FLOPs column, which Lightning cannot measure without an example input."""
    return _format_summary_table(
        total_parameters, trainable_parameters, model_size, total_training_modes, total_flops, *columns
    )
