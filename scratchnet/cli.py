"""The ``scratchnet`` command: one entry point for the tools that ship with the package.

::

    scratchnet data list | download NAME | show NAME     # datasets (scratchnet.data's CLI)
    scratchnet warmup [--dtype float32]                  # compile every kernel ahead of time
    scratchnet gradcheck [--trials 50]                   # the gradient report
    scratchnet predict MODEL IMAGE... [--top-k 5] [--json]  # read handwritten characters

``python -m scratchnet ...`` is the same. A subcommand is one function decorated with
:func:`command`: its name, help, and arguments (made with :func:`arg`) go in the
decorator, and the function takes the parsed arguments and returns the exit status::

    @command("predict", "classify images with a saved model", arg("model"), arg("images"))
    def predict(args):
        ...
        return 0

Each command imports what it needs (the models, the gradient report) when it runs,
so registering a command costs nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["COMMANDS", "arg", "build_parser", "command", "main"]

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class _Arg:
    args: tuple
    kwargs: dict


@dataclass(frozen=True)
class Command:
    """A registered subcommand."""

    name: str
    help: str
    arguments: tuple[_Arg, ...]
    run: Handler
    passthrough: bool = False  # hands its raw arguments to another parser (``data``)


COMMANDS: dict[str, Command] = {}


def arg(*args, **kwargs) -> _Arg:
    """One ``add_argument`` call of a subcommand, e.g. ``arg("--trials", type=int, default=30)``."""
    return _Arg(args, kwargs)


def command(name: str, help: str, *arguments: _Arg,
            passthrough: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated function as the subcommand ``name``."""
    def register(run: Handler) -> Handler:
        COMMANDS[name] = Command(name, help, arguments, run, passthrough)
        return run
    return register


# -- the subcommands ----------------------------------------------------------------------------
@command("data", "list, download and show datasets (see `scratchnet data --help`)",
         passthrough=True)
def data(args: argparse.Namespace) -> int:
    from scratchnet.data.cli import main as data_main

    return data_main(args.rest, prog="scratchnet data")


@command("warmup", "compile every kernel now (float32 and float64), so no later run waits",
         arg("--dtype", choices=("float32", "float64"), action="append",
             help="only this dtype (repeatable; default: both)"),
         arg("--models", default="cnn,lstm", help="seed models to run (default: %(default)s)"),
         arg("--quiet", action="store_true", help="no progress bar"))
def warmup(args: argparse.Namespace) -> int:
    from scratchnet.warmup import DTYPES
    from scratchnet.warmup import warmup as run_warmup

    dtypes = tuple(dict.fromkeys(args.dtype or DTYPES))
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    try:
        result = run_warmup(dtypes, models, progress=not args.quiet)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n = len(result.compiles)
    spent = sum(c.seconds for c in result.compiles)
    if n:
        print(f"compiled {n} kernel specializations ({', '.join(dtypes)}) in {spent:.1f} s; "
              f"numba cached them, so later runs start at once")
    else:
        print(f"nothing to compile: every kernel for {', '.join(dtypes)} came from numba's "
              f"cache ({result.seconds:.1f} s)")
    return 0


@command("gradcheck", "the gradient report: every backward pass against finite differences",
         arg("--trials", type=int, default=30, help="random cases per layer (default: 30)"),
         arg("--seed", type=int, default=0))
def gradcheck(args: argparse.Namespace) -> int:
    from scratchnet.gradient_report import run

    return run(args)


@command("predict", "read handwritten characters in image files with a saved model",
         arg("model", help="a model saved with model.save (a .scratchnet file)"),
         arg("images", nargs="+", metavar="IMAGE",
             help="image files (PNG, JPEG, BMP, ...) or folders of them"),
         arg("--top-k", type=int, default=5, help="classes to show per image (default: 5)"),
         arg("--json", action="store_true", help="print the predictions as JSON"),
         arg("--like", choices=("mnist", "emnist"),
             help="prepare the images as MNIST or EMNIST was made (default: mnist for a "
                  "10-class model, emnist otherwise)"),
         arg("--batch-size", type=int, default=256,
             help="images read and predicted at a time (default: 256)"))
def predict(args: argparse.Namespace) -> int:
    from scratchnet.predicting import run

    return run(args)


# -- the parser ---------------------------------------------------------------------------------
def build_parser(prog: str = "scratchnet") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="scratchnet: a neural-network framework from scratch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in COMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help,
                           add_help=not cmd.passthrough)
        for a in cmd.arguments:
            p.add_argument(*a.args, **a.kwargs)
        if cmd.passthrough:
            p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(handler=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "scratchnet") -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS and COMMANDS[argv[0]].passthrough:
        # Everything after the name, --help included, belongs to the other parser.
        return COMMANDS[argv[0]].run(argparse.Namespace(rest=argv[1:]))
    args = build_parser(prog).parse_args(argv)
    return args.handler(args)


def console() -> None:
    """Entry point of the ``scratchnet`` console script."""
    sys.exit(main())
