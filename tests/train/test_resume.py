"""A run killed mid-epoch and resumed ends like an uninterrupted run: the same weights, the same
metrics.csv (rows before the kill kept, epoch metrics over the whole epoch) and a last.ckpt at the
final step; and the resumed run executes only the steps that were left."""

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import tiny_overrides

from flexconv.train.commands import train
from flexconv.train.config import compose_config


class Crash(RuntimeError):
    pass


class CrashAt(L.Callback):
    """Raises before optimiser step ``step`` (checkpoints of the steps before it are saved)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise Crash(f"killed at step {self.step}")


class CountSteps(L.Callback):
    """Counts the training batches this process executes."""

    def __init__(self) -> None:
        self.executed = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.executed += 1


def checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)


def rows(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "metrics.csv").open(newline="") as file:
        return list(csv.DictReader(file))


# 64 samples / batch 16 = 4 steps per epoch; 7 steps = 2 epochs minus one. last.ckpt after each
# epoch's first step (steps 1 and 5) and every 5 steps: the run killed before its 7th step (mid-epoch 2)
# resumes from the save at step 5 (mid-epoch 2) and must redo 2 steps.
COMMON = ["trainer.max_steps=7", "trainer.max_epochs=3", "checkpoint.every_n_train_steps=5", "model.dropout=0.3"]


def test_resume_after_a_kill_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    straight_dir, killed_dir = tmp_path / "straight", tmp_path / "killed"
    train(compose_config(tiny_overrides(straight_dir, *COMMON)))
    with pytest.raises(Crash):
        train(compose_config(tiny_overrides(killed_dir, *COMMON)), callbacks=[CrashAt(6)])
    assert checkpoint(killed_dir)["global_step"] == 5
    before_resume = rows(killed_dir)
    assert {int(r["step"]) for r in before_resume if r["train/loss_step"]} == {
        0,
        1,
        2,
        3,
        4,
        5,
    }  # flushed before the kill

    counter = CountSteps()
    train(compose_config(tiny_overrides(killed_dir, *COMMON, f"resume={killed_dir}")), callbacks=[counter])

    assert counter.executed == 7 - 5  # only the steps after the checkpoint
    straight, resumed = checkpoint(straight_dir), checkpoint(killed_dir)
    assert straight["global_step"] == resumed["global_step"] == 7  # last.ckpt holds the final step
    assert straight["state_dict"].keys() == resumed["state_dict"].keys()
    for key in straight["state_dict"]:
        assert torch.equal(straight["state_dict"][key], resumed["state_dict"][key]), key
    # The same history: every row (steps, epoch means over whole epochs, validation, test) identical.
    assert rows(killed_dir) == rows(straight_dir)
    assert any(r["train/loss_epoch"] for r in rows(killed_dir))


def test_without_periodic_saves_a_killed_run_resumes_from_its_epochs_first_step(tmp_path: Path) -> None:
    # The default config (no checkpoint.every_n_train_steps): last.ckpt is written after the first step
    # of every epoch, so a run killed late in epoch 2 (of 4 steps each) resumes from step 5 and ends
    # as the uninterrupted run did.
    common = ["trainer.max_steps=11", "trainer.max_epochs=3", "model.dropout=0.3"]
    straight_dir, killed_dir = tmp_path / "straight", tmp_path / "killed"
    train(compose_config(tiny_overrides(straight_dir, *common)))
    with pytest.raises(Crash):
        train(compose_config(tiny_overrides(killed_dir, *common)), callbacks=[CrashAt(8)])
    assert checkpoint(killed_dir)["global_step"] == 5

    counter = CountSteps()
    train(compose_config(tiny_overrides(killed_dir, *common, f"resume={killed_dir}")), callbacks=[counter])

    assert counter.executed == 11 - 5
    straight, resumed = checkpoint(straight_dir)["state_dict"], checkpoint(killed_dir)["state_dict"]
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    assert rows(killed_dir) == rows(straight_dir)
    assert sum(1 for r in rows(killed_dir) if r["val/acc"]) == 2  # one per finished epoch, none twice


def test_last_checkpoint_is_the_final_step_between_periodic_saves(tmp_path: Path) -> None:
    train(
        compose_config(
            tiny_overrides(
                tmp_path / "run", "trainer.max_steps=5", "trainer.max_epochs=3", "checkpoint.every_n_train_steps=3"
            )
        )
    )
    assert checkpoint(tmp_path / "run")["global_step"] == 5


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import lightning as L
import torch
torch.set_num_threads(1)
from conftest import tiny_overrides
from flexconv.train.commands import train
from flexconv.train.config import compose_config

class Kill(L.Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 5:
            os.kill(os.getpid(), signal.{signal})  # SIGKILL: no exception handling, no logger finalize

train(compose_config(tiny_overrides({run_dir!r}, *{common!r})), callbacks=[Kill()])
"""


