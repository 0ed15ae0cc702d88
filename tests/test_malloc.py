"""flexconv.malloc: after keep_freed_memory(), training steps reuse memory instead of page-faulting it in."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHILD = """
import resource, sys, torch
from flexconv.malloc import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
from flexconv.models.registry import get_model
torch.manual_seed(0)
model = get_model("flextcn", num_blocks=2)
x, y = torch.randn(32, 1, 784), torch.randint(0, 10, (32,))
optimizer = torch.optim.Adam(model.parameters())
def step():
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> int:
    """Minor page faults of five FlexTCN training steps (after two warm-up steps) in a fresh process."""
    from flexconv.malloc import TORCH_HUGE_PAGES

    # Not inherited: an earlier in-process `flexconv` command (keep_freed_memory) sets it in this process.
    env = {key: value for key, value in os.environ.items() if key != TORCH_HUGE_PAGES}
    out = subprocess.run([sys.executable, "-c", CHILD, mode], check=True, capture_output=True, text=True, env=env)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_training_steps_reuse_freed_memory():
    tuned, default = page_faults("tuned"), page_faults("default")
    assert 4 * tuned < default, (tuned, default)  # measured: about 5,000 against 55,000


def test_torch_huge_pages_are_requested_unless_the_user_chose(monkeypatch):
    from flexconv.malloc import TORCH_HUGE_PAGES, keep_freed_memory

    monkeypatch.delenv(TORCH_HUGE_PAGES, raising=False)
    keep_freed_memory()
    assert os.environ[TORCH_HUGE_PAGES] == "1"
    monkeypatch.setenv(TORCH_HUGE_PAGES, "0")
    keep_freed_memory()
    assert os.environ[TORCH_HUGE_PAGES] == "0"
