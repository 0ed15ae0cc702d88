"""Reproducible data order, so that a run resumed mid-epoch ends with the same weights.

:class:`EpochSampler` draws the permutation of epoch e from ``seed + e`` (never from the global
RNG) and shards it over the DDP ranks itself. :class:`DataOrder` is a callback whose checkpointed
state is the trainer's position (epoch, batches done in it), the global RNG states (dropout) and
the running sums behind the epoch metrics (``train/loss_epoch``, ...): on resume it sets the
sampler to that epoch, skips the batches already trained on, restores the RNG states when training
starts and adds the saved sums after the first resumed batch, so epoch metrics cover the whole
epoch, not only the resumed batches.

Exactness holds with ``num_workers=0`` and deterministic data (no random augmentation, which draws
from the global RNG while the next batch is prefetched); with augmentation only the first resumed
batch differs. Under DDP the RNG states of rank 0 are restored on every rank.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sized
from typing import Any, Optional, cast

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from flexconv.train.lightning_internals import epoch_metric_results


def _rank_and_world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class EpochSampler(Sampler[int]):
    """Shuffled indices of ``num_samples`` items from ``seed + epoch``, this rank's share.

    Each rank gets ``ceil(num_samples / world_size)`` indices (the permutation is padded by
    wrapping around, as ``DistributedSampler`` does). ``skip_batches(epoch, n, batch_size)``
    makes the next iteration of that epoch start after n batches.
    """

    def __init__(self, num_samples: int, seed: int = 0, shuffle: bool = True) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self._skip: Optional[tuple[int, int]] = None  # (epoch, samples to skip)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def skip_batches(self, epoch: int, batches: int, batch_size: int) -> None:
        self._skip = (epoch, batches * batch_size)

    def __len__(self) -> int:
        _, world = _rank_and_world()
        return -(-self.num_samples // world)

    def __iter__(self) -> Iterator[int]:
        rank, world = _rank_and_world()
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator).tolist()
        else:
            order = list(range(self.num_samples))
        per_rank = -(-self.num_samples // world)
        order = order + order[: per_rank * world - len(order)]  # pad by wrapping around
        mine = order[rank::world]
        if self._skip is not None and self._skip[0] == self.epoch:
            mine = mine[self._skip[1] :]
        self._skip = None
        return iter(mine)


def with_epoch_sampler(loader: DataLoader, seed: int) -> DataLoader:
    """The same loader (dataset, batch size, collate, workers) with an :class:`EpochSampler`."""
    if loader.batch_size is None:
        raise ValueError("the training loader uses a custom batch sampler; resuming mid-epoch needs a plain batch_size")
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=EpochSampler(len(cast(Sized, loader.dataset)), seed),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        worker_init_fn=loader.worker_init_fn,
        persistent_workers=loader.persistent_workers,
    )


def _rng_states() -> dict[str, Any]:
    """Global RNG states as tensors and plain Python values (loadable with ``weights_only=True``)."""
    state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state())  # the legacy tuple form
    kind, keys, pos, has_gauss, gauss = state
    numpy_state = (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss)
    states = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _epoch_sums(trainer: L.Trainer) -> dict[str, dict[str, torch.Tensor]]:
    """The accumulators (``value``, ``cumulated_batch_size``) of the training epoch metrics so far."""
    results = epoch_metric_results(trainer)
    return {
        key: {
            name: getattr(metric, name).detach().cpu().clone()
            for name in ("value", "cumulated_batch_size")
            if hasattr(metric, name)
        }
        for key, metric in results.items()
        if metric.is_tensor and metric.meta.on_epoch and not metric.has_reset
    }


def _add_epoch_sums(trainer: L.Trainer, sums: dict[str, dict[str, torch.Tensor]]) -> None:
    """Fold the saved accumulators into the running ones (sum, mean: added; max, min: reduced)."""
    results = epoch_metric_results(trainer)
    for key, saved in sums.items():
        metric = results.get(key)
        if metric is None or not metric.is_tensor:
            continue
        value = saved["value"].to(metric.value.device, metric.value.dtype)
        if metric.meta.is_mean_reduction or metric.meta.is_sum_reduction:
            metric.value = metric.value + value
        else:
            metric.value = metric.meta.reduce_fx(metric.value, value)
        if "cumulated_batch_size" in saved and hasattr(metric, "cumulated_batch_size"):
            metric.cumulated_batch_size = metric.cumulated_batch_size + saved["cumulated_batch_size"].to(
                metric.cumulated_batch_size.device
            )


class DataOrder(L.Callback):
    """Checkpoints the position in the data, the RNG states and the epoch metrics' running sums;
    restores them on resume."""

    def __init__(self, loader: DataLoader) -> None:
        if not isinstance(loader.sampler, EpochSampler):
            raise TypeError("DataOrder needs a loader made by with_epoch_sampler")
        self.loader = loader
        self.sampler: EpochSampler = loader.sampler
        self._trainer: Optional[L.Trainer] = None
        self._rng: Optional[dict[str, Any]] = None
        self._sums: Optional[tuple[int, dict[str, dict[str, torch.Tensor]]]] = None  # (epoch, sums)

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def state_dict(self) -> dict[str, Any]:
        if self._trainer is None:
            return {}
        loop = self._trainer.fit_loop
        return {
            # the progress trackers are _ProcessedTracker objects; Lightning annotates their base class
            "epoch": loop.epoch_progress.current.processed,  # type: ignore[attr-defined]
            "batches": loop.epoch_loop.batch_progress.current.processed,  # type: ignore[attr-defined]
            "rng": _rng_states(),
            "epoch_sums": _epoch_sums(self._trainer),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            return
        self.sampler.set_epoch(state_dict["epoch"])
        assert self.loader.batch_size is not None  # with_epoch_sampler() builds batched loaders
        self.sampler.skip_batches(state_dict["epoch"], state_dict["batches"], self.loader.batch_size)
        self._rng = state_dict["rng"]
        if state_dict["batches"] > 0 and state_dict.get("epoch_sums"):
            self._sums = (state_dict["epoch"], state_dict["epoch_sums"])

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._rng is not None:
            _set_rng_states(self._rng)
            self._rng = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._sums is not None:
            epoch, sums = self._sums
            self._sums = None
            if trainer.current_epoch == epoch:  # resumed inside the epoch the sums belong to
                _add_epoch_sums(trainer, sums)
