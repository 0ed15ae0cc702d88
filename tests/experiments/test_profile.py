"""flexconv profile: a few profiled training steps of a registered model, a table and a Chrome trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flexconv.cli.profile import main
from flexconv.experiments.profile import profile_model


def test_profile_writes_table_and_trace(tmp_path: Path) -> None:
    result = profile_model("flexnet3", batch=2, resolution=8, steps=1, warmup=0, out=tmp_path)
    assert result["input_shape"] == (2, 1, 8, 8) and result["params"] > 0
    table = (tmp_path / "profile.txt").read_text()
    assert "Self CPU" in table and "training_step" in table
    trace = json.loads((tmp_path / "trace.json").read_text())
    assert trace["traceEvents"]


def test_profile_command_on_a_sequence_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main(
        [
            "--model",
            "flextcn4_conv3",
            "--batch",
            "2",
            "--length",
            "16",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--device",
            "cpu",
            "--rows",
            "5",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert "(2, 1, 16)" in out and "profile.txt" in out
    assert (tmp_path / "trace.json").is_file()


def test_profile_rejects_unknown_models(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown model"):
        main(["--model", "nope", "--out", str(tmp_path)])
