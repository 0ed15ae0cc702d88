"""Every experiment preset composes and instantiates its model and datamodule (no data loaded)."""

from pathlib import Path

import pytest

from flexconv.train.commands import CONFIG_DIR, build_datamodule, build_module, compose_config

PRESETS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))


def test_presets_cover_the_paper_and_offline_runs() -> None:
    for name in ("cifar10_flexnet7", "cifar10_resnet110", "imagenet32_flexnet5", "cifar10_crossres_16_32_gabor",
                 "smnist_flextcn", "speech_raw_flextcn", "chartraj_flextcn_drop70", "copy_memory", "adding_problem",
                 "main_job", "mnist1d_cktcn", "fashion_crossres_14_28", "uea_japanesevowels_flextcn_drop50"):
        assert name in PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_instantiates(preset: str) -> None:
    cfg = compose_config([f"experiment={preset}"])
    assert cfg.experiment_name == preset
    datamodule = build_datamodule(cfg)
    if "conv33" in preset:  # 20M parameters: composing is enough
        return
    module = build_module(cfg, datamodule.record)
    assert sum(p.numel() for p in module.parameters()) > 0


def test_paper_recipe_of_cifar10_flexnet7() -> None:
    cfg = compose_config(["experiment=cifar10_flexnet7"])
    assert (cfg.optim.optimizer, cfg.optim.lr, cfg.optim.scheduler, cfg.optim.warmup_epochs, cfg.optim.min_lr) == ("adam", 0.01, "cosine", 5, 1e-6)
    assert (cfg.data.batch_size, cfg.data.augment, cfg.trainer.max_epochs, cfg.optim.weight_decay) == (64, "resnet", 350, 0.0)
    seq = compose_config(["experiment=smnist_flextcn"])
    assert (seq.optim.lr, seq.optim.scheduler, seq.optim.factor, seq.optim.patience, seq.optim.weight_decay) == (0.001, "plateau", 0.2, 20, 1e-4)
    assert compose_config(["experiment=imagenet32_flexnet5"]).optim.weight_decay == 1e-5
    assert compose_config(["experiment=cifar10_crossres_16_32_gabor_mask"]).antialias.target == "gabor+mask"