INTERRUPTED = [*COMMON[:2], "checkpoint.every_n_train_steps=1", "model.dropout=0.3"]


def straight_and_interrupted(tmp_path: Path, signal_name: str) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """An uninterrupted run, and the same run in a child process sent ``signal_name`` before step 6:
    (straight run folder, interrupted run folder, the child's completed process)."""
    straight_dir, interrupted_dir = tmp_path / "straight", tmp_path / "interrupted"
    train(compose_config(tiny_overrides(straight_dir, *INTERRUPTED)))
    script = KILL_SCRIPT.format(
        tests=str(Path(__file__).parent), run_dir=str(interrupted_dir), common=INTERRUPTED, signal=signal_name
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return straight_dir, interrupted_dir, done


def test_resume_after_sigkill_keeps_every_row(tmp_path: Path) -> None:
    common = INTERRUPTED
    straight_dir, killed_dir, done = straight_and_interrupted(tmp_path, "SIGKILL")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert checkpoint(killed_dir)["global_step"] == 5
    assert (killed_dir / ".lock").is_file()  # left behind by the killed process: taken over below

    train(compose_config(tiny_overrides(killed_dir, *common, f"resume={killed_dir}")))
    assert rows(killed_dir) == rows(straight_dir)
    straight, resumed = checkpoint(straight_dir)["state_dict"], checkpoint(killed_dir)["state_dict"]
    assert all(torch.equal(straight[key], resumed[key]) for key in straight)


def test_a_run_preempted_by_sigterm_mid_epoch_resumes_to_the_uninterrupted_run(tmp_path: Path) -> None:
    # A scheduler's preemption: SIGTERM before step 6 (mid-epoch 2). Lightning finishes the batch in flight
    # and stops; last.ckpt (every step here) holds step 6, from which the resumed run does the last step.
    common = INTERRUPTED
    straight_dir, stopped_dir, done = straight_and_interrupted(tmp_path, "SIGTERM")
    assert "Received SIGTERM" in done.stderr, done.stderr[-3000:]
    assert checkpoint(stopped_dir)["global_step"] == 6
    assert not (stopped_dir / "summary.json").exists()  # stopped, not finished

    counter = CountSteps()
    train(compose_config(tiny_overrides(stopped_dir, *common, f"resume={stopped_dir}")), callbacks=[counter])
    assert counter.executed == 7 - 6
    assert rows(stopped_dir) == rows(straight_dir)
    straight, resumed = checkpoint(straight_dir), checkpoint(stopped_dir)
    assert straight["global_step"] == resumed["global_step"] == 7
    assert all(torch.equal(straight["state_dict"][key], resumed["state_dict"][key]) for key in straight["state_dict"])


class Slow(L.Callback):
    """Sleeps after every training step: a first segment that takes a known least time."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        time.sleep(0.3)


def test_a_resumed_run_reports_the_wall_time_of_every_segment(tmp_path: Path) -> None:
    killed_dir = tmp_path / "killed"
    with pytest.raises(Crash):
        train(compose_config(tiny_overrides(killed_dir, *COMMON)), callbacks=[CrashAt(6), Slow()])
    saved = checkpoint(killed_dir)
    earlier = saved["callbacks"]["FitClock"]["seconds"]
    assert earlier >= 4 * 0.3  # at least the sleeps of the steps before the checkpoint at step 5

    start = time.perf_counter()
    result = train(compose_config(tiny_overrides(killed_dir, *COMMON, f"resume={killed_dir}")))
    segment = time.perf_counter() - start
    assert earlier < result["wall_time_s"] <= earlier + segment + 0.1  # both segments, not the last one alone
    assert result["device"] == "cpu"
