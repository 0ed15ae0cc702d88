"""Experiments around the library: kernel fitting, profiling, and the results study.

Each is one command of ``flexconv`` (see :mod:`flexconv.cli`) with a ``main(argv: list[str]) -> None``
(the results study: :mod:`flexconv.cli.results`); the work itself lives in plain functions next to it
(:func:`flexconv.experiments.fit_kernel.fit`, ...), so tests and notebooks call them directly.
"""
