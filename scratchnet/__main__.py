"""``python -m scratchnet``: the ``scratchnet`` command (see :mod:`scratchnet.cli`)."""

import sys

from scratchnet.cli import main

sys.exit(main(prog="python -m scratchnet"))
