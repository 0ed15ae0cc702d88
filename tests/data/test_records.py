"""The dataset registry: one consistent record per dataset, and clear errors for unknown names."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from flexconv.data import DATASETS, DatasetRecord, get_record
from flexconv.data.records import DatasetRegistry, LoadOptions, resolve


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_record_is_consistent(name: str) -> None:
    record = get_record(name)
    assert record.name == name and record.task in ("image", "sequence", "regression", "seq2seq")
    assert record.in_channels >= 1 and record.num_classes >= 1
    if record.task == "image":
        assert record.data_dim == 2 and len(record.resolution) == 2 and record.length is None
    else:
        assert record.data_dim == 1 and record.length >= 1 and record.resolution is None
    assert bool(record.download_hint) == record.needs_download
    if record.needs_download:
        assert "<root>" in record.download_hint
    assert callable(resolve(record.loader))
    assert (record.stats is not None) == (record.task == "image")
    if record.stats is not None:
        assert all(len(values) == record.in_channels for values in record.stats)
    if record.source is not None:
        assert record.fake is None and get_record(record.source).fake is not None
    elif record.fake is not None:
        assert record.needs_download and callable(resolve(record.fake))


def test_objective_comes_from_the_task() -> None:
    objectives = {name: get_record(name).objective for name in ("copy_memory", "adding_problem", "mnist1d", "cifar10")}
    assert objectives == {
        "copy_memory": "per_step",
        "adding_problem": "regression",
        "mnist1d": "classification",
        "cifar10": "classification",
    }


def test_importing_the_records_imports_no_torch_aeon_or_loader() -> None:
    """records.py is a leaf: reading the table costs no torch import and no scan of aeon's folder."""
    code = (
        "import json, sys; import flexconv.data.records as r; r.get_record('cifar10'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'aeon', 'flexconv'))))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert loaded == ["flexconv", "flexconv.data", "flexconv.data.records"]


def test_registry_finds_on_first_listing_and_rejects_taken_names() -> None:
    calls = []

    def find() -> list[DatasetRecord]:
        calls.append(1)
        return [
            DatasetRecord(name=name, task="sequence", in_channels=1, num_classes=2, data_dim=1, length=8, loader=print)
            for name in ("found", "mine")
        ]

    registry = DatasetRegistry(finders=(find,))
    mine = registry.add(
        DatasetRecord(
            name="mine", task="image", in_channels=3, num_classes=5, data_dim=2, resolution=(8, 8), loader=print
        )
    )
    assert registry["mine"] is mine and not calls  # an added name needs no finder
    assert sorted(registry) == ["found", "mine"] and registry["mine"] is mine and len(calls) == 1
    assert len(registry) == 2 and len(calls) == 1  # the finders run once
    with pytest.raises(ValueError, match="registered already"):
        registry.add(mine)
    with pytest.raises(ValueError, match="task must be one of"):
        registry.add(DatasetRecord(name="odd", task="video", in_channels=3, num_classes=5, data_dim=3, loader=print))


def test_a_record_loads_through_its_loader() -> None:
    seen = []
    record = DatasetRecord(
        name="probe",
        task="sequence",
        in_channels=1,
        num_classes=2,
        data_dim=1,
        length=4,
        loader=lambda rec, split, options: seen.append((rec, split, options)) or "data",
    )
    assert record.load("test", LoadOptions(seed=3)) == "data" and seen == [(record, "test", LoadOptions(seed=3))]
    assert resolve("flexconv.data.synthetic:load_copy_memory").__name__ == "load_copy_memory"


def test_paper_datasets_have_the_papers_shapes() -> None:
    expected = {
        "cifar10": (3, 10, (32, 32)),
        "cifar100": (3, 100, (32, 32)),
        "mnist": (1, 10, (28, 28)),
        "fashion_mnist": (1, 10, (28, 28)),
        "stl10": (3, 10, (96, 96)),
        "imagenet16": (3, 1000, (16, 16)),
        "imagenet32": (3, 1000, (32, 32)),
        "imagenet64": (3, 1000, (64, 64)),
        "smnist": (1, 10, 784),
        "pmnist": (1, 10, 784),
        "sfashion_mnist": (1, 10, 784),
        "pfashion_mnist": (1, 10, 784),
        "scifar10": (3, 10, 1024),
        "npcifar10": (96, 10, 1000),
        "speech_commands_raw": (1, 10, 16000),
        "speech_commands_mfcc": (20, 10, 161),
        "char_trajectories": (3, 20, 182),
        "copy_memory": (1, 10, 1020),
        "adding_problem": (2, 1, 1000),
        "mnist1d": (1, 10, 40),
        "uea_japanesevowels": (12, 9, 29),
    }
    for name, (channels, classes, size) in expected.items():
        record = get_record(name)
        assert (record.in_channels, record.num_classes) == (channels, classes), name
        assert (record.resolution if record.task == "image" else record.length) == size, name


def test_irregular_datasets() -> None:
    irregular = {n for n, r in DATASETS.items() if r.irregular}
    assert "char_trajectories" in irregular and "uea_japanesevowels" in irregular
    assert all(n == "char_trajectories" or n.startswith("uea_") for n in irregular)


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="unknown dataset 'not_a_dataset'.*cifar10.*mnist1d"):
        get_record("not_a_dataset")


def test_overrides_give_new_records() -> None:
    record = get_record("fashion_mnist")
    assert record.with_resolution((14, 14)).resolution == (14, 14) and record.resolution == (28, 28)
    assert record.with_resolution(None) is record
    assert get_record("copy_memory").with_length(120).length == 120
    assert isinstance(record, DatasetRecord)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.num_classes = 3  # frozen
