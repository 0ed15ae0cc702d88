"""Reuse freed memory between training steps instead of page-faulting fresh memory in at every step.

A training step allocates and frees the same large activations and spectra every time. glibc's
``malloc`` gives blocks above its mmap threshold back to the operating system when they are freed,
and the next allocation of that size gets fresh pages that the kernel must zero on first touch, one
page fault per 4 KiB. Measured on FlexTCN-6 (batch 64, 2-core CPU): 20,000-60,000 minor page faults
a step at 784 steps (about 9 % of its CPU time), and 16.8 million at 16,000 steps, where zeroing
64 GB of pages took most of a 90-second step.

:func:`keep_freed_memory` does two things, for the rest of the process:

* raises glibc's mmap threshold to its maximum (32 MiB) and never trims the heap, so blocks up to
  32 MiB are reused from the heap: none to a tenth of those page faults (tests/test_malloc.py);
* sets ``THP_MEM_ALLOC_ENABLE=1``, which makes torch allocate tensors of 2 MiB and more on
  transparent huge pages (where the kernel allows them on request): larger blocks are still mapped
  afresh, but with one page fault per 2 MiB. torch reads the variable at its first allocation, so
  this part takes effect only if torch was not imported yet.

The resident memory then stays at its peak between steps; the peak itself does not grow (the
16,000-step FlexTCN-6 step: 6.5-6.8 GB either way). The ``flexconv`` command and the benchmark
scripts call this before importing torch; library code never does (it is a process-wide setting).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc malloc.h)
_M_MMAP_THRESHOLD = -3
_MAX_MMAP_THRESHOLD = 32 * 2**20  # glibc's ceiling on 64-bit systems
_NO_TRIM = 2**31 - 1
TORCH_HUGE_PAGES = "THP_MEM_ALLOC_ENABLE"


def keep_freed_memory() -> bool:
    """Tune the allocators as described above; False where glibc's mallopt is absent (then only the
    huge-page variable is set). A variable the user set already is left as it is."""
    os.environ.setdefault(TORCH_HUGE_PAGES, "1")
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _NO_TRIM))
