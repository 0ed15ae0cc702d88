"""Checkpoints and records are written whole or not at all: a process killed in the middle of a large
``torch.save`` and a full disk both leave the previous file readable, and the error names the path."""

from __future__ import annotations

import errno
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from flexconv.atomic import TEMPORARY_SUFFIX, atomic_open, write_text
from flexconv.train.checkpoints import AtomicCheckpointIO

SAVE_TWICE = """
import sys
import torch
from flexconv.train.checkpoints import AtomicCheckpointIO

io = AtomicCheckpointIO()
io.save_checkpoint({{"global_step": 1, "weight": torch.arange(4.0)}}, {path!r})
print("first saved", flush=True)
io.save_checkpoint({{"global_step": 2, "weight": torch.ones(48 * 2**20)}}, {path!r})  # 192 MB, killed while written
"""


def sizes(folder: Path) -> list[int]:
    """The sizes of the files in ``folder`` now (a file may vanish while they are read)."""
    found = []
    for path in folder.iterdir():
        try:
            found.append(path.stat().st_size)
        except FileNotFoundError:
            pass
    return found


def temporaries(folder: Path) -> list[Path]:
    return sorted(folder.glob(f".*{TEMPORARY_SUFFIX}"))


def test_a_process_killed_in_the_middle_of_a_save_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    process = subprocess.Popen(
        [sys.executable, "-c", SAVE_TWICE.format(path=str(path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "first saved", process.stderr.read()
    deadline = time.monotonic() + 120
    while not any(size > 2**20 for size in sizes(tmp_path)):  # the large save is being written (the first is 2 kB)
        assert process.poll() is None and time.monotonic() < deadline, "the second save ended before it could be killed"
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)

    assert process.returncode == -signal.SIGKILL
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 1 and torch.equal(checkpoint["weight"], torch.arange(4.0))
    assert temporaries(tmp_path), "the killed save wrote somewhere else than its temporary file"


def test_a_full_disk_leaves_the_previous_checkpoint_and_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoints" / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1}, path)

    def disk_full(obj: object, file) -> None:  # torch.save writing part of the file, then ENOSPC
        file.write(b"\0" * 4096)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match=r"could not write .*last\.ckpt \(No space left on device\)") as raised:
        io.save_checkpoint({"global_step": 2}, path)
    monkeypatch.undo()

    assert raised.value.errno == errno.ENOSPC and str(path) in str(raised.value)
    assert torch.load(path, weights_only=True) == {"global_step": 1}
    assert temporaries(path.parent) == []  # the partial file is removed


def test_an_error_while_writing_keeps_the_previous_text_and_a_finished_write_replaces_it(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_text(path, "old")
    with pytest.raises(KeyError):
        with atomic_open(path, "w") as file:
            file.write("half of the new")
            raise KeyError("interrupted")
    assert path.read_text() == "old" and temporaries(tmp_path) == []
    write_text(path, "new")
    assert path.read_text() == "new" and temporaries(tmp_path) == []


def test_only_whole_file_writes_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode must be 'w' or 'wb', got 'a'"):
        with atomic_open(tmp_path / "metrics.csv", "a"):
            pass
