"""Every experiment preset composes and instantiates its model and datamodule (no data loaded), and builds the
model that preset_models.json records for it."""

import json
from pathlib import Path

import pytest
import torch

from flexconv.train.builders import build_module, datamodule_from_config, model_options
from flexconv.train.config import CONFIG_DIR, compose_config
from flexconv.train.validate import ConfigError

PRESETS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))
# Each preset's resolved model options (data fields filled from its dataset) and parameter count: a preset
# that builds another model than the one recorded here (a renamed or merged registered model, a lost
# override) fails test_preset_instantiates. Regenerate an entry only when a preset is meant to change.
PRESET_MODELS = json.loads((Path(__file__).parent / "preset_models.json").read_text())


def test_every_preset_has_its_recorded_model() -> None:
    assert sorted(PRESET_MODELS) == PRESETS


def test_presets_cover_the_paper_and_offline_runs() -> None:
    for name in (
        "cifar10_flexnet7",
        "cifar10_resnet110",
        "imagenet32_flexnet5",
        "cifar10_crossres_16_32_gabor",
        "smnist_flextcn",
        "speech_raw_flextcn",
        "chartraj_flextcn_drop70",
        "copy_memory",
        "adding_problem",
        "main_job",
        "mnist1d_cktcn",
        "fashion_crossres_14_28",
        "uea_japanesevowels_flextcn_drop50",
    ):
        assert name in PRESETS


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_instantiates(preset: str) -> None:
    cfg = compose_config([f"experiment={preset}"])
    assert cfg.experiment_name == preset
    if cfg.optim.optimizer == "adam":  # the original never used Adam's decay: its "weight decay" is kernel_norm_decay
        assert cfg.optim.weight_decay == 0.0
    datamodule = datamodule_from_config(cfg)
    record = datamodule.record
    _, options = model_options(cfg, record)
    assert options == PRESET_MODELS[preset]["model"]
    if "conv33" in preset:  # 20M parameters: the options above fix the model; composing is enough
        return
    module = build_module(cfg, record).eval()
    assert sum(p.numel() for p in module.model.parameters()) == PRESET_MODELS[preset]["parameters"]
    # The model takes the dataset's channels and gives one output per class (the data fields are filled
    # from the dataset record); a small input keeps the large presets cheap.
    spatial = [min(n, 16) for n in record.resolution] if record.data_dim == 2 else [min(record.length or 64, 64)]
    with torch.no_grad():
        out = module.model(torch.randn(1, record.in_channels, *spatial))
    assert out.shape[:2] == (1, record.num_classes), (tuple(out.shape), record.in_channels, record.num_classes)


def test_paper_recipe_of_cifar10_flexnet7() -> None:
    cfg = compose_config(["experiment=cifar10_flexnet7"])
    assert (cfg.optim.optimizer, cfg.optim.lr, cfg.optim.scheduler, cfg.optim.warmup_epochs, cfg.optim.min_lr) == (
        "adam",
        0.01,
        "cosine",
        5,
        1e-6,
    )
    assert (cfg.data.batch_size, cfg.data.augment, cfg.trainer.max_epochs, cfg.optim.weight_decay) == (
        64,
        "resnet",
        350,
        0.0,
    )
    assert cfg.optim.kernel_norm_decay == 0.0
    seq = compose_config(["experiment=smnist_flextcn"])
    assert (seq.optim.lr, seq.optim.scheduler, seq.optim.factor, seq.optim.patience) == (0.001, "plateau", 0.2, 20)
    assert (seq.optim.weight_decay, seq.optim.kernel_norm_decay) == (0.0, 1e-4)  # the original's "weight decay"
    imagenet = compose_config(["experiment=imagenet32_flexnet5"])
    assert (imagenet.optim.weight_decay, imagenet.optim.kernel_norm_decay, imagenet.model.dropout) == (0.0, 1e-5, 0.2)
    assert compose_config(["experiment=cifar10_crossres_16_32_gabor_mask"]).antialias.target == "gabor+mask"


SEQUENTIAL_PAPER_PRESETS = [
    p for p in PRESETS if p.split("_")[0] in ("smnist", "pmnist", "scifar10", "npcifar10", "speech", "chartraj")
]


@pytest.mark.parametrize("preset", SEQUENTIAL_PAPER_PRESETS)
def test_sequential_presets_use_the_kernel_norm_decay(preset: str) -> None:
    """The original's train.weight_decay 1e-4 of the sequential runs is a loss term, not Adam's decay."""
    cfg = compose_config([f"experiment={preset}"])
    assert (cfg.optim.optimizer, cfg.optim.weight_decay, cfg.optim.kernel_norm_decay) == ("adam", 0.0, 1e-4)


