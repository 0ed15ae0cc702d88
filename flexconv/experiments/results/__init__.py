"""The results page (``flexconv bench results``, ``docs/results.md``), a thin pipeline: sweep (:mod:`.sweep`) runs
each study's rows (:mod:`.study`, the YAML files of ``studies/``) with every seed, collect (:mod:`.table`) reads the
finished row/seeds under one schema, judge (:mod:`.judge`, :mod:`.claims`) gives each claim's verdict with its
statistic, render (:mod:`.render`) draws the figures and writes the page and ``results.json`` once."""
