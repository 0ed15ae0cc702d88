"""Check a composed ``train`` config before anything is built or written.

Every section is checked against the type annotations of the code that receives it, so the
config stays data whose keys are constructors' own argument names:
``trainer`` -> ``lightning.Trainer``, ``data`` -> :class:`FlexDataModule`, ``optim`` ->
:class:`OptimConfig`, ``model`` -> the registered model's configuration dataclass, and the root
keys -> the table :data:`ROOT_TYPES`. A wrong type (``trainer.max_epochs=abc`` or ``2.5``), an
unknown key (``+trainer.max_epoch=5``) or a combination that would fail after an epoch (a
plateau schedule watching ``val/...`` with ``data.val_fraction=0``) raises :class:`ConfigError`,
which names every bad key, its value and what is expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from collections.abc import Iterable
from typing import Any, Literal, Optional, Union, cast

import lightning as L
from omegaconf import DictConfig, OmegaConf

TRAINER_SET_BY_FLEXCONV = ("default_root_dir", "logger", "callbacks", "deterministic", "use_distributed_sampler")
"""Trainer arguments that ``train`` passes itself (``deterministic`` is the root key)."""

ROOT_TYPES: dict[str, Any] = {
    "experiment_name": str,
    "seed": int,
    "deterministic": Union[bool, Literal["warn"]],
    "compile": bool,
    "compile_mode": Optional[Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"]],
    "num_threads": Optional[int],
    "run_dir": Optional[str],
    "resume": Optional[str],
    "objective": Optional[str],
    "test": bool,
    "checkpoint.monitor": Optional[str],
    "checkpoint.mode": Literal["min", "max"],
    "checkpoint.every_n_train_steps": Optional[int],
}
MIN_VALUES = {
    "seed": 0,
    "num_threads": 1,
    "checkpoint.every_n_train_steps": 1,
    "data.batch_size": 1,
    "data.limit_train": 1,
    "data.limit_test": 1,
    "data.num_workers": 0,
}


class ConfigError(ValueError):
    """The config has keys of the wrong type, unknown keys or contradicting values."""


def matches(value: Any, annotation: Any) -> bool:
    """Whether the plain config ``value`` (None, bool, int, float, str, list, dict) fits ``annotation``."""
    if annotation is Any:
        return True
    if annotation is type(None) or annotation is None:
        return value is None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Union:
        return any(matches(value, a) for a in args)
    if origin is Literal:
        return any(type(value) is type(a) and value == a for a in args)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
        return not args or all(matches(v, args[0]) for v in value)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if dataclasses.is_dataclass(annotation):
        return isinstance(value, dict)
    return isinstance(annotation, type) and isinstance(value, annotation)


def describe(annotation: Any) -> str:
    """``annotation`` in words: "an integer or null", "one of ['min', 'max']", ..."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Union:
        words = [w for w in (describe(a) for a in args if a is not type(None)) if w]
        return " or ".join(dict.fromkeys(words + (["null"] if type(None) in args else [])))
    if origin is Literal:
        return f"one of {list(args)}"
    if origin in (list, tuple):
        return f"a list of {describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    names = {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "a string",
        type(None): "null",
        dict: "a mapping",
    }
    if annotation in names:
        return names[annotation]
    if dataclasses.is_dataclass(annotation) or origin is dict:
        return "a mapping"
    return ""  # a class that a config cannot hold (Accelerator, Strategy): not worth naming


def _unknown(key: str, known: Iterable[str]) -> str:
    section, _, leaf = key.rpartition(".")
    known = sorted(known)
    close = difflib.get_close_matches(leaf, known, n=1)
    hint = f" (did you mean {section + '.' if section else ''}{close[0]}?)" if close else ""
    return f"unknown key {key}{hint}; known {section or 'top-level'} keys: {', '.join(known)}"


def trainer_arguments() -> dict[str, Any]:
    """Annotations of the ``lightning.Trainer`` arguments a config may set."""
    hints = typing.get_type_hints(L.Trainer.__init__)
    names = [p for p in inspect.signature(L.Trainer.__init__).parameters if p != "self"]
    return {n: hints.get(n, Any) for n in names if n not in TRAINER_SET_BY_FLEXCONV}


