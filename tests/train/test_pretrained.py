"""Released checkpoints: they load by name and reproduce their recorded test accuracy;
``flexconv release`` writes a faithful file; unknown names list the released ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from flexconv.cli import main as cli
from flexconv.data.records import DatasetNotFoundError
from flexconv.models.pretrained import CHECKPOINT_DIR, FILE_KEYS, RELEASES, Release, list_pretrained, read_release
from flexconv.models.registry import get_model, model_from_release
from flexconv.train.checkpoints import CheckpointError, load_module
from flexconv.train.commands import evaluate, train
from flexconv.train.config import compose_config
from flexconv.train.release import release

EXPECTED = {"flextcn_mnist1d", "flextcn_uea_japanesevowels", "flexnet_fashion_mnist"}  # issue 12


def test_the_issue_releases_are_in_the_table_and_every_file_is() -> None:
    assert EXPECTED <= set(RELEASES)
    assert sorted(path.stem for path in CHECKPOINT_DIR.glob("*.pt")) == list_pretrained()


@pytest.mark.parametrize("name", sorted(RELEASES))
def test_released_checkpoint_reproduces_its_test_accuracy(name: str) -> None:
    entry = RELEASES[name]
    assert entry.path.stat().st_size < 2 * 2**20
    stored = read_release(entry.path)
    assert (
        Release(
            name=stored["name"],
            model_name=stored["model_name"],
            dataset=stored["dataset"],
            test_acc=stored["test_acc"],
            params=stored["params"],
            command=stored["command"],
        )
        == entry
    )
    assert all(t.dtype == torch.float32 for t in stored["state_dict"].values() if t.is_floating_point())
    model = get_model(name, pretrained=True)
    assert not model.training
    assert sum(p.numel() for p in model.parameters()) == entry.params
    try:
        measured = evaluate(name)["test_acc"]
    except DatasetNotFoundError as error:  # Fashion-MNIST: scripts/setup.sh installs it where it can
        pytest.skip(f"the test split of {entry.dataset} is not installed: {error}")
    assert measured == pytest.approx(entry.test_acc, abs=0.001)


def test_unknown_released_name_lists_the_released_ones() -> None:
    with pytest.raises(ValueError, match="no released checkpoint named 'nope'") as error:
        get_model("nope", pretrained=True)
    assert all(name in str(error.value) for name in EXPECTED)
    with pytest.raises(CheckpointError, match="no released checkpoint of that name") as error:
        evaluate("nope")
    assert all(name in str(error.value) for name in EXPECTED)
    with pytest.raises(ValueError, match="overrides"):
        get_model("flextcn_mnist1d", pretrained=True, dropout=0.0)


def test_release_writes_a_faithful_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = tmp_path / "runs" / "tiny"
    train(compose_config(tiny_overrides(run_dir)))
    best = run_dir / "checkpoints" / "last.ckpt"  # 2 steps, no validation: no best.ckpt
    command = "flexconv train experiment=main_job (tiny)"
    entry = release(best, "tiny", command, tmp_path / "released")

    stored = read_release(tmp_path / "released" / "tiny.pt")
    assert set(stored) == set(FILE_KEYS)  # no optimiser state, no loop state
    assert stored["run_config"]["run_dir"] is None
    assert (entry.model_name, entry.dataset, entry.command) == ("flextcn4", "mnist1d", command)
    assert entry.test_acc == stored["test_acc"] == evaluate(best)["test_acc"]
    x = torch.randn(4, 1, 40)
    with torch.no_grad():
        assert torch.equal(model_from_release(stored)(x), load_module(best).model.eval()(x))
    assert evaluate(tmp_path / "released" / "tiny.pt")["test_acc"] == entry.test_acc

    with pytest.raises(ValueError, match="flexconv train"):
        release(best, "tiny", "python train.py", tmp_path / "released")
    cli(["release", str(best), "--name", "tiny2", "--command", command, "--out-dir", str(tmp_path / "released")])
    assert "Release(name='tiny2'" in capsys.readouterr().out
