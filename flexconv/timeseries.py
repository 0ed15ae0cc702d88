"""``FlexTCNClassifier``: the ``experiment=timeseries`` preset as a scikit-learn classifier.

A thin adapter: ``fit(X, y)`` composes the preset's config (``flexconv train experiment=timeseries``),
preprocesses the series as the ``data=series`` loader does (:mod:`flexconv.data.series`: the same
checks, per-channel standardisation with the training series' statistics, zero-padding at the start,
missing values to 0), builds the same :class:`~flexconv.train.module.TaskModule` (model, loss,
optimiser and schedule) and trains it with a Lightning Trainer made from the preset's ``trainer``
section: no progress bar, no logger, no checkpoint files. So it works in ``cross_val_score``,
``GridSearchCV`` and ``Pipeline`` like any scikit-learn classifier, and ``experiment="timeseries_conv3"``
trains the matched k=3 baseline the same way.

X: an array (N, T) (univariate) or (N, C, T), or a list of N arrays (T_i,) or (C, T_i) of unequal
lengths (as ``aeon.datasets.load_classification`` returns them); in an array, a series shorter than T
ends in NaN. y: N labels of any type (``classes_`` keeps them, in sorted order).

``predict`` pads series to the training length (longer ones to their own length): the preset's
network pools over time, so it takes any length.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any, Optional, cast

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_random_state, column_or_1d
from torch.utils.data import DataLoader, TensorDataset

from flexconv.data.records import DatasetRecord
from flexconv.data.series import as_series
from flexconv.data.uea import Standardiser, check_channels, check_classes

PREDICT_BATCH = 256
"""Series per forward pass in ``predict_proba``."""
OVERRIDABLE = ("model.", "optim.", "trainer.", "antialias", "data.batch_size=", "num_threads=", "deterministic=")
"""What ``overrides`` may change; the rest of the config (data files, checkpoints, loggers, run folder) has no
meaning for an estimator."""
SET_HERE = ("accelerator", "devices", "strategy", "num_nodes", "enable_progress_bar", "limit_val_batches")
"""Trainer options that ``device``, quietness and training on every series decide, not the preset."""
QUIET_WARNINGS = (
    r".*does not have many workers.*",
    r".*You defined a `validation_step` but have no `val_dataloader`.*",
)
"""Lightning's advice on DataLoader workers (the series are in memory: workers would only cost time), and its
notice that the module's validation step is not used (the estimator trains on every series)."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Within: Lightning's informational messages (devices, seeds) and :data:`QUIET_WARNINGS` are not shown."""
    from flexconv.train.callbacks import quiet_lightning

    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with quiet_lightning(), warnings.catch_warnings():
            for message in QUIET_WARNINGS:
                warnings.filterwarnings("ignore", message=message)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _accelerator(device: str) -> tuple[str, Any]:
    """Lightning's (accelerator, devices) for a torch device string ("cpu", "cuda", "cuda:1", "mps")."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:<index>' or 'mps', got {device!r} ({error})") from None
    if parsed.type == "cpu":
        return "cpu", 1
    if parsed.type in ("cuda", "mps"):
        return ("gpu" if parsed.type == "cuda" else "mps"), [parsed.index] if parsed.index is not None else 1
    raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:<index>' or 'mps', got {device!r}")


@lru_cache(maxsize=32)
def _composed(overrides: tuple[str, ...]) -> dict[str, Any]:
    """The resolved config of ``flexconv train <overrides>``, composed once per ``overrides`` (Hydra takes most of
    a second, which a grid search would otherwise pay at every fit)."""
    from flexconv.train.config import compose_config

    return cast("dict[str, Any]", OmegaConf.to_container(compose_config(list(overrides)), resolve=True))


def _series(x: Any, method: str) -> list[np.ndarray]:
    """The checked series (C, T_i) of ``x`` (:func:`flexconv.data.series.as_series`); sparse input is a TypeError."""
    from scipy.sparse import issparse

    if issparse(x):
        raise TypeError(f"FlexTCNClassifier.{method}: sparse input is not supported; pass a dense array (X.toarray())")
    return as_series(x, f"FlexTCNClassifier.{method}")


