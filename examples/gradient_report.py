"""Check every layer's backward pass against finite differences, and print the report.

The report lives in the package (:mod:`scratchnet.gradient_report`) so that the
``scratchnet gradcheck`` command runs it too::

    python examples/gradient_report.py --trials 50
"""

from scratchnet.gradient_report import main

if __name__ == "__main__":
    raise SystemExit(main())
