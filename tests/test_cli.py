"""The flexconv command: every sub-command answers --help; list; a dry run prints the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from flexconv.cli import COMMANDS
from flexconv.cli import main as cli


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("flag", ["--help", "-h"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_answers_help(command: str, flag: str, capsys: pytest.CaptureFixture) -> None:
    try:
        cli([command, flag])
    except SystemExit as done:  # argparse exits 0 after printing its help
        assert done.code in (0, None)
    assert "usage" in capsys.readouterr().out.lower()
    assert not Path("runs").exists()


def test_help_after_overrides_and_the_top_level_help(capsys: pytest.CaptureFixture) -> None:
    cli(["crossres", "experiment=fashion_crossres_14_28", "--help"])
    assert "cross-resolution" in capsys.readouterr().out
    cli(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


@pytest.mark.parametrize("flags", [["--dry-run"], ["--cfg", "job"]])
def test_train_dry_run_prints_the_resolved_config_and_trains_nothing(
    flags: list[str], capsys: pytest.CaptureFixture
) -> None:
    cli(["train", "experiment=main_job", "trainer.max_epochs=3", *flags])
    out = capsys.readouterr().out
    assert "experiment_name: main_job" in out and "max_epochs: 3" in out and "name: flextcn4" in out
    assert not Path("runs").exists()


def test_crossres_dry_run(capsys: pytest.CaptureFixture) -> None:
    cli(["crossres", "experiment=fashion_crossres_14_28", "--cfg", "job"])
    assert "finetune_epochs" in capsys.readouterr().out
    assert not Path("runs").exists()


def test_unknown_option_is_named() -> None:
    with pytest.raises(SystemExit, match="unknown option '--dryrun'"):
        cli(["train", "experiment=main_job", "--dryrun"])


@pytest.mark.parametrize(
    "kind, name, words",
    [
        ("experiments", "cifar10_flexnet7", "Paper Table 2"),
        ("models", "flexnet7", "671,650 parameters"),
        ("datasets", "mnist1d", "sequence, input 1x40, 10 classes, offline"),
    ],
)
def test_list(kind: str, name: str, words: str, capsys: pytest.CaptureFixture) -> None:
    cli(["list", kind])
    lines = capsys.readouterr().out.splitlines()
    line = next(line for line in lines if line.split()[0] == name)
    assert words in line
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # every entry has a description
