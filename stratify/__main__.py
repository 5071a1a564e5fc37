"""``python -m stratify``: the same as the ``stratify`` console script."""

from stratify.cli import app

app()
