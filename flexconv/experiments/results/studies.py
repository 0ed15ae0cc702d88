"""The studies of the results page: one YAML file each in ``studies/``
(:func:`~flexconv.experiments.results.study.load_study`), on the page in the order of :data:`PAGE_ORDER`."""

from __future__ import annotations

from pathlib import Path

from flexconv.experiments.results.study import Study, load_study

STUDY_FILES = Path(__file__).with_name("studies")
PAGE_ORDER = tuple("mnist1d fashion_mnist crossres sfashion uea fit_kernel synthetic timeseries dropin".split())
STUDIES: dict[str, Study] = {key: load_study(STUDY_FILES / f"{key}.yaml") for key in PAGE_ORDER}