def section_annotations(section: str) -> dict[str, Any]:
    """Annotations of the arguments that the receiver of the config section ``section`` accepts."""
    if section == "trainer":
        return trainer_arguments()
    if section == "data":
        from flexconv.data.datamodule import DATASET_OPTIONS, FlexDataModule

        hints = typing.get_type_hints(FlexDataModule.__init__)
        hints.pop("return", None)
        hints.pop("dataset_options", None)
        return {**{name: Optional[int] for name in DATASET_OPTIONS}, **hints}  # path/test_path: typed in FlexDataModule
    if section == "optim":
        from flexconv.train.module import OptimConfig

        return typing.get_type_hints(OptimConfig)
    raise KeyError(section)


def _model_problems(node: dict[str, Any], config_type: type, where: str) -> list[str]:
    hints = typing.get_type_hints(config_type)
    problems = []
    for key, value in node.items():
        if key not in hints:
            problems.append(_unknown(f"{where}.{key}", hints))
        elif dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            problems += _model_problems(value, hints[key], f"{where}.{key}")
        elif not matches(value, hints[key]) and not (
            value is None and key in ("in_channels", "num_classes", "data_dim")
        ):
            problems.append(f"{where}.{key}={value!r}: expected {describe(hints[key])}")
    return problems


def config_problems(cfg: DictConfig) -> list[str]:
    """Every problem of ``cfg`` in words (empty: the config is fine)."""
    from flexconv.models.registry import list_models, model_config

    plain = cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True))
    problems: list[str] = []
    for key, annotation in ROOT_TYPES.items():
        value = OmegaConf.select(cfg, key)
        if not matches(value, annotation):
            problems.append(f"{key}={value!r}: expected {describe(annotation)}")
    for section in ("trainer", "data", "optim"):
        annotations = section_annotations(section)
        for key, value in plain[section].items():
            if key not in annotations:
                problems.append(
                    _unknown(f"{section}.{key}", annotations)
                    if section != "trainer" or key not in TRAINER_SET_BY_FLEXCONV
                    else f"trainer.{key} is set by flexconv itself"
                )
            elif not matches(value, annotations[key]):
                problems.append(f"{section}.{key}={value!r}: expected {describe(annotations[key])}")
    model = dict(plain["model"])
    name = model.pop("name", None)
    if name in list_models():
        problems += _model_problems(model, type(model_config(name)), "model")
    for key, minimum in MIN_VALUES.items():
        value = OmegaConf.select(cfg, key)
        if isinstance(value, int) and not isinstance(value, bool) and value < minimum:
            problems.append(f"{key}={value!r}: expected at least {minimum}")
    problems += _validation_problems(plain)
    return problems


def _has_official_val(dataset: str) -> bool:
    """The dataset has its own validation split, which ``val_fraction`` does not take from training."""
    from flexconv.data.records import DATASETS

    return dataset in DATASETS and DATASETS[dataset].official_val


def _validation_problems(plain: dict[str, Any]) -> list[str]:
    """A plateau schedule that watches a validation metric needs a validation split."""
    data, optim = plain["data"], plain["optim"]
    no_val = data.get("val_fraction") == 0 and not _has_official_val(str(data.get("name", "")))
    if no_val and optim.get("scheduler") == "plateau" and str(optim.get("monitor", "")).startswith("val/"):
        metric = optim["monitor"].removeprefix("val/")
        return [
            f"optim.scheduler=plateau watches optim.monitor={optim['monitor']!r}, but data.val_fraction=0 "
            f"leaves no validation split: set data.val_fraction > 0, or optim.monitor=train/{metric}_epoch"
        ]
    return []


def validate_config(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` listing every problem of ``cfg``; do nothing when it is fine."""
    problems = config_problems(cfg)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def unknown_override_error(key: str, value: str, cfg: Optional[DictConfig]) -> ConfigError:
    """The error for an override ``key=value`` of a key that the composed ``cfg`` does not have."""
    section = key.rpartition(".")[0]
    if section == "trainer":
        known: Iterable[str] = trainer_arguments()
    else:
        node = OmegaConf.select(cfg, section) if cfg is not None and section else cfg
        known = [str(k) for k in node.keys()] if isinstance(node, DictConfig) else []
    message = _unknown(key, known)
    if section == "trainer" and key.rpartition(".")[2] in trainer_arguments():
        message = (
            f"trainer.{key.rpartition('.')[2]} is a Trainer argument that the config does not list: add it with "
            f"+{key}={value}"
        )
    return ConfigError(message)
