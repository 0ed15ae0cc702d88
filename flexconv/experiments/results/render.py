"""Render: the study sections, the page and ``results.json``, each written once from the sections (nothing is merged
into, or read back from, an earlier page)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from omegaconf import OmegaConf

from flexconv.experiments.results.judge import ALPHA, Verdict


def figure_line(name: str, caption: str) -> str:
    """The markdown image of ``figures/<name>`` (the page's figures folder)."""
    return f"![{caption}](figures/{name})"


# -- the page -------------------------------------------------------------------------------------
Line = Union[str, Verdict]  # a section's line: markdown, or a verdict that the page states as a sentence


@dataclass
class Section:
    """A study's part of the page: title, lines, its ``results.json`` entries; ``skipped`` = the reason."""

    key: str
    title: str
    lines: list[Line] = field(default_factory=list)
    skipped: Optional[str] = None
    entries: list[dict[str, Any]] = field(default_factory=list)  # its rows' metrics in results.json

    @property
    def verdicts(self) -> list[Verdict]:
        return [line for line in self.lines if isinstance(line, Verdict)]

    @property
    def short_title(self) -> str:
        """The title up to its first colon or comma (the claims table's study column)."""
        return self.title.split(":")[0].split(", ")[0]

    def markdown(self) -> list[str]:
        """Its heading, its lines (verdicts as sentences) or why it was skipped, and a blank line."""
        if self.skipped:
            return [f"## {self.title} — skipped", "", f"Skipped: {self.skipped}", ""]
        body = [line.sentence() if isinstance(line, Verdict) else line for line in self.lines]
        return [f"## {self.title}", "", *body, ""]


PAGE = Path(__file__).with_name("page.yaml")  # the page's prose


def page(
    sections: Sequence[Section], *, invocation: str, fast: bool, seeds: Sequence[int], runs: Path, finished_only: bool
) -> str:
    """The whole page: the header of :data:`PAGE`, the claims at a glance, then every section."""
    prose: Any = OmegaConf.to_container(OmegaConf.load(PAGE))
    mode = prose["modes"]["fast" if fast else "full"] + (" " + prose["modes"]["finished_only"] if finished_only else "")
    verdicts = prose["verdicts"].format(alpha=ALPHA)
    seeds_text = ", ".join(map(str, seeds))
    header = prose["header"].format(invocation=invocation, mode=mode, seeds=seeds_text, runs=runs, description=verdicts)
    glance = [f"| {s.short_title} | {v.claim} | **{v.verdict}** |" for s in sections for v in s.verdicts]
    lines = [header.rstrip("\n"), *glance, "", *(line for section in sections for line in section.markdown())]
    return "\n".join(lines).rstrip("\n") + "\n"


def results_json(sections: Sequence[Section]) -> str:
    """``results.json``: every table row's metrics and every claim's verdict with its test."""
    table = {
        "schema_version": 1,
        "entries": [item for section in sections for item in section.entries],
        "claims": [verdict.entry(section.key) for section in sections for verdict in section.verdicts],
    }
    return json.dumps(table, indent=1) + "\n"
