"""``flexconv bench results``: sweep the studies, collect the table, judge the claims, render the page.

    flexconv bench results [--fast] [--studies mnist1d,fit_kernel] [--seeds 3] [--out docs]

Trains the rows of every study of :data:`~flexconv.experiments.results.study.STUDIES` (or of those named)
that no record holds, then writes ``<out>/results.md`` and ``<out>/results.json`` (every table row's metric and
every claim's verdict, test and statistic) once, from the table of all finished row/seeds: the run folders and
the committed records. With ``--studies``, the other studies are tabulated from what has finished, as with
``--finished-only``, which trains nothing; ``--rows a,b`` trains only those rows of the named studies.

``--fast`` shrinks every study (one seed, a few hundred samples, one epoch; all of it runs in a
few minutes on 2 CPU cores) and checks the pipeline, not the paper: its numbers are noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from flexconv.atomic import write_text
from flexconv.experiments.results.render import page, results_json
from flexconv.experiments.results.study import STUDIES, run_study
from flexconv.experiments.results.sweep import Context


def parse_studies(text: Optional[str]) -> list[str]:
    """The study keys of ``--studies`` (all without it); an unknown key exits naming the known ones."""
    if not text:
        return list(STUDIES)
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in STUDIES]
    if unknown:
        raise SystemExit(f"bench results: unknown studies {unknown}; known: {', '.join(STUDIES)}")
    return keys


def parse_context(argv: Sequence[str]) -> tuple[Context, Optional[str]]:
    """(the invocation's context, the ``--studies`` text) from the command line."""
    parser = argparse.ArgumentParser(prog="flexconv bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", choices=["results"], help="what to run (the results page)")
    parser.add_argument("--fast", action="store_true", help="tiny settings, one seed: checks the pipeline in minutes")
    parser.add_argument("--studies", help="comma-separated subset of: " + ", ".join(STUDIES))
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 3, 1 with --fast)")
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder of results.md and figures/")
    parser.add_argument("--runs", type=Path, default=Path("runs/results"), help="folder of the training runs")
    parser.add_argument("--data-root", help="dataset folder, passed to every run as data.root=...")
    parser.add_argument(
        "--finished-only",
        action="store_true",
        help="train nothing: tabulate only the rows and seeds that already finished (a partial page)",
    )
    parser.add_argument(
        "--rows",
        help="comma-separated row keys of the named studies: train only these rows; the others "
        "are tabulated as with --finished-only",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="a row's seeds trained at once, each in its own process (Hydra's joblib launcher)",
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="[STUDY:]KEY=VALUE",
        help="extra training override for every row (or only STUDY's rows); quoted in each row's command",
    )
    args = parser.parse_args(list(argv))
    seeds = list(range(args.seeds if args.seeds is not None else (1 if args.fast else 3)))
    if not seeds:
        raise SystemExit("bench results: --seeds must be >= 1")
    extra = [f"data.root={args.data_root}"] if args.data_root else []
    study_extra: dict[str, tuple[str, ...]] = {}
    for override in args.override:
        study, sep, rest = override.partition(":")
        if sep and "=" not in study:
            if study not in STUDIES:
                raise SystemExit(f"bench results: --override {override!r} names unknown study {study!r}")
            study_extra[study] = (*study_extra.get(study, ()), rest)
        else:
            extra.append(override)
    ctx = Context(
        fast=args.fast,
        seeds=seeds,
        out=args.out,
        runs=args.runs,
        extra=tuple(extra),
        study_extra=study_extra,
        invocation=" ".join(["flexconv bench", *argv]),
        finished_only=args.finished_only,
        jobs=args.jobs,
        trained_rows=parse_rows(args.rows, parse_studies(args.studies)),
    )
    return ctx, args.studies


def parse_rows(text: Optional[str], studies: Sequence[str]) -> Optional[frozenset[str]]:
    """The row keys of ``--rows`` (None without it: every row); a key that no named study has exits naming theirs."""
    if not text:
        return None
    keys = frozenset(k.strip() for k in text.split(",") if k.strip())
    known = {row.key for study in studies for row in STUDIES[study].rows}
    if unknown := sorted(keys - known):
        raise SystemExit(
            f"bench results: unknown rows {unknown} in studies {', '.join(studies)}; known: {', '.join(sorted(known))}"
        )
    return keys


def main(argv: Sequence[str]) -> None:
    """``flexconv bench results [--fast] [--studies a,b] [--seeds N] [--out docs]``."""
    ctx, studies = parse_context(argv)
    from rich.console import Console

    from flexconv.cli.common import setup_logging

    setup_logging()
    named = parse_studies(studies)
    figures = ctx.out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tabulated = dataclasses.replace(ctx, finished_only=True)  # the studies not named train nothing
    sections = [run_study(study, ctx if key in named else tabulated) for key, study in STUDIES.items()]
    seconds = time.perf_counter() - start
    text = page(
        sections,
        invocation=ctx.invocation,
        fast=ctx.fast,
        seeds=ctx.seeds,
        runs=ctx.runs,
        finished_only=ctx.finished_only,
    )
    write_text(ctx.out / "results.md", text)
    write_text(ctx.out / "results.json", results_json(sections))
    console = Console()
    for section in sections:
        status = f"[yellow]skipped[/]: {section.skipped}" if section.skipped else "[green]done[/]"
        console.print(f"{section.key:<14} {status}")
    console.print(
        f"wrote {ctx.out / 'results.md'}, {ctx.out / 'results.json'} and figures in {figures} ({seconds:.0f} s)"
    )
