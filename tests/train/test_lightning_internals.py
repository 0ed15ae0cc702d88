"""The Lightning internals flexconv relies on (flexconv.train.lightning_internals) still exist and mean what
they meant: a Lightning release that changes one fails here, by name."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from torch.utils.data import DataLoader, TensorDataset

from flexconv.train import lightning_internals as internals


class _Logs(L.LightningModule):
    """One weight; logs an epoch mean so that the epoch loop has an accumulator."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(1))
        self.seen: dict = {}

    def training_step(self, batch, batch_idx):
        loss = (self.weight * batch[0]).mean()
        self.log("train/loss", loss, on_step=False, on_epoch=True, batch_size=batch[0].shape[0])
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        results = internals.epoch_metric_results(self.trainer)
        metric = results[next(k for k in results if k.endswith("train/loss"))]
        self.seen = {"value": float(metric.value), "cumulated_batch_size": int(metric.cumulated_batch_size)}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def test_the_epoch_accumulators_hold_the_running_sum_and_count(tmp_path: Path) -> None:
    module = _Logs()
    data = DataLoader(TensorDataset(torch.tensor([[1.0], [3.0], [5.0]])), batch_size=2)
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, data)
    # batches [1, 3] (mean 2, 2 examples) and [5] (mean 5, 1 example): a weighted sum of 2*2 + 5*1 = 9 over 3
    assert module.seen == {"value": 9.0, "cumulated_batch_size": 3}


def test_save_last_checkpoint_writes_last_ckpt_now(tmp_path: Path) -> None:
    checkpoint = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0)

    class SavesAfterFirstStep(_Logs):
        def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
            if batch_idx == 0:
                internals.save_last_checkpoint(checkpoint, self.trainer)
                self.seen = torch.load(tmp_path / "last.ckpt", weights_only=False)["global_step"]

    module = SavesAfterFirstStep()
    data = DataLoader(TensorDataset(torch.ones(4, 1)), batch_size=2)
    L.Trainer(
        max_epochs=1,
        logger=False,
        callbacks=[checkpoint],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    ).fit(module, data)
    assert module.seen == 1


def test_the_summary_table_is_where_flexconv_reaches_it() -> None:
    table = internals.format_summary_table(
        10, 8, 0.00004, {"train": 1, "eval": 0}, 0, (" ", ["0"]), ("Name", ["conv"]), ("Params", ["10"])
    )
    assert "conv" in table and "Trainable params" in table and "Total Flops" in table.rsplit("\n", 1)[1]


def test_the_csv_writer_calls_the_hook_that_the_run_history_overrides(tmp_path: Path) -> None:
    calls = []

    class Spy(ExperimentWriter):
        pass

    setattr(Spy, internals.CSV_START_HOOK, lambda self: calls.append(self))
    Spy(str(tmp_path))
    assert len(calls) == 1
