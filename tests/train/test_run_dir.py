"""Two runs never share a run folder: atomic timestamped folders, and a lock while a run writes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import tiny_overrides

from flexconv.train import run_dir as run_dir_module
from flexconv.train.commands import train
from flexconv.train.config import compose_config
from flexconv.train.run_dir import LOCK_NAME, RunDirInUseError, RunLock, new_run_dir, resolve_run_dir


def test_runs_started_in_the_same_second_get_their_own_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    class FrozenClock:
        class datetime:
            @staticmethod
            def now():
                import datetime

                return datetime.datetime(2026, 1, 1, 12, 0, 0)

    monkeypatch.setattr(run_dir_module, "dt", FrozenClock)
    cfg = compose_config(["experiment=main_job"])
    first, _ = resolve_run_dir(cfg)
    second, _ = resolve_run_dir(cfg)
    assert first != second
    assert first.is_dir() and second.is_dir()  # claimed when named, so a third run cannot pick either
    assert first.name == "20260101-120000" and second.name == "20260101-120000-1"


def test_concurrent_claims_of_one_stamp_never_collide(tmp_path: Path) -> None:
    claimed: list[Path] = []
    threads = [threading.Thread(target=lambda: claimed.append(new_run_dir(tmp_path, "stamp"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(claimed)) == 8


def test_a_run_folder_of_a_live_run_is_refused(tmp_path: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run = tmp_path / "run"
        run.mkdir()
        (run / LOCK_NAME).write_text(f"{owner.pid} {RunLock(run).owner.split(' ', 1)[1]}\n")
        with pytest.raises(RunDirInUseError, match=rf"(?s){run}.*in use by another run \(PID {owner.pid}"):
            train(compose_config(tiny_overrides(run)))
        assert not (run / "config.yaml").exists() and not (run / "checkpoints").exists()
    finally:
        owner.kill()
        owner.wait()


def test_the_lock_of_a_dead_run_is_taken_over_and_released(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = RunLock(tmp_path)
    (tmp_path / LOCK_NAME).write_text(f"{dead.pid} {lock.owner.split(' ', 1)[1]}\n")
    with lock:
        assert (tmp_path / LOCK_NAME).read_text().strip() == lock.owner
        with pytest.raises(RunDirInUseError, match="in use by another run"):
            RunLock(tmp_path).acquire()  # the same folder claimed twice while the first holds it
    assert not (tmp_path / LOCK_NAME).exists()


@pytest.mark.parametrize(
    "variables, first",
    [
        ({}, True),
        ({"LOCAL_RANK": "0", "NODE_RANK": "0"}, True),
        ({"RANK": "0", "GROUP_RANK": "0", "LOCAL_RANK": "0"}, True),
        ({"LOCAL_RANK": "1"}, False),  # Lightning's second process on a node
        ({"RANK": "1", "GROUP_RANK": "1", "LOCAL_RANK": "0"}, False),  # torchrun: the first process of node 1
        ({"SLURM_PROCID": "4", "LOCAL_RANK": "0"}, False),  # srun: a task of another node
        ({"NODE_RANK": "1"}, False),  # Lightning's launcher started by hand on node 1
    ],
)
def test_only_the_first_process_of_the_first_node_is_first(
    variables: dict[str, str], first: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in run_dir_module.RANK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert run_dir_module.is_first_process() is first


def test_another_nodes_process_without_a_run_dir_is_told_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*run_dir_module.RANK_VARIABLES, run_dir_module.RUN_DIR_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(ValueError, match=r"pass run_dir=<a folder every node sees>"):
        resolve_run_dir(compose_config(["experiment=main_job"]))


def test_a_saved_config_is_the_same_config_only_with_every_key_equal() -> None:
    """``resume`` aside, a saved config matches only itself: a key missing on one side (no default is filled in)
    makes it another config."""
    from flexconv.train.run_dir import same_config

    saved = {"model": {"name": "m"}, "trainer": {"max_epochs": 1}, "compile": False, "seed": 0, "resume": None}
    assert same_config(saved, {**saved, "resume": "runs/x"})
    assert not same_config({k: v for k, v in saved.items() if k != "compile"}, saved)
    assert not same_config(saved, {**saved, "trainer": {"max_epochs": 1, "sync_batchnorm": True}})
