"""Files written whole or not at all: checkpoints (runs' and releases'), ``config.yaml``, ``summary.json``,
``metrics.csv``, cross-resolution results and the results study's records.

:func:`atomic_open` writes into a temporary file in the target's folder, flushes it to the disk
(``fsync``) and renames it over the target (``os.replace``, atomic within one file system), then
syncs the folder so that the rename itself survives a power loss. A process killed mid-write
(SIGKILL, a preempted job) leaves the previous file as it was; a write that fails (a full disk)
removes its temporary file and raises :class:`OSError` naming the target. Temporary files are
named ``.<name>.<8 hex digits>.tmp``: one left behind by a SIGKILL is never read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"


def temporary_path(path: Path) -> Path:
    """A fresh name next to ``path`` for the file that will replace it."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")


def _sync_folder(folder: Path) -> None:
    """fsync ``folder`` (where the platform can open folders), so that a rename in it is on the disk."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **options: Any) -> Iterator[IO[Any]]:
    """A new file to write in ``mode`` ("wb" or "w", with ``open``'s ``options``) that becomes ``path``
    when the block ends without an error; on an error ``path`` is left as it was."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    temporary = temporary_path(path)
    try:
        with open(temporary, mode.replace("w", "x"), **options) as file:  # "x": created, mode 0o666 & ~umask
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            reason = error.strerror or str(error)
            raise OSError(
                error.errno, f"could not write {path} ({reason}); the previous file, if any, is unchanged"
            ) from error
        raise
    _sync_folder(path.parent)


def write_text(path: str | Path, text: str) -> None:
    """``Path(path).write_text(text)``, atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "w", encoding="utf-8") as file:
        file.write(text)
