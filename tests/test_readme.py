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
            assert comment.startswith(line.strip()) or line.strip() in comment, (line, comment)


def test_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "bash scripts/run.sh" in text and "bash scripts/test.sh" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
