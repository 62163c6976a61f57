"""``python -m imgdiff_gpu``: the ``imgdiff`` command, for when the script is not on PATH."""

from .cli import main

main()
