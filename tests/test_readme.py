"""The README's Python quick-start runs as written and prints what its comments say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_quickstart_runs() -> None:
    blocks = python_blocks()
    assert blocks, "README has no python quick-start"
    for block in blocks:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(README), "exec"), {})
        printed = out.getvalue().splitlines()
        expected = [c.strip() for c in re.findall(r"^print\([^#]*\)[ \t]+#[ \t]*(.*)$", block, flags=re.M)]
        assert len(printed) == len(expected)
        for line, comment in zip(printed, expected):
            assert printed_as_commented(line.strip(), comment), (line, comment)


def printed_as_commented(line: str, comment: str) -> bool:
    """The comment starts with the whole printed line, then ends or goes on with ':' or a space
    (``# (5, 5): the initial mask crops ...``)."""
    return bool(line) and comment.startswith(line) and comment[len(line) : len(line) + 1] in ("", ":", " ")


def test_a_printed_line_must_match_its_comment() -> None:
    assert printed_as_commented("(5, 5)", "(5, 5): the initial mask crops the 33x33 grid")
    assert printed_as_commented("True", "True")
    assert not printed_as_commented("", "torch.Size([4, 8, 100])")
    assert not printed_as_commented("(5, 5)", "(5, 57)")
    assert not printed_as_commented("5", "(5, 5)")


def test_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "bash scripts/run.sh" in text and "bash scripts/test.sh" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