@pytest.mark.parametrize(
    "preset", ["cifar10_crossres_16_32", "cifar10_crossres_16_32_gabor", "cifar10_crossres_16_32_gabor_mask"]
)
def test_cross_resolution_presets_are_the_papers(preset: str) -> None:
    """Table 4: MAGNet kernels ("gabor" names the anti-aliasing target), horizon 17, 100 epochs at 16x16 + 100
    fine-tuning at 32x32."""
    cfg = compose_config([f"experiment={preset}"])
    assert cfg.model.conv.kernel_net.name == "MAGNet" and cfg.model.conv.horizon == 17
    assert (cfg.trainer.max_epochs, cfg.crossres.finetune_epochs, cfg.crossres.source, cfg.crossres.target) == (
        100,
        100,
        16,
        32,
    )


@pytest.mark.parametrize("preset", ["speech_raw_flextcn", "speech_mfcc_ckcnn"])
def test_speech_presets_default_to_the_papers_ten_words(preset: str) -> None:
    cfg = compose_config([f"experiment={preset}"])
    assert datamodule_from_config(cfg).record.num_classes == 10
    words35 = cfg.data.name.replace("commands", "commands35")
    assert datamodule_from_config(compose_config([f"experiment={preset}", f"data={words35}"])).record.num_classes == 35


# -- two-step runs of the changed families (fake data in the real on-disk formats) ---------------------------
TINY = [
    "model.hidden_channels=4",
    "model.num_blocks=1",
    "model.block_width_factors=[]",
    "model.conv.kernel_net.hidden_channels=4",
]
SHORT = [
    "data.batch_size=4",
    "data.limit_train=8",
    "data.limit_test=4",
    "trainer.max_epochs=1",
    "trainer.max_steps=2",
    "trainer.limit_val_batches=1",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "logger.tensorboard=false",
    "num_threads=1",
]


@pytest.mark.parametrize(
    "preset, dataset, regularizer",
    [
        ("smnist_flextcn", "smnist", "kernel_norm"),
        ("speech_raw_flextcn", "speech_commands_raw", "kernel_norm"),
        ("imagenet32_flexnet5", "imagenet32", "kernel_norm"),
    ],
)
def test_changed_presets_train_two_steps(preset: str, dataset: str, regularizer: str, tmp_path: Path) -> None:
    from flexconv.data.fake import make_fake_tree
    from flexconv.train.commands import train

    root = make_fake_tree(dataset, tmp_path / "data", n_train=8, n_test=4)
    run_dir = tmp_path / "run"
    results = train(compose_config([f"experiment={preset}", f"run_dir={run_dir}", f"data.root={root}", *TINY, *SHORT]))
    assert results["test_acc"] is not None
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert f"train/{regularizer}_step" in header


def test_cross_resolution_preset_runs(tmp_path: Path) -> None:
    from flexconv.data.fake import make_fake_tree
    from flexconv.train.crossres import crossres

    root = make_fake_tree("cifar10", tmp_path / "data", n_train=8, n_test=4)
    cfg = compose_config(
        [
            "experiment=cifar10_crossres_16_32_gabor_mask",
            f"run_dir={tmp_path / 'run'}",
            f"data.root={root}",
            *TINY,
            *[o for o in SHORT if not o.startswith("trainer.max_steps")],
            "crossres.finetune_epochs=1",
        ]
    )
    results = crossres(cfg)
    assert all(isinstance(results[k], float) for k in ("source_acc", "out_of_the_box_acc", "finetuned_acc"))


def test_kernel_net_and_mask_arguments_are_overridable_keys() -> None:
    cfg = compose_config(
        ["model=flexnet3", "model.conv.kernel_net.hidden_channels=8", "model.conv.mask.init_width=0.2"]
    )
    layer = build_module(cfg, datamodule_from_config(cfg).record).model.stem[0]
    assert layer.kernel_net.hidden[0].in_features == 8 and float(layer.mask.width[0].detach()) == pytest.approx(0.2)
    replaced = compose_config(
        ["model=flexnet3", "~model.conv.kernel_net", "+model.conv.kernel_net={name: SIREN, omega_0: 10.0}"]
    )
    assert (
        type(build_module(replaced, datamodule_from_config(replaced).record).model.stem[0].kernel_net).__name__
        == "SIREN"
    )


def test_a_preset_runs_another_model_without_its_model_overrides() -> None:
    """docs/experiments.md: the cross-resolution preset with ResNet-44, dropping the FlexNet's horizon override."""
    with pytest.raises(ConfigError, match="unknown key model.conv"):
        compose_config(["experiment=cifar10_crossres_16_32", "model=resnet44"])
    cfg = compose_config(["experiment=cifar10_crossres_16_32", "model=resnet44", "~model.conv"])
    module = build_module(cfg, datamodule_from_config(cfg).record)
    assert sum(p.numel() for p in module.model.parameters()) == 658_586
