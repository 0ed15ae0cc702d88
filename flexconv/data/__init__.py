"""Datasets: one record per dataset (:mod:`records`), readers of the real on-disk formats, and
:class:`FlexDataModule`, the Lightning data module of every dataset."""

from flexconv.data.datamodule import FlexDataModule
from flexconv.data.records import DATASETS, DatasetNotFoundError, DatasetRecord, get_record

__all__ = ["FlexDataModule", "DATASETS", "DatasetRecord", "DatasetNotFoundError", "get_record"]
