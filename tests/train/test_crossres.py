"""The cross-resolution protocol runs end to end on tiny data and reports its four figures and two
diagnostics; run again
in its folder it reuses finished stages and resumes interrupted ones; a second process is refused."""

import json
import os
import socket
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL

from flexconv.data.fake import make_fake_tree
from flexconv.train import crossres as crossres_module
from flexconv.train.checkpoints import load_module
from flexconv.train.commands import measure_test_metrics_batch_norm_reestimated
from flexconv.train.config import compose_config
from flexconv.train.crossres import DIAGNOSTICS, STAGE_RESULT, crossres, largest_frequency_over_nyquist, training_clock
from flexconv.train.run_dir import LOCK_NAME, RunDirInUseError


def tiny_crossres_config(tmp_path: Path):
    root = make_fake_tree("fashion_mnist", tmp_path / "data")
    return compose_config(
        [
            "experiment=fashion_crossres_14_28_gabor",
            f"run_dir={tmp_path / 'run'}",
            f"data.root={root}",
            "data.batch_size=8",
            "data.limit_train=32",
            "data.limit_test=16",
            "trainer.max_epochs=1",
            "trainer.limit_val_batches=1",
            "trainer.enable_progress_bar=false",
            "logger.tensorboard=false",
            "crossres.finetune_epochs=1",
            "model.conv.horizon=15",
            *TINY_MODEL,
        ]
    )


def test_crossres_reports_four_figures_and_two_diagnostics(tmp_path: Path) -> None:
    cfg = tiny_crossres_config(tmp_path)
    results = crossres(cfg)
    for key in ("source_acc", "out_of_the_box_acc", "drop", "finetuned_acc", *DIAGNOSTICS):
        assert isinstance(results[key], float), key
    assert json.loads((tmp_path / "run" / "crossres.json").read_text())["drop"] == pytest.approx(results["drop"])
    assert 0 <= results["out_of_the_box_bn_acc"] <= 1
    source = json.loads((Path(results["source_run"]) / STAGE_RESULT).read_text())
    trained = load_module(source["best_checkpoint"] or source["last_checkpoint"]).model
    # measured on the 15-tap grid the model was trained on, not on the re-sampled 29-tap one
    assert results["frequency_over_nyquist"] == pytest.approx(largest_frequency_over_nyquist(trained), rel=1e-6)


def test_batch_norm_reestimation_leaves_the_model_as_it_was(tmp_path: Path) -> None:
    """The fine-tuning starts from the re-sampled model, not from its re-estimated copy."""
    cfg = tiny_crossres_config(tmp_path)
    results = crossres(cfg)
    module = load_module(Path(results["source_run"]) / "checkpoints" / "last.ckpt")
    before = {name: value.clone() for name, value in module.model.state_dict().items()}
    measure_test_metrics_batch_norm_reestimated(module, cfg)
    after = module.model.state_dict()
    assert any("running_mean" in name for name in before)
    for name, value in before.items():
        assert torch.equal(after[name], value), name


def test_crossres_reuses_a_finished_stage_and_resumes_an_interrupted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_crossres_config(tmp_path)
    first = crossres(cfg)
    source_checkpoint = Path(first["source_run"]) / "checkpoints" / "last.ckpt"
    written = source_checkpoint.stat().st_mtime_ns
    (Path(first["finetune_run"]) / STAGE_RESULT).unlink()  # as if killed after the fine-tuning's last checkpoint

    trained = []
    real_train = crossres_module.train
    monkeypatch.setattr(
        crossres_module, "train", lambda staged, **kw: trained.append(staged) or real_train(staged, **kw)
    )
    again = crossres(cfg)

    assert [Path(staged.run_dir).name for staged in trained] == ["finetune"]  # the source stage is not retrained
    assert trained[0].resume == first["finetune_run"]
    assert source_checkpoint.stat().st_mtime_ns == written
    assert again["source_acc"] == first["source_acc"]
    # the protocol's time counts the reused source stage too, not only what this invocation trained
    stages = [json.loads((Path(again[run]) / STAGE_RESULT).read_text()) for run in ("source_run", "finetune_run")]
    assert again["wall_time_s"] == pytest.approx(stages[0]["wall_time_s"] + stages[1]["wall_time_s"], abs=0.11)
    assert again["wall_time_s"] > stages[1]["wall_time_s"] > 0 and again["device"] == "cpu"


def test_the_protocols_clock_sums_its_stages_and_lists_their_devices_in_order() -> None:
    gpu_then_cpu = {"wall_time_s": 30.0, "device": "NVIDIA H200 then cpu"}
    assert training_clock(gpu_then_cpu, {"wall_time_s": 5.0, "device": "cpu"}) == {
        "wall_time_s": 35.0,
        "device": "NVIDIA H200 then cpu",
    }
    kept_no_time = {"wall_time_s": None, "device": "unknown then cpu"}  # resumed from a checkpoint without a clock
    assert training_clock(kept_no_time, {"wall_time_s": 5.0, "device": "NVIDIA H200"}) == {
        "wall_time_s": None,
        "device": "unknown then cpu then NVIDIA H200",
    }
    assert training_clock({"wall_time_s": 1.0}, {"wall_time_s": 2.0}) == {"wall_time_s": 3.0, "device": "unknown"}


def test_crossres_refuses_a_row_folder_another_process_holds(tmp_path: Path) -> None:
    cfg = tiny_crossres_config(tmp_path)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / LOCK_NAME).write_text(f"{os.getpid()} {socket.gethostname()}\n")  # a live holder

    with pytest.raises(RunDirInUseError, match="in use by another run"):
        crossres(cfg)
    assert not (run_dir / "source").exists()
