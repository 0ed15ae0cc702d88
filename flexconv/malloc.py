"""Keep freed memory in the process, so that large tensors are not page-faulted in at every step.

glibc's ``malloc`` gives blocks above its mmap threshold back to the operating system when they are
freed, and the next allocation of that size gets fresh pages that the kernel must zero on first
touch. A training step allocates and frees the same large activations and spectra every time: a
FlexTCN-6 step with full-length kernels (batch 64 x 784) took 20,000-60,000 minor page faults, about
9 % of its CPU time. Raising the mmap threshold to glibc's maximum and never trimming the heap makes
later steps reuse that memory: none to a tenth of those page faults (tests/test_malloc.py).
The process's resident memory then stays at its peak instead of shrinking between steps; the peak
itself does not change. The ``flexconv`` command and the benchmarks call this once at start-up;
library code never does (it is a process-wide setting).
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc malloc.h)
_M_MMAP_THRESHOLD = -3
_MAX_MMAP_THRESHOLD = 32 * 2**20  # glibc's ceiling on 64-bit systems
_NO_TRIM = 2**31 - 1


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as described above; False (and nothing changed) where glibc is absent."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _NO_TRIM))