class FlexTCNClassifier(ClassifierMixin, BaseEstimator):
    """The ``experiment=timeseries`` FlexTCN (or another time-series preset) as a scikit-learn classifier.

    Args:
        max_steps: optimiser steps; the cosine schedule spans them (None: the preset's, 2,000).
        max_epochs: passes over the training series at most (None: the preset's 100,000, so that
            ``max_steps`` decides).
        experiment: the preset that gives the model, the preprocessing's batch size and the recipe:
            "timeseries" (FlexTCN) or "timeseries_conv3" (the matched network with 3-tap convolutions).
        overrides: ``key=value`` overrides of the preset as on the command line, of ``model.*``,
            ``optim.*``, ``trainer.*``, ``antialias``, ``data.batch_size``, ``num_threads`` or
            ``deterministic`` (e.g. ``("model.hidden_channels=64",)``).
        random_state: seed of the initial weights, the batch order and dropout: an int gives the same
            model at every fit; None a different one.
        device: where to train and predict: "cpu", "cuda", "cuda:<index>" or "mps".

    Attributes after ``fit``: ``classes_`` (the labels, sorted), ``model_`` (the trained torch module,
    on the CPU), ``standardiser_`` (the training series' per-channel statistics), ``length_`` (the
    longest training series), ``n_channels_``.
    """

    def __init__(
        self,
        max_steps: Optional[int] = None,
        max_epochs: Optional[int] = None,
        experiment: str = "timeseries",
        overrides: Sequence[str] = (),
        random_state: Optional[int | np.random.RandomState] = None,
        device: str = "cpu",
    ) -> None:
        self.max_steps = max_steps
        self.max_epochs = max_epochs
        self.experiment = experiment
        self.overrides = overrides
        self.random_state = random_state
        self.device = device

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing values (NaN) inside a series; an infinite value is an error
        tags.non_deterministic = self.random_state is None
        return tags

    def _config(self, seed: int) -> DictConfig:
        """The preset's resolved config with ``overrides``, ``max_steps``, ``max_epochs`` and ``seed``."""
        for override in self.overrides:
            if not override.startswith(OVERRIDABLE):
                raise ValueError(
                    f"FlexTCNClassifier: override {override!r} is not one of {', '.join(OVERRIDABLE)}...; "
                    "data files, checkpoints, loggers and run folders do not apply to an estimator"
                )
        limits = [
            f"trainer.{key}={value}"
            for key, value in (("max_steps", self.max_steps), ("max_epochs", self.max_epochs))
            if value is not None
        ]
        cfg = OmegaConf.create(_composed((f"experiment={self.experiment}", *self.overrides, *limits)))
        cfg.seed = seed
        OmegaConf.set_struct(cfg, True)
        return cfg

    def fit(self, X: Any, y: Any) -> FlexTCNClassifier:
        """Train a fresh model on the series X and labels y (see the module docstring); returns self."""
        from flexconv.train.builders import build_module
        from flexconv.train.resumable import with_epoch_sampler

        series = _series(X, "fit")
        labels = column_or_1d(y, warn=True)
        check_classification_targets(labels)
        if len(labels) != len(series):
            raise ValueError(f"FlexTCNClassifier.fit: {len(series)} series in X but {len(labels)} labels in y")
        check_channels(series, [])
        check_classes(labels, labels[:0])
        accelerator, devices = _accelerator(self.device)
        seed = (
            int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            if not isinstance(self.random_state, (int, np.integer))
            else int(self.random_state)
        )
        cfg = self._config(seed)

        self.classes_, codes = np.unique(labels, return_inverse=True)
        self.n_channels_, self.length_ = series[0].shape[0], max(s.shape[1] for s in series)
        self.standardiser_ = Standardiser.fit(series)
        data = TensorDataset(self.standardiser_(series, self.length_), torch.as_tensor(codes, dtype=torch.long))
        # the facts that build_module reads (channels, classes, the task); its loader is never called here
        record = DatasetRecord(
            name="series",
            task="sequence",
            in_channels=self.n_channels_,
            num_classes=len(self.classes_),
            data_dim=1,
            length=self.length_,
            loader="flexconv.data.series:load",
        )
        trainer_options = {key: value for key, value in dict(cfg.trainer).items() if key not in SET_HERE}
        threads = torch.get_num_threads()
        cuda = [torch.device(self.device).index or 0] if accelerator == "gpu" else []
        with _quiet(), torch.random.fork_rng(devices=cuda), tempfile.TemporaryDirectory() as scratch:
            torch.manual_seed(seed)
            if cfg.num_threads is not None:
                torch.set_num_threads(cfg.num_threads)
            try:
                module = build_module(cfg, record)
                loader = with_epoch_sampler(DataLoader(data, batch_size=cfg.data.batch_size), seed)
                trainer = L.Trainer(
                    **trainer_options,
                    accelerator=accelerator,
                    devices=devices,
                    logger=False,
                    enable_checkpointing=False,
                    enable_progress_bar=False,
                    enable_model_summary=False,
                    limit_val_batches=0,
                    default_root_dir=scratch,
                    deterministic=cfg.deterministic,
                )
                trainer.fit(module, train_dataloaders=loader)
            finally:
                torch.set_num_threads(threads)
        self.model_ = module.model.cpu().eval()
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (N, K), columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        series = _series(X, "predict")
        if any(s.shape[0] != self.n_channels_ for s in series):
            channels = next(s.shape[0] for s in series if s.shape[0] != self.n_channels_)
            raise ValueError(
                f"FlexTCNClassifier.predict: X has series of {channels} channels; the classifier was "
                f"fitted on {self.n_channels_}"
            )
        x = self.standardiser_(series, max(self.length_, *(s.shape[1] for s in series)))
        device = torch.device(self.device)
        model = self.model_.to(device)
        try:
            with torch.no_grad():
                probabilities = [
                    torch.softmax(model(batch.to(device)), dim=1).cpu() for batch in x.split(PREDICT_BATCH)
                ]
        finally:
            self.model_ = model.cpu()
        return torch.cat(probabilities).double().numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label of each series, (N,)."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(axis=1)]
