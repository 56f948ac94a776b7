"""``python -m training.adapt``: the same command as ``diffill adapt``."""

import sys

from training.adapt.cli import main

sys.exit(main(prog="python -m training.adapt"))
