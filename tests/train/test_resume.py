"""A run killed mid-epoch and resumed ends with the same weights as an uninterrupted run."""

from pathlib import Path

import lightning as L
import pytest
import torch

from conftest import tiny_overrides
from flexconv.train.commands import compose_config, train


class Crash(RuntimeError):
    pass


class CrashAt(L.Callback):
    """Raises before optimiser step ``step`` (checkpoints of the steps before it are saved)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise Crash(f"killed at step {self.step}")


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


def test_resume_mid_epoch_gives_the_same_weights(tmp_path: Path) -> None:
    # 64 samples / batch 16 = 4 steps per epoch; 7 steps = 2 epochs minus one; crash at step 5 (mid-epoch 2).
    common = ["trainer.max_steps=7", "trainer.max_epochs=3", "checkpoint.every_n_train_steps=1", "model.dropout=0.3"]
    train(compose_config(tiny_overrides(tmp_path / "straight", *common)))
    interrupted = compose_config(tiny_overrides(tmp_path / "killed", *common))
    with pytest.raises(Crash):
        train(interrupted, callbacks=[CrashAt(5)])
    assert (tmp_path / "killed" / "checkpoints" / "last.ckpt").is_file()
    train(compose_config(tiny_overrides(tmp_path / "resumed", *common, f"resume={tmp_path / 'killed'}")))

    straight, resumed = final_weights(tmp_path / "straight"), final_weights(tmp_path / "resumed")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
