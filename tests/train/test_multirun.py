"""``flexconv train -m``: Hydra's multirun with the basic, joblib and submitit launchers and the Optuna sweeper."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest
import yaml
from conftest import tiny_overrides

from flexconv.cli.multirun import SweepResult, launch
from flexconv.cli.train import train_main
from flexconv.train.validate import ConfigError


def sweep_overrides(*extra: str) -> list[str]:
    """The tiny main_job of the training tests, without a fixed run folder (each job makes its own)."""
    return [o for o in tiny_overrides(Path("unused")) if not o.startswith("run_dir=")] + list(extra)


def finished_runs() -> list[tuple[Path, dict, dict]]:
    """(run folder, resolved config, summary) of every run under runs/main_job, in start order."""
    runs = []
    for run_dir in sorted(Path("runs/main_job").iterdir()):
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        summary = json.loads((run_dir / "summary.json").read_text())
        runs.append((run_dir, config, summary))
    return runs


def test_basic_launcher_trains_one_run_per_value() -> None:
    train_main(["-m", *sweep_overrides("seed=0,1")])
    runs = finished_runs()
    assert sorted(config["seed"] for _, config, _ in runs) == [0, 1]
    assert all(summary["test_acc"] is not None for _, _, summary in runs)
    # Hydra's own record of the sweep sits apart from the run folders.
    (sweep,) = Path("runs/multirun").iterdir()
    assert {p.name for p in sweep.iterdir() if p.is_dir()} == {"0", "1"}


@pytest.mark.slow
def test_joblib_launcher_runs_two_jobs_at_the_same_time() -> None:
    train_main(["-m", *sweep_overrides("seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")])
    runs = finished_runs()
    assert sorted(config["seed"] for _, config, _ in runs) == [0, 1]
    # A run folder is named by its start second; summary.json is written at its end: the runs overlap.
    starts = [run_dir.name for run_dir, _, _ in runs]
    ends = [(run_dir / "summary.json").stat().st_mtime for run_dir, _, _ in runs]
    start_seconds = [datetime.strptime(s[:15], "%Y%m%d-%H%M%S").timestamp() for s in starts]
    assert max(start_seconds) <= min(ends), f"the jobs ran one after the other: starts {starts}, ends {ends}"


@pytest.mark.slow
def test_submitit_local_launcher_runs_the_job_in_its_own_process() -> None:
    train_main(["-m", *sweep_overrides("seed=3", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10")])
    ((_, config, summary),) = finished_runs()
    assert config["seed"] == 3 and summary["test_acc"] is not None
    (sweep,) = Path("runs/multirun").iterdir()
    assert list((sweep / ".submitit").rglob("*_result.pkl")), "submitit did not run the job"


@pytest.mark.slow
def test_optuna_sweeper_maximises_the_validation_accuracy() -> None:
    train_main(
        [
            "-m",
            *sweep_overrides(
                "hydra/sweeper=optuna",
                "hydra.sweeper.n_trials=2",
                "hydra.sweeper.direction=maximize",
                "hydra.sweeper.sampler.seed=0",
                "optim.lr=tag(log, interval(1e-4, 1e-2))",
                "trainer.max_steps=4",  # a whole epoch (64 examples, batch 16): the validation runs
            ),
        ]
    )
    runs = finished_runs()
    assert len(runs) == 2 and len({config["optim"]["lr"] for _, config, _ in runs}) == 2
    (sweep,) = Path("runs/multirun").iterdir()
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(summary["val_acc"] for _, _, summary in runs)


def test_a_sweep_result_without_validation_accuracy_names_the_fix() -> None:
    assert float(SweepResult(val_acc=0.25, test_acc=0.5)) == 0.25
    with pytest.raises(ConfigError, match="data.val_fraction"):
        float(SweepResult(val_acc=None, test_acc=0.5))


def note_pid_and_wait_for_the_other(folder: Path, cfg: object) -> None:
    """A job: write this process's id to ``<folder>/seed<S>``, then wait (at most 60 s) for the other seed's."""
    (folder / f"seed{cfg.seed}").write_text(str(os.getpid()))  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while len(list(folder.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)


def note_cwd(folder: Path, cfg: object) -> None:
    """A job: write the folder it runs in to ``<folder>/seed<S>``."""
    (folder / f"seed{cfg.seed}").write_text(os.getcwd())  # type: ignore[attr-defined]


def test_launch_runs_a_library_job_in_joblib_worker_processes_and_keeps_hydras_files_out_of_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    launch(["seed=0,1"], partial(note_pid_and_wait_for_the_other, pids), jobs=2)
    seen = {path.name: int(path.read_text()) for path in pids.iterdir()}
    assert set(seen) == {"seed0", "seed1"}
    assert len(set(seen.values())) == 2 and os.getpid() not in seen.values(), "not two worker processes at once"
    assert [path.name for path in tmp_path.iterdir()] == ["pids"]  # no runs/multirun, outputs/ or .hydra here
    # Launched from another folder, the jobs run there, also in worker processes that joblib reuses.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    cwds = tmp_path / "cwds"
    cwds.mkdir()
    launch(["seed=0,1"], partial(note_cwd, cwds), jobs=2)
    assert {path.read_text() for path in cwds.iterdir()} == {str(tmp_path / "elsewhere")}
