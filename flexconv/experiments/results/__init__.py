"""The results page (``flexconv bench results``, ``docs/results.md``): studies of the paper's claims.

Each study runs rows (experiment presets plus overrides) with several seeds through
:func:`flexconv.train.commands.train`; the page reports mean ± std over seeds, parameter counts,
wall time and the exact command of every row, quotes published reference points, and checks the
paper's claims against the measured numbers (every verdict sentence is generated from them).
Studies whose data is missing are listed as skipped with the reason.

- :mod:`.runner`: compose a row's config per seed, train it or reuse a finished run;
- :mod:`.report`: numbers over seeds, verdict sentences, tables, figures, the page;
- :mod:`.study`: what a study is (``Study(key, title, rows, claims, ...)``, as data);
- :mod:`.studies`, :mod:`.timeseries`: the studies of the page;
- :mod:`.command`: ``flexconv bench results``.
"""
