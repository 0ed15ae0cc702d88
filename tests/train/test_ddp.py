"""DDP on CPU (gloo) takes the same steps as one process: 2 processes at batch B/2 end with the weights of
1 process at batch B (float64), for a FlexTCN (2 processes launched by Lightning) and a FlexNet with
synchronised BatchNorm (2 nodes of 1 process each, launched by torchrun as on a cluster). That holds only
if the gradients are averaged over the processes, the sampler gives each process its half of the same
batch, BatchNorm normalises by the global batch and every process crops its kernels alike.

A run that does not finish in time fails (its output is shown); the tests skip only without gloo.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from conftest import tiny_overrides

from flexconv.data.fake import make_fake_tree
from flexconv.train.commands import train
from flexconv.train.config import compose_config

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo is not available"
)

TIMEOUT_S = 400  # generous: a shared CPU may be busy; a run past it fails the test
EXACT = ["trainer.precision=64-true", "model.dropout=0", "trainer.max_steps=3"]  # float64, no random masks
CLI = [sys.executable, "-m", "flexconv.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], log: Path, **env: str) -> subprocess.Popen:
    """``command`` running in ``log``'s folder, its output going to ``log``."""
    with log.open("w") as out:
        return subprocess.Popen(
            command, cwd=log.parent, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )


def finish(processes: dict[Path, subprocess.Popen], what: str) -> None:
    """Waits until every process has ended; fails the test (with the output) as soon as one fails or
    when the time is out, and stops the others."""
    deadline = time.monotonic() + TIMEOUT_S
    while any(process.poll() is None for process in processes.values()):
        failed = [log for log, process in processes.items() if process.poll() not in (None, 0)]
        if failed or time.monotonic() > deadline:
            for process in processes.values():
                process.kill()
                process.wait()
            log = failed[0] if failed else next(iter(processes))
            reason = "failed" if failed else f"did not finish in {TIMEOUT_S} s"
            pytest.fail(f"{what} {reason}; {log.name}:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    for log, process in processes.items():
        assert process.returncode == 0, f"{what} failed; {log.name}:\n{log.read_text()[-3000:]}"


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 3
    return checkpoint["state_dict"]


def assert_same_weights(one: dict[str, torch.Tensor], two: dict[str, torch.Tensor]) -> None:
    """Parameters and BatchNorm statistics equal within 1e-5 (float64); one differing key fails with its gap.

    Most keys agree to 1e-12. The biases of convolutions followed by BatchNorm have a gradient of zero
    up to rounding, which Adam divides by its own tiny scale: they move by rounding noise (up to 2e-8
    here after 3 steps) in either run. A wrong average or sampler moves every weight by about the
    learning rate (3e-3).
    """
    assert one.keys() == two.keys()
    for key in one:
        assert one[key].dtype == two[key].dtype, key
        gap = (one[key].double() - two[key].double()).abs().max().item() if one[key].numel() else 0.0
        assert gap < 1e-5, f"{key}: 1 process and 2 processes differ by {gap:.3g}"


def test_two_processes_at_half_the_batch_train_a_flextcn_as_one_process(tmp_path: Path) -> None:
    train(compose_config(tiny_overrides(tmp_path / "one", *EXACT, "test=false")))

    overrides = tiny_overrides(
        tmp_path / "two",
        *EXACT,
        "data.batch_size=8",
        "trainer.strategy=ddp",
        "trainer.devices=2",
        "trainer.accelerator=cpu",
    )
    log = tmp_path / "ddp.log"
    finish(
        {log: start([*CLI, "train", *overrides], log, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))},
        "flexconv train with trainer.strategy=ddp trainer.devices=2",
    )

    assert "test_acc" in log.read_text()
    assert_same_weights(weights(tmp_path / "one"), weights(tmp_path / "two"))


def test_two_nodes_at_half_the_batch_train_a_flexnet_with_batch_norm_as_one_process(tmp_path: Path) -> None:
    root = make_fake_tree("fashion_mnist", tmp_path / "data", n_train=48, n_test=4)
    flexnet = [
        "model=flexnet3",
        "data=fashion_mnist",
        f"data.root={root}",
        "data.val_fraction=0",
        "data.limit_train=48",
        "model.conv.horizon=9",
        *EXACT,
        "test=false",
    ]
    train(compose_config(tiny_overrides(tmp_path / "one", *flexnet, "data.batch_size=16")))
    assert any("norm" in key and "running_var" in key for key in weights(tmp_path / "one"))

    overrides = tiny_overrides(
        tmp_path / "two",
        *flexnet,
        "data.batch_size=8",
        "trainer.strategy=ddp",
        "trainer.num_nodes=2",
        "trainer.devices=1",
        "trainer.accelerator=cpu",
    )
    port = str(free_port())
    nodes = {
        tmp_path / f"node{node}.log": start(
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nnodes=2",
                f"--node-rank={node}",
                "--nproc-per-node=1",
                "--master-addr=127.0.0.1",
                f"--master-port={port}",
                "-m",
                "flexconv.cli",
                "train",
                *overrides,
            ],
            tmp_path / f"node{node}.log",
        )
        for node in (0, 1)
    }
    finish(nodes, "torchrun --nnodes=2 (2 nodes of 1 process on this machine)")

    assert_same_weights(weights(tmp_path / "one"), weights(tmp_path / "two"))
