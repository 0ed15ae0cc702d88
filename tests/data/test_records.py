"""The dataset registry: one consistent record per dataset, and clear errors for unknown names."""

from __future__ import annotations

import pytest

from flexconv.data import DATASETS, DatasetRecord, get_record


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


def test_paper_datasets_have_the_papers_shapes() -> None:
    expected = {
        "cifar10": (3, 10, (32, 32)), "cifar100": (3, 100, (32, 32)), "mnist": (1, 10, (28, 28)),
        "fashion_mnist": (1, 10, (28, 28)), "stl10": (3, 10, (96, 96)), "imagenet16": (3, 1000, (16, 16)),
        "imagenet32": (3, 1000, (32, 32)), "imagenet64": (3, 1000, (64, 64)),
        "smnist": (1, 10, 784), "pmnist": (1, 10, 784), "sfashion_mnist": (1, 10, 784), "pfashion_mnist": (1, 10, 784),
        "scifar10": (3, 10, 1024), "npcifar10": (96, 10, 1000), "speech_commands_raw": (1, 10, 16000),
        "speech_commands_mfcc": (20, 10, 161), "char_trajectories": (3, 20, 182), "copy_memory": (1, 10, 1020),
        "adding_problem": (2, 1, 1000), "mnist1d": (1, 10, 40), "uea_japanesevowels": (12, 9, 29),
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
    with pytest.raises(Exception):
        record.num_classes = 3  # frozen
