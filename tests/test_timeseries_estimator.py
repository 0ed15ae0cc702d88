"""FlexTCNClassifier: the time-series preset as a scikit-learn estimator (flexconv.timeseries)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from flexconv.timeseries import FlexTCNClassifier

ROOT = Path(__file__).resolve().parent.parent
TINY = ("model.hidden_channels=4", "model.num_blocks=1")
"""A 1-block, 4-channel network: the estimator's plumbing, not its accuracy, in a fraction of a second a fit."""

EXPECTED_FAILED_CHECKS = {
    "check_n_features_in": "a time-series classifier takes series of any length: it has no n_features_in_",
    "check_n_features_in_after_fitting": "predict accepts series of another length than fit's (it pools over time)",
    "check_estimators_empty_data_messages": "the error for (N, 0) data says 'no data', not sklearn's wording",
    "check_classifiers_train": "asks 83 % accuracy of the tiny network after 10 steps on sklearn's blobs; "
    "test_it_learns_a_time_series_task checks learning on series instead",
}


def _tiny(**changes: object) -> FlexTCNClassifier:
    return FlexTCNClassifier(**{"max_steps": 10, "random_state": 0, "overrides": TINY, **changes})


@parametrize_with_checks([_tiny()], expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS)
def test_sklearn_estimator_checks(estimator: FlexTCNClassifier, check) -> None:
    check(estimator)


def _waves(n: int, length: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Univariate series (n, length): a slow sine ("slow") or a fast one ("fast"), random phase, noise."""
    rng = np.random.default_rng(seed)
    labels = np.array(["slow", "fast"])[np.arange(n) % 2]
    t = np.arange(length)
    freq = np.where(labels == "slow", 0.05, 0.2)[:, None]
    x = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi, (n, 1))) + 0.3 * rng.normal(size=(n, length))
    return x.astype(np.float32), labels


def test_it_learns_a_time_series_task() -> None:
    x, y = _waves(64)
    x_test, y_test = _waves(64, seed=1)
    clf = _tiny(max_steps=60, overrides=("model.hidden_channels=8", "model.num_blocks=1")).fit(x, y)
    assert clf.score(x_test, y_test) >= 0.9
    assert list(clf.classes_) == ["fast", "slow"]
    proba = clf.predict_proba(x_test)
    assert proba.shape == (64, 2) and np.allclose(proba.sum(axis=1), 1.0)


QUIET_FIT = """
import numpy as np
from flexconv.timeseries import FlexTCNClassifier
x = np.random.default_rng(0).normal(size=(8, 40))
clf = FlexTCNClassifier(max_steps=1, random_state=0).fit(x, np.arange(8) % 2)
print(sum(p.numel() for p in clf.model_.parameters()))
"""


def test_the_preset_model_and_quiet_fit(tmp_path: Path) -> None:
    # a fresh interpreter, as a user's script: Lightning prints its messages there, not under pytest
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", QUIET_FIT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    # experiment=timeseries on a univariate 2-class set: 131,890 parameters (docs/timeseries.md), and nothing else said
    assert (done.stdout, done.stderr) == ("131890\n", "")
    assert list(tmp_path.iterdir()) == []  # no logs or checkpoints left behind


def test_inputs_unequal_lengths_channels_and_labels_of_any_type() -> None:
    rng = np.random.default_rng(0)
    series = [rng.normal(size=(3, length)).astype(np.float32) for length in (20, 31, 25, 40, 18, 22)]
    labels = np.array([3, -1, 3, -1, 3, -1])
    clf = _tiny().fit(series, labels)  # a list of (C, T_i), as aeon returns unequal-length sets
    assert clf.length_ == 40 and clf.n_channels_ == 3
    assert set(clf.predict([rng.normal(size=(3, 60)), rng.normal(size=(3, 5))])) <= {3, -1}
    assert clf.predict(rng.normal(size=(2, 3, 40))).dtype == labels.dtype
    with pytest.raises(ValueError, match="series of 2 channels; the classifier was fitted on 3"):
        clf.predict(rng.normal(size=(2, 2, 40)))
    x = rng.normal(size=(6, 30))
    x[4, 7] = np.inf
    with pytest.raises(ValueError, match=r"X\[4\]: an infinite value at channel 0, step 7"):
        _tiny().fit(x, labels)
    with pytest.raises(ValueError, match="one class only"):
        _tiny().fit(x[:3] * 0 + 1, ["a"] * 3)
    with pytest.raises(ValueError, match="override 'data.path=x.npz' is not one of"):
        _tiny(overrides=("data.path=x.npz",)).fit(series, labels)
    with pytest.raises(ValueError, match="device must be"):
        _tiny(device="toaster").fit(series, labels)


def test_random_state_makes_fit_deterministic() -> None:
    x, y = _waves(16)
    torch.manual_seed(100)
    before = torch.get_rng_state()
    first = _tiny(random_state=3).fit(x, y).predict_proba(x)
    assert torch.equal(torch.get_rng_state(), before)  # the global random state is left as it was
    torch.manual_seed(200)  # ... and does not decide the model
    assert np.array_equal(first, _tiny(random_state=3).fit(x, y).predict_proba(x))
    assert not np.array_equal(first, _tiny(random_state=4).fit(x, y).predict_proba(x))


def test_cross_val_score_and_grid_search() -> None:
    x, y = _waves(24)
    scores = cross_val_score(_tiny(max_steps=20), x, y, cv=3)
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))
    search = GridSearchCV(_tiny(), {"experiment": ["timeseries", "timeseries_conv3"]}, cv=2, error_score="raise")
    search.fit(x, y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_estimator_.experiment == search.best_params_["experiment"]
    assert not any(
        name.startswith("model.conv.kernel_net")
        for name, _ in _tiny(experiment="timeseries_conv3").fit(x, y).model_.named_parameters()
    )  # the k=3 network


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_gives_the_classes_as_on_the_cpu() -> None:
    x, y = _waves(32)
    clf = _tiny(max_steps=60, overrides=("model.hidden_channels=8", "model.num_blocks=1"), device="cuda").fit(x, y)
    assert next(clf.model_.parameters()).device.type == "cpu" and clf.score(*_waves(32, seed=1)) >= 0.9
