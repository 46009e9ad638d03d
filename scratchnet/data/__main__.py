"""``python -m scratchnet.data``: see :mod:`scratchnet.data.cli`."""

import sys

from .cli import main

sys.exit(main())
