"""The results page (``flexconv bench results``, ``docs/results.md``): studies of the paper's claims, a thin pipeline.

- sweep (:mod:`.sweep`): run each study's rows (presets plus overrides) with several seeds through
  :func:`flexconv.train.commands.train`, reusing finished row/seeds and resuming interrupted ones;
- collect (:mod:`.table`): the table of finished row/seeds, from run folders and committed records under one
  schema (``schema_version``);
- judge (:mod:`.judge`): each claim is a pure function of its study's rows returning a :class:`.judge.Verdict`
  (holds / does not hold / inconclusive / not tested yet, with its test, t, p, difference and seeds);
- render (:mod:`.render`): ``results.md`` and ``results.json``, each written once.

What a study is: :mod:`.study`; the studies: :mod:`.studies`, :mod:`.synthetic`, :mod:`.timeseries`; the
command: :mod:`flexconv.cli.results`.
"""
