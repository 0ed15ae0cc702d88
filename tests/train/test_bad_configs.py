"""Bad configs and bad files fail loudly and early, with messages that say what is wrong."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides
from hydra.errors import HydraException

from flexconv.cli import main as cli
from flexconv.data import DatasetNotFoundError
from flexconv.train.checkpoints import CheckpointError
from flexconv.train.commands import evaluate, train
from flexconv.train.config import compose_config
from flexconv.train.validate import ConfigError


def test_unknown_key_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown key optim.learning_rate; known optim keys: .*\blr\b"):
        compose_config(["optim.learning_rate=0.1"])
    with pytest.raises(ConfigError, match=r"model.hiden_channels \(did you mean model.hidden_channels\?\)"):
        compose_config(["model.hiden_channels=8"])


@pytest.mark.parametrize("override", ["trainer.max_epoch=5", "+trainer.max_epoch=5"])
def test_unknown_trainer_key_lists_the_trainer_arguments(override: str) -> None:
    with pytest.raises(ConfigError, match=r"(?s)trainer.max_epoch \(did you mean trainer.max_epochs\?\).*max_steps"):
        compose_config(["experiment=main_job", override])


def test_trainer_argument_missing_from_the_config_says_how_to_add_it() -> None:
    with pytest.raises(ConfigError, match=r"add it with \+trainer.fast_dev_run=true"):
        compose_config(["trainer.fast_dev_run=true"])


@pytest.mark.parametrize(
    "override, expected",
    [
        ("trainer.max_epochs=abc", "trainer.max_epochs='abc': expected an integer or null"),
        ("trainer.max_epochs=2.5", "trainer.max_epochs=2.5: expected an integer or null"),
        ("seed=abc", "seed='abc': expected an integer"),
        ("data.limit_train=abc", "data.limit_train='abc': expected an integer or null"),
        ("num_threads=abc", "num_threads='abc': expected an integer or null"),
        ("num_threads=0", "num_threads=0: expected at least 1"),
        ("model.hidden_channels=wide", "model.hidden_channels='wide': expected an integer"),
    ],
)
def test_wrong_types_are_named_before_anything_is_written(tmp_path: Path, override: str, expected: str) -> None:
    with pytest.raises(SystemExit) as info:
        cli(["train", *tiny_overrides(tmp_path / "run", override)])
    assert expected in str(info.value.code)
    assert not (tmp_path / "run").exists()


def test_plateau_on_validation_without_validation_split_is_rejected_up_front(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        cli(
            [
                "train",
                *tiny_overrides(tmp_path / "run", "optim=adam_plateau", "data.val_fraction=0", "trainer.max_steps=-1"),
            ]
        )
    err = str(info.value.code)
    assert "optim.scheduler=plateau" in err and "data.val_fraction=0" in err and "train/acc_epoch" in err
    assert not (tmp_path / "run").exists()


def test_a_dataset_with_its_own_validation_split_needs_no_val_fraction() -> None:
    """Speech Commands brings its official validation split (``official_val`` in its record): a plateau
    schedule on it is fine with ``data.val_fraction=0``."""
    cfg = compose_config(["experiment=speech_mfcc_flextcn", "optim=adam_plateau", "data.val_fraction=0"])
    assert cfg.data.val_fraction == 0 and cfg.optim.scheduler == "plateau"


def test_cosine_warmup_with_unbounded_epochs_names_the_fix(tmp_path: Path) -> None:
    cfg = compose_config(tiny_overrides(tmp_path / "run", "trainer.max_epochs=-1"))
    assert cfg.optim.scheduler == "cosine" and cfg.optim.warmup_epochs > 0
    with pytest.raises(ValueError, match="bound trainer.max_epochs too"):
        train(cfg)


def test_no_validation_split_switches_best_checkpoint_to_the_training_metric(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="flexconv"):
        results = train(compose_config(tiny_overrides(tmp_path / "run", "data.val_fraction=0", "trainer.max_steps=4")))
    assert "best.ckpt follows train/acc_epoch instead of val/acc" in caplog.text
    assert results["best_checkpoint"] is not None and results["test_acc"] is not None


def test_a_small_validation_split_is_warned_about(tmp_path: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="flexconv"):
        train(compose_config(tiny_overrides(tmp_path / "run", "data.val_fraction=0.004")))  # 16 of 4000
    assert "validation split holds only 16 examples" in caplog.text


def test_unknown_model_and_dataset_list_the_known_ones() -> None:
    with pytest.raises(HydraException, match=r"(?s)model/nope.*flexnet7"):
        compose_config(["model=nope"])
    with pytest.raises(HydraException, match=r"(?s)data/nope.*mnist1d"):
        compose_config(["data=nope"])


def test_unknown_option_value_fails(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="optim.scheduler must be one of"):
        train(compose_config(tiny_overrides(tmp_path / "run", "optim.scheduler=warm")))


def test_missing_dataset_root_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder"
    cfg = compose_config(tiny_overrides(tmp_path / "run", "model=flexnet3", "data=cifar10", f"data.root={missing}"))
    with pytest.raises(DatasetNotFoundError) as info:
        train(cfg)
    message = str(info.value)
    assert str(missing) in message and "To fix:" in message and "download=True" in message


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    train(compose_config(tiny_overrides(run_dir)))
    return run_dir / "checkpoints" / "last.ckpt"


def bad_files(folder: Path, real: Path) -> dict[str, Path]:
    """An empty file, a truncated checkpoint, a text file and a plain state dict."""
    data = real.read_bytes()
    files = {"empty": b"", "truncated": data[: len(data) // 2], "text": b"epoch,step\n0,1\n"}
    paths = {}
    for name, content in files.items():
        paths[name] = folder / f"{name}.ckpt"
        paths[name].write_bytes(content)
    paths["state_dict"] = folder / "state_dict.ckpt"
    torch.save({"weight": torch.zeros(2)}, paths["state_dict"])
    return paths


@pytest.mark.parametrize("kind", ["empty", "truncated", "text", "state_dict"])
def test_evaluate_and_resume_name_a_bad_checkpoint(tmp_path: Path, real_checkpoint: Path, kind: str) -> None:
    path = bad_files(tmp_path, real_checkpoint)[kind]
    pattern = rf"{path}.*(not a readable checkpoint|not a flexconv training checkpoint)"
    with pytest.raises(CheckpointError, match=pattern):
        evaluate(path)
    with pytest.raises(CheckpointError, match=pattern):
        train(compose_config(tiny_overrides(tmp_path / "run", f"resume={path}")))
    assert not (tmp_path / "run").exists()


def test_cli_prints_the_message_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "empty.ckpt").write_bytes(b"")
    for args in (["train", "model=nope"], ["evaluate", str(tmp_path / "empty.ckpt")]):
        done = subprocess.run(
            [sys.executable, "-m", "flexconv.cli", *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode != 0
        assert f"flexconv {args[0]}:" in done.stderr and "Traceback" not in done.stderr
    assert (
        "model/nope"
        in subprocess.run(
            [sys.executable, "-m", "flexconv.cli", "train", "model=nope"], capture_output=True, text=True, timeout=120
        ).stderr
    )
