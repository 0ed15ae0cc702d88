"""Experiments around the library: kernel fitting, profiling, and the results study.

Each module is one command of ``flexconv`` (see :mod:`flexconv.cli`) and exposes
``main(argv: list[str]) -> None``; the work itself lives in plain functions next to it
(:func:`flexconv.experiments.fit_kernel.fit`, ...), so tests and notebooks call them directly.
"""
