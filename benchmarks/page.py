"""Shared helpers of the benchmark scripts: marked blocks of ``docs/benchmarks.md``, timing, peak memory.

Each script owns one block between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` and rewrites
only that block, so the scripts can be re-run in any order without erasing each other's figures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

PAGE_TITLE = "# Benchmarks\n"


def write_block(docs: Path, name: str, body: str) -> None:
    """Replace the block ``name`` of ``docs`` with ``body`` (or append it), leaving the rest as it is."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}"
    text = docs.read_text() if docs.exists() else PAGE_TITLE
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), flags=re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text)


def min_times(
    fns: dict[str, Callable[[], object]], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, float]:
    """Minimum time of each function over ``repeats`` rounds, run interleaved after one warm-up each.

    Interleaving and the minimum make the comparison fair on a shared, noisy machine: every function
    sees the same load, and the minimum is the run least disturbed by other processes. ``clock``:
    wall time by default; ``time.thread_time`` (with one torch thread) counts only this process's work.
    """
    for fn in fns.values():
        fn()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            best[name] = min(best[name], clock() - start)
    return best


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_memory_mib(step: Callable[[], object]) -> float:
    """Peak resident memory reached while running ``step``, above the resident memory before it (MiB).

    Linux only: resets the process's high-water mark (``/proc/self/clear_refs``), then reads VmHWM.
    Run it in a fresh process per measurement, so that memory freed by earlier work does not hide
    the step's own needs.
    """
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    step()
    return (_status_kib("VmHWM") - before) / 1024
