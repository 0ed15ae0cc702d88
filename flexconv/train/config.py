"""The ``train`` config: Hydra files in ``flexconv/configs`` plus one option per registered model and dataset.

:func:`compose_config` turns ``key=value`` overrides (``experiment=main_job``, ``trainer.max_epochs=5``)
into the resolved, checked config in struct mode (``hydra.compose``, no ``@hydra.main``); an unknown
key or a value of the wrong type fails with a :class:`~flexconv.train.validate.ConfigError` naming it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.errors import ConfigCompositionException, HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError

from flexconv.models.registry import config_dict, list_models, model_config
from flexconv.train.module import OptimConfig
from flexconv.train.validate import unknown_override_error, validate_config

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
DATA_FIELDS = ("in_channels", "num_classes", "data_dim")  # model fields that the dataset record fills when null


def register_config_groups() -> None:
    """Store one ``model/<name>`` option per registered model, one ``data/<name>`` per dataset, and
    ``optim/base`` (OptimConfig's defaults, which the optim/*.yaml options change).

    Model options are the model configuration's fields, with the data fields left null (filled
    from the dataset record); data options are FlexDataModule's arguments with their defaults.
    """
    from flexconv.data.datamodule import SERIES, FlexDataModule
    from flexconv.data.records import DATASETS

    store = ConfigStore.instance()
    for name in list_models():
        node = config_dict(model_config(name))
        node.update({field: None for field in DATA_FIELDS})
        store.store(group="model", name=name, node={"name": name, **node})
    store.store(group="optim", name="base", node=vars(OptimConfig()))  # every optim/*.yaml starts from it
    arguments = {
        p.name: p.default
        for p in inspect.signature(FlexDataModule).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "name"
    }
    for name in (*DATASETS, SERIES):  # series: the user's own files (data=series data.path=...)
        node = {"name": name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in arguments.items()}}
        store.store(group="data", name=name, node=node)


def _compose(overrides: Sequence[str]) -> DictConfig:
    register_config_groups()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="flexconv"):
        cfg = compose(config_name="train", overrides=list(overrides))
    OmegaConf.resolve(cfg)
    OmegaConf.set_struct(cfg, True)
    return cfg


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The resolved, checked ``train`` config with Hydra ``overrides`` (e.g. ``experiment=main_job``),
    in struct mode. An override of a key the config lacks, or a value of the wrong type, raises
    :class:`ConfigError` naming the key and the known keys or the expected type."""
    try:
        cfg = _compose(overrides)
    except ConfigCompositionException as error:
        if not isinstance(error.__cause__, ConfigAttributeError) or "not in struct" not in str(error.__cause__):
            raise
        key = str(error).split("'")[1]  # "Could not override 'trainer.max_epoch'. ..."
        rest = [o for o in overrides if o.split("=", 1)[0] != key]
        value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0] == key), "")
        try:
            known = _compose(rest)
        except HydraException:
            known = None
        raise unknown_override_error(key, value, known) from None
    validate_config(cfg)
    return cfg
