"""aeon's classifiers on a registered time-series set: the baselines a practitioner tries first.

:func:`fit_aeon` fits one of :data:`AEON_CLASSIFIERS` with aeon's defaults and ``random_state=seed``
on the training split of a data set exactly as the networks get it (``flexconv train data=<name>``:
the same files, split and preprocessing, :mod:`flexconv.data.uea`; unequal-length series zero-padded
at the start, which MiniRocket and MultiRocket need anyway), and tests it on the test split.

The fit time excludes numba's one-off compilation: a first fit on one series per class (the first two
classes) compiles aeon's kernels for these shapes before the timed fit, as they would be in any
session after its first fit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from flexconv.data.records import resolve

AEON_CLASSIFIERS = {
    "minirocket": "aeon.classification.convolution_based:MiniRocketClassifier",
    "multirocket": "aeon.classification.convolution_based:MultiRocketClassifier",
}
"""The classifiers by the name a study's row gives them."""


def _splits(data: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train x (N, C, L) float64, train y, test x, test y of the registered set ``data`` as the networks get it."""
    from flexconv.data.datamodule import FlexDataModule

    datamodule = FlexDataModule(data, val_fraction=0.0)
    datamodule.setup()
    assert datamodule.train_set is not None and datamodule.test_set is not None  # setup() built them
    (train_x, train_y), (test_x, test_y) = datamodule.train_set[:], datamodule.test_set[:]
    return train_x.double().numpy(), train_y.numpy(), test_x.double().numpy(), test_y.numpy()


def fit_aeon(classifier: str, data: str, seed: int) -> dict[str, Any]:
    """Fit aeon's ``classifier`` (a key of :data:`AEON_CLASSIFIERS`) on ``data``'s training split, test it.

    Returns test_acc, wall_time_s (the fit), predict_time_s, classifier (aeon's class name), seed and device (cpu).
    """
    if classifier not in AEON_CLASSIFIERS:
        raise ValueError(f"classifier must be one of {sorted(AEON_CLASSIFIERS)}, got {classifier!r}")
    make = resolve(AEON_CLASSIFIERS[classifier])
    train_x, train_y, test_x, test_y = _splits(data)
    first_of_class = np.unique(train_y, return_index=True)[1][:2]
    make(random_state=seed).fit(train_x[first_of_class], train_y[first_of_class])  # compiles numba's kernels
    model = make(random_state=seed)
    start = time.perf_counter()
    model.fit(train_x, train_y)
    fitted = time.perf_counter()
    predictions = model.predict(test_x)
    predicted = time.perf_counter()
    return {
        "test_acc": float(np.mean(predictions == test_y)),
        "wall_time_s": round(fitted - start, 2),
        "predict_time_s": round(predicted - fitted, 2),
        "classifier": type(model).__name__,
        "seed": seed,
        "device": "cpu",
    }
