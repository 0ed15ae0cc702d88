"""Bad configs fail loudly, with messages that say what is wrong."""

import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from conftest import tiny_overrides
from flexconv.data import DatasetNotFoundError
from flexconv.train.commands import compose_config, train


def test_unknown_key_fails() -> None:
    with pytest.raises((HydraException, OmegaConfBaseException), match="learning_rate"):
        compose_config(["optim.learning_rate=0.1"])
    with pytest.raises((HydraException, OmegaConfBaseException), match="hiden_channels"):
        compose_config(["model.hiden_channels=8"])


def test_unknown_model_and_dataset_list_the_known_ones() -> None:
    with pytest.raises(HydraException, match=r"(?s)model/nope.*flexnet7_cifar10"):
        compose_config(["model=nope"])
    with pytest.raises(HydraException, match=r"(?s)data/nope.*mnist1d"):
        compose_config(["data=nope"])


def test_unknown_option_value_fails(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="optim.scheduler must be one of"):
        train(compose_config(tiny_overrides(tmp_path / "run", "optim.scheduler=warm")))


def test_missing_dataset_root_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_folder"
    cfg = compose_config(tiny_overrides(tmp_path / "run", "model=flexnet_fashion_mnist", "data=cifar10", f"data.root={missing}"))
    with pytest.raises(DatasetNotFoundError) as info:
        train(cfg)
    message = str(info.value)
    assert str(missing) in message and "To fix:" in message and "download=True" in message


def test_cli_prints_the_message_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "flexconv.cli", "train", "model=nope"], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "flexconv train:" in done.stderr and "model/nope" in done.stderr
    assert "Traceback" not in done.stderr
