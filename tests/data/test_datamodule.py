"""FlexDataModule: seeded validation split, limits, deterministic shuffling, loader settings, errors."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch

from flexconv.data import FlexDataModule, build_datamodule, build_dataset
from flexconv.data.datamodule import DEFAULT_VAL_FRACTION, split_indices
from flexconv.data.fake import make_fake_tree

SMALL = {"length": 30, "num_train": 100, "num_test": 20}


def test_validation_is_a_seeded_disjoint_share_of_training() -> None:
    dm = FlexDataModule("adding_problem", val_fraction=0.25, **SMALL)
    dm.setup("fit")
    train, val = dm.train_set.indices, dm.val_set.indices
    assert (len(train), len(val)) == (75, 25) and not set(train) & set(val) and len(set(train) | set(val)) == 100
    again = FlexDataModule("adding_problem", val_fraction=0.25, **SMALL)
    again.setup("fit")
    assert again.val_set.indices == val
    other = FlexDataModule("adding_problem", val_fraction=0.25, seed=1, **SMALL)
    other.setup("fit")
    assert other.val_set.indices != val
    assert split_indices(10, DEFAULT_VAL_FRACTION, 0)[1] == split_indices(10, DEFAULT_VAL_FRACTION, 0)[1]
    assert len(build_dataset("adding_problem", "val", val_fraction=0.25, **SMALL)) == 25


def test_no_validation() -> None:
    dm = FlexDataModule("adding_problem", val_fraction=0.0, **SMALL)
    dm.setup("fit")
    assert dm.val_set is None and dm.val_dataloader() == [] and len(dm.train_set) == 100


def test_limits_and_shuffling_are_deterministic() -> None:
    def first_batch(seed: int) -> torch.Tensor:
        dm = FlexDataModule("adding_problem", batch_size=8, seed=seed, limit_train=32, limit_test=8, **SMALL)
        dm.setup()
        assert len(dm.train_set) == 32 and len(dm.test_set) == 8
        return next(iter(dm.train_dataloader()))[1]

    assert torch.equal(first_batch(0), first_batch(0)) and not torch.equal(first_batch(0), first_batch(1))


def test_loader_settings() -> None:
    dm = FlexDataModule("adding_problem", batch_size=16, **SMALL)
    dm.setup()
    loader = dm.train_dataloader()
    assert loader.batch_size == 16 and not loader.persistent_workers and loader.num_workers == 0
    workers = FlexDataModule("adding_problem", num_workers=2, **SMALL)
    workers.setup("test")
    assert workers.test_dataloader().persistent_workers  # not iterated: no worker is started
    with pytest.raises(RuntimeError, match="setup"):
        FlexDataModule("adding_problem", **SMALL).train_dataloader()


def test_bad_arguments_are_explained() -> None:
    with pytest.raises(KeyError, match="known datasets: .*cifar10"):
        FlexDataModule("cifar11")
    with pytest.raises(ValueError, match="resolution applies to image datasets"):
        FlexDataModule("mnist1d", resolution=(20, 20))
    with pytest.raises(ValueError, match="val_fraction"):
        FlexDataModule("mnist1d", val_fraction=1.0)
    with pytest.raises(ValueError, match="length applies"):
        FlexDataModule("mnist1d", length=10)
    with pytest.raises(TypeError, match="unknown dataset options"):
        FlexDataModule("copy_memory", memory=3)
    with pytest.raises(ValueError, match="split"):
        build_dataset("mnist1d", "validation")


def test_build_datamodule_and_record_overrides(tmp_path: Path) -> None:
    make_fake_tree("cifar10", tmp_path, n_train=4, n_test=2)
    dm = build_datamodule(name="cifar10", root=str(tmp_path), resolution=[16, 16], val_fraction=0.0)
    assert isinstance(dm, FlexDataModule) and dm.record.resolution == (16, 16)
    dm.setup("test")
    assert dm.test_set[0][0].shape == (3, 16, 16)
    assert build_datamodule(name="copy_memory", length=70).record.length == 70


def test_signature_is_config_friendly() -> None:
    """The Hydra ``data`` group is generated from these parameters: plain defaults only."""
    parameters = inspect.signature(FlexDataModule).parameters
    for p in parameters.values():
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "name":
            assert p.default is None or isinstance(p.default, (bool, int, float, str)), p.name
    assert {
        "root",
        "batch_size",
        "num_workers",
        "val_fraction",
        "augment",
        "resolution",
        "drop_rate",
        "seed",
        "limit_train",
        "limit_test",
        "download",
    } <= set(parameters)
