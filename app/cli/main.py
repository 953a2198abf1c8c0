"""`splatforge` entry point: builds the argument parser from the command
modules and turns every failure into one stderr line and an exit status.

Exit status: 0 success; 2 bad input or bad arguments (one line
``splatforge: error: PATH: what is wrong``); 1 an internal error (also one
line; set SPLATFORGE_DEBUG=1 for the traceback); 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from app.cli.common import CliError

# Each module defines register(subparsers) and a run(args) -> int set as `func`.
_COMMAND_MODULES = (
    "app.cli.view",
    "app.cli.info",
    "app.cli.convert",
    "app.cli.render",
    "app.cli.layout",
    "app.cli.collider",
    "app.cli.export",
    "app.cli.regenerate",
    "app.cli.predict",
    "app.cli.evaluate",
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as the CLI's one error line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliError(None, f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="splatforge",
        description="SplatForge: view, edit, convert and render 3D Gaussian splat scenes.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        module.register(sub)
    return parser


def _command_names(parser: argparse.ArgumentParser) -> set[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    return set()


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser()
        commands = _command_names(parser)
        # `splatforge` alone or `splatforge FILE` opens the viewer.
        if "view" in commands and (not argv or (argv[0] not in commands and not argv[0].startswith("-"))):
            argv = ["view", *argv]
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args) or 0)
    except CliError as e:
        print(e.line(), file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `splatforge info --json x | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("splatforge: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug, but still one line for the user
        if os.environ.get("SPLATFORGE_DEBUG"):
            traceback.print_exc()
        print(f"splatforge: error: internal error: {type(e).__name__}: {' '.join(str(e).split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
