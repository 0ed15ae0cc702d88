"""The studies of the results page, in page order (:data:`STUDIES`).

Each study is a YAML file of ``studies/`` (:func:`~flexconv.experiments.results.study.load_study`): rows to run
with every seed, tables, notes, a figure and claims, all data. Kernel fitting, the learned kernel sizes and the
time-series study are in :mod:`~flexconv.experiments.results.kernels` and
:mod:`~flexconv.experiments.results.timeseries`.
"""

from __future__ import annotations

from pathlib import Path

from flexconv.experiments.results.kernels import FIT_KERNEL, kernel_sizes_study
from flexconv.experiments.results.study import Study, load_study
from flexconv.experiments.results.timeseries import TIMESERIES

STUDY_FILES = Path(__file__).with_name("studies")
_FILES = {
    key: load_study(STUDY_FILES / f"{key}.yaml")
    for key in ("mnist1d", "fashion_mnist", "crossres", "sfashion", "uea", "synthetic", "dropin")
}
KERNEL_SIZES = kernel_sizes_study(_FILES["fashion_mnist"].row("flexnet"))
STUDIES: dict[str, Study] = {
    study.key: study
    for study in (
        *(_FILES[key] for key in ("mnist1d", "fashion_mnist", "crossres", "sfashion", "uea")),
        FIT_KERNEL,
        KERNEL_SIZES,
        _FILES["synthetic"],
        TIMESERIES,
        _FILES["dropin"],
    )
}
