"""Run folders that two runs never share.

:func:`new_run_dir` creates ``<parent>/<stamp>`` atomically with ``os.mkdir``; when another run
created that name first (two runs started in the same second), it takes ``<stamp>-1``, ``-2``, ...
:class:`RunLock` marks a folder as owned by a live process: ``<run_dir>/.lock`` holds the owner's
PID and host. A second run that is given the same folder (an explicit ``run_dir=`` or
``resume=``) while the owner is alive is refused with :class:`RunDirInUseError`; a lock left by a
process that no longer exists (a killed run) is taken over, so resuming after a kill works.
:func:`resolve_run_dir` picks a run's folder from its config (``run_dir=``, ``resume=`` or a new one).
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import Any, Optional, cast

from omegaconf import DictConfig, OmegaConf

from flexconv.train.checkpoints import read_checkpoint

LOCK_NAME = ".lock"
CHECKPOINTS = "checkpoints"  # a run folder's subfolder of Lightning checkpoints (last.ckpt, best.ckpt)
RUN_DIR_ENV = "FLEXCONV_RUN_DIR"  # lets DDP worker processes write into rank 0's run folder
RANK_VARIABLES = ("RANK", "GROUP_RANK", "SLURM_PROCID", "NODE_RANK", "LOCAL_RANK")
"""What launchers set in each process (torchrun: the first two; srun; Lightning's own launcher: the last two)."""


def is_first_process() -> bool:
    """Whether this process is the global rank 0 of a distributed run (or the only process), as its
    launcher's environment says, before any process group exists: the first node's first process."""
    return all(os.environ.get(name, "0") == "0" for name in RANK_VARIABLES)


class RunDirInUseError(RuntimeError):
    """The run folder belongs to another run that is still running."""


def new_run_dir(parent: Path, stamp: Optional[str] = None) -> Path:
    """Create and return a fresh folder ``parent/stamp`` (``stamp`` defaults to the current time,
    ``YYYYmmdd-HHMMSS``), adding ``-1``, ``-2``, ... until the name is free."""
    stamp = stamp or dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    parent.mkdir(parents=True, exist_ok=True)
    name, suffix = stamp, 0
    while True:
        candidate = parent / name
        try:
            os.mkdir(candidate)
            return candidate
        except FileExistsError:
            suffix += 1
            name = f"{stamp}-{suffix}"


def clear_stale_checkpoints(run_dir: Path) -> list[Path]:
    """Delete the ``*.ckpt`` files an earlier run left in ``run_dir/checkpoints`` before a new run starts
    there from scratch; returns them. Left in place, a new run stopped before its first checkpoint would
    leave its own ``config.yaml`` beside the earlier run's ``last.ckpt``, which a later resume of the
    new config would then load."""
    stale = sorted((run_dir / CHECKPOINTS).glob("*.ckpt"))
    for path in stale:
        path.unlink()
    return stale


def same_config(saved: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a saved resolved config is ``wanted``, ``resume`` aside (where a run continues from is not what it
    computes). Plain equality: a config missing a key is another config."""
    return {**saved, "resume": None} == {**wanted, "resume": None}


def saved_config_matches(run_dir: Path, cfg: DictConfig, name: str = "config.yaml") -> bool:
    """Whether the config a run saved in ``run_dir/name`` is ``cfg`` (see :func:`same_config`)."""
    saved_path = run_dir / name
    if not saved_path.is_file():
        return False
    saved = cast("dict[str, Any]", OmegaConf.to_container(OmegaConf.load(saved_path), resolve=True))
    return same_config(saved, cast("dict[str, Any]", OmegaConf.to_container(cfg, resolve=True)))


def _alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM  # exists, owned by another user
    return True


class RunLock:
    """``<run_dir>/.lock`` while a run writes into ``run_dir``; a context manager.

    acquire() raises :class:`RunDirInUseError` when a live process on this host holds the lock.
    A lock written on another host is respected too (its liveness cannot be checked).
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.owner = f"{os.getpid()} {socket.gethostname()}"

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):  # the second try follows the removal of a stale lock
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                self._check_holder()
                continue
            with os.fdopen(descriptor, "w") as file:
                file.write(self.owner + "\n")
            return
        raise RunDirInUseError(
            f"run folder {self.path.parent} is being claimed by another run at the same moment; choose another run_dir"
        )

    def _check_holder(self) -> None:
        """Raise if the lock's holder is alive; remove the lock if its holder is gone."""
        try:
            pid_text, _, host = self.path.read_text().strip().partition(" ")
            pid = int(pid_text)
        except (OSError, ValueError):
            return  # being written right now, or vanished: the next try decides
        if host == socket.gethostname() and not _alive(pid):
            self.path.unlink(missing_ok=True)
            return
        raise RunDirInUseError(
            f"run folder {self.path.parent} is in use by another run (PID {pid} on {host}); "
            "wait for it to finish, or give this run another run_dir"
        )

    def release(self) -> None:
        try:
            if self.path.read_text().strip() == self.owner:
                self.path.unlink()
        except OSError:
            pass

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, kind: Optional[type], error: Optional[BaseException], trace: Optional[TracebackType]) -> None:
        self.release()


def resume_checkpoint(cfg: DictConfig) -> Optional[Path]:
    """The checkpoint that ``cfg.resume`` names (a file, or a run folder's checkpoints/last.ckpt),
    checked to be a readable flexconv checkpoint with loop state; None without ``resume``."""
    if cfg.resume is None:
        return None
    resume = Path(cfg.resume)
    ckpt_path = resume / CHECKPOINTS / "last.ckpt" if resume.is_dir() else resume
    read_checkpoint(ckpt_path, for_resume=True)
    return ckpt_path


def resolve_run_dir(cfg: DictConfig) -> tuple[Path, Optional[Path]]:
    """(run folder, checkpoint to resume from or None). Without ``run_dir`` or ``resume``, a new
    folder ``runs/<experiment_name>/<timestamp>[-n]`` is created (atomically: never shared)."""
    ckpt_path = resume_checkpoint(cfg)
    run_dir = cfg.run_dir
    if run_dir is None and ckpt_path is not None:
        run_dir = ckpt_path.parent.parent
    if run_dir is None and not is_first_process():
        run_dir = os.environ.get(RUN_DIR_ENV)  # set by the first process when Lightning launched this one
        if run_dir is None:
            raise ValueError(
                "this process is not the first of a distributed run (torchrun, srun) and no run_dir "
                "is given: pass run_dir=<a folder every node sees>, the same in every process"
            )
    if run_dir is None:
        run_dir = new_run_dir(Path("runs") / cfg.experiment_name)
    return Path(run_dir), ckpt_path
