"""Shared set-up of the experiment tests: one intra-op thread, each test in its own folder.

The experiment tests run tiny networks; on a small shared CPU, extra intra-op threads only add
synchronisation (and, under load, OpenMP spin-waiting that makes a 10 s test take minutes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # for subprocesses (the notebook's kernel)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs, data and outputs land in the test's temporary folder."""
    monkeypatch.chdir(tmp_path)
