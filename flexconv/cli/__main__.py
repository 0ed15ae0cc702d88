"""``python -m flexconv.cli``: the ``flexconv`` command."""

from flexconv.cli import main

main()
