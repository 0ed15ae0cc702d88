"""``metrics.csv`` that survives a kill and a resume.

Lightning's CSV logger writes each row as it is logged but, when its folder is not empty,
deletes an existing ``metrics.csv`` on start: after a kill and a resume the rows before the kill
are gone. :class:`RunCSVLogger` writes ``<run_dir>/metrics.csv`` and

* on resume, the rows of the earlier run (``history``: its ``metrics.csv``) come first: those
  with a step below the first step the resumed run logs (rows logged after the checkpoint are
  logged again by the resumed run and replaced), so an interrupted run ends with the same file as
  an uninterrupted one;
* on a fresh run, an old ``metrics.csv`` in the folder is replaced, with a warning;
* each flush rewrites the whole file atomically (a temporary file renamed over it), so a run killed
  while writing leaves the rows of the previous flush, never a cut row.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Optional, cast

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from flexconv.atomic import atomic_open

log = logging.getLogger(__name__)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows) of a metrics.csv; ([], []) when there is none."""
    if not path.is_file():
        return [], []
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


class _HistoryWriter(ExperimentWriter):
    """Lightning's writer, without its delete-on-start, that seeds the file before the first row and
    rewrites the whole file through a temporary one (:func:`flexconv.atomic.atomic_open`) instead of
    appending: a kill mid-write leaves the previous file, never half a row."""

    def __init__(self, log_dir: str, history: Optional[Path]) -> None:
        self.history = history
        self.started = False
        self.rows: list[dict[str, Any]] = []  # every row of the file, as written
        super().__init__(log_dir=log_dir)

    def _check_log_dir_exists(self) -> None:  # lightning_internals.CSV_START_HOOK
        """Lightning warns and deletes metrics.csv here; the first row decides instead (``_start``)."""

    def _start(self, first_step: int) -> None:
        target = Path(self.metrics_file_path)
        header, rows = read_rows(self.history) if self.history is not None else ([], [])
        if not header:
            if target.is_file():
                log.warning("%s exists from an earlier run in this folder: replaced", target)
                target.unlink()
            return
        self.rows = [row for row in rows if int(row["step"]) < first_step]
        self.metrics_keys = sorted(header)
        self._write()

    def log_metrics(self, metrics_dict: dict[str, float], step: Optional[int] = None) -> None:
        if not self.started:
            self.started = True
            self._start(step if step is not None else 0)
        super().log_metrics(metrics_dict, step)

    def save(self) -> None:
        if not self.metrics:
            return
        self._record_new_keys()
        self.rows.extend(self.metrics)
        self.metrics = []
        self._write()

    def _write(self) -> None:
        with atomic_open(self.metrics_file_path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(self.rows)


class RunCSVLogger(CSVLogger):
    """``<run_dir>/metrics.csv``; ``history``: the metrics.csv of the run being resumed (None for a
    fresh run)."""

    def __init__(self, run_dir: str | Path, history: Optional[Path] = None) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self.history = history

    @property
    @rank_zero_experiment
    def experiment(self) -> _HistoryWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _HistoryWriter(self.log_dir, self.history)
        return cast(_HistoryWriter, self._experiment)  # the only writer this logger creates
