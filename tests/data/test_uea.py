"""UEA/UCR sets: aeon's bundled ones offline, CharacterTrajectories from .ts files, irregular sampling."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from flexconv.data import FlexDataModule, build_dataset
from flexconv.data.fake import make_fake_tree
from flexconv.data.uea import drop_samples, load_ts_pair, uea_files


def test_japanese_vowels_loads_offline() -> None:
    train, test = (
        build_dataset("uea_japanesevowels", "train", val_fraction=0.0),
        build_dataset("uea_japanesevowels", "test"),
    )
    assert len(train) == 270 and len(test) == 370
    x, y = test[:]
    assert x.shape == (370, 12, 29) and x.dtype == torch.float32 and y.dtype == torch.long
    assert sorted(set(y.tolist())) == list(range(9))
    # Unequal lengths (7..29 steps): zero padding at the start, real samples at the end.
    steps = (x.abs().sum(1) != 0).sum(1)
    assert int(steps.min()) < 29 and int(steps.max()) == 29
    assert bool((x[:, :, -1].abs().sum(1) != 0).all())
    train_x, _ = train.dataset[:]
    real = train_x.abs().sum(1, keepdim=True).expand_as(train_x) != 0
    values = train_x.transpose(0, 1)[real.transpose(0, 1)].view(12, -1)
    assert torch.allclose(values.mean(1), torch.zeros(12), atol=1e-4) and torch.allclose(
        values.std(1), torch.ones(12), atol=1e-2
    )


def test_every_bundled_set_matches_its_record() -> None:
    from flexconv.data import DATASETS

    for name in (n for n in DATASETS if n.startswith("uea_")):
        record = DATASETS[name]
        train_x, train_y, test_x, test_y = load_ts_pair(*map(str, uea_files(name[4:])))
        assert train_x.shape[1:] == test_x.shape[1:] == (record.in_channels, record.length), name
        assert int(max(train_y.max(), test_y.max())) == record.num_classes - 1, name


def test_drop_remove_keeps_order_and_pads_at_the_start() -> None:
    x = torch.arange(1, 2 * 3 * 10 + 1, dtype=torch.float32).view(2, 3, 10)
    dropped = drop_samples(x, 0.3, seed=0)
    assert dropped.shape == x.shape
    assert torch.equal(dropped[:, :, :3], torch.zeros(2, 3, 3))
    for i in range(2):
        kept = dropped[i, 0, 3:]
        assert torch.all(kept[1:] > kept[:-1]) and set(kept.tolist()) <= set(x[i, 0].tolist())
        columns = ((kept - x[i, 0, 0]).long()).tolist()  # channels lose the same steps
        assert torch.equal(dropped[i, :, 3:], x[i][:, columns])
    assert torch.equal(dropped, drop_samples(x, 0.3, seed=0))
    assert not torch.equal(dropped, drop_samples(x, 0.3, seed=1))
    assert drop_samples(x, 0.0, seed=0) is x


def test_drop_mask_appends_observation_channel() -> None:
    x = torch.randn(4, 3, 20) + 5
    masked = drop_samples(x, 0.5, seed=0, mode="mask")
    assert masked.shape == (4, 4, 20)
    mask = masked[:, 3]
    assert torch.equal(mask.sum(1), torch.full((4,), 10.0))
    assert torch.equal(masked[:, :3], x * mask.unsqueeze(1))
    with pytest.raises(ValueError, match="drop_mode"):
        drop_samples(x, 0.5, seed=0, mode="nan")


@pytest.mark.parametrize("rate", [0.3, 0.5, 0.7])
def test_char_trajectories_drop_rates(tmp_path: Path, rate: float) -> None:
    make_fake_tree("char_trajectories", tmp_path, n_train=20, n_test=10)
    dm = FlexDataModule("char_trajectories", root=str(tmp_path), drop_rate=rate, val_fraction=0.0)
    dm.setup("test")
    x, y = dm.test_set[:]
    assert x.shape == (10, 3, 182) and int(y.max()) < 20
    leading = int(182 * rate)
    assert torch.equal(x[:, :, :leading], torch.zeros(10, 3, leading))
    full = FlexDataModule("char_trajectories", root=str(tmp_path), val_fraction=0.0)
    full.setup("test")
    x_full, _ = full.test_set[:]
    assert int((x_full.abs().sum(1) != 0).sum()) > int((x.abs().sum(1) != 0).sum())
    masked = FlexDataModule("char_trajectories", root=str(tmp_path), drop_rate=rate, drop_mode="mask", val_fraction=0.0)
    masked.setup("test")
    assert masked.record.in_channels == 4 and masked.test_set[0][0].shape == (4, 182)


def test_drop_rate_only_for_irregular_datasets() -> None:
    with pytest.raises(ValueError, match="drop_rate applies to"):
        FlexDataModule("mnist1d", drop_rate=0.5)
