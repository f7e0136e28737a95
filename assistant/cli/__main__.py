"""``python -m assistant.cli …``: the ``autonomie`` command."""

from assistant.cli import main

main()
