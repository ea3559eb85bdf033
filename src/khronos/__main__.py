"""``python -m khronos`` is the ``khronos`` command."""

from khronos.cli import main

main()
