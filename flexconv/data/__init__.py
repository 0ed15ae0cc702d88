"""Datasets: one record per dataset (:mod:`records`: its facts, its loader and its fake-data writer),
the loaders of the real on-disk formats, and :class:`FlexDataModule`, the Lightning data module of
every dataset. A new dataset is one :class:`DatasetRecord` passed to :func:`register_dataset`
(see docs/extending.md).

``FlexDataModule``, ``build_datamodule`` and ``build_dataset`` are imported on first use, so that
reading the records does not import Lightning.
"""

from typing import Any

from flexconv.data.records import (
    DATASETS,
    DatasetNotFoundError,
    DatasetRecord,
    LoadOptions,
    get_record,
    register_dataset,
)

__all__ = [
    "DATASETS",
    "DatasetNotFoundError",
    "DatasetRecord",
    "FlexDataModule",
    "LoadOptions",
    "build_datamodule",
    "build_dataset",
    "get_record",
    "register_dataset",
]


def __getattr__(name: str) -> Any:
    if name in ("FlexDataModule", "build_datamodule", "build_dataset"):
        from flexconv.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
