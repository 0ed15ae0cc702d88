"""Datasets: one record per dataset (:mod:`records`), loaders of the real on-disk formats, and
:class:`FlexDataModule`, the Lightning data module of every dataset.

``FlexDataModule``, ``build_datamodule`` and ``build_dataset`` are imported on first use, so that
reading the records does not import Lightning.
"""

from typing import Any

from flexconv.data.records import DATASETS, DatasetNotFoundError, DatasetRecord, get_record

__all__ = ["DATASETS", "DatasetNotFoundError", "DatasetRecord", "FlexDataModule", "build_datamodule", "build_dataset", "get_record"]


def __getattr__(name: str) -> Any:
    if name in ("FlexDataModule", "build_datamodule", "build_dataset"):
        from flexconv.data import datamodule

        return getattr(datamodule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
