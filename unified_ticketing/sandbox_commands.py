"""`unified-ticketing sandbox` and `unified-ticketing dev`: commands of the helpdesk_sandboxes package, a project
of its own (sandboxes/, installed for tests and development, not in the product's wheel). They are listed here
and the package is imported only when one of them runs; its own parser then reads the command's arguments."""
from __future__ import annotations

import argparse
import sys

HELP = {"sandbox": "run a local helpdesk sandbox (`unified-ticketing sandbox --help` lists its options)",
        "dev": "run every sandbox and the service, with a demo tenant on each (what `make run` does)"}
INSTALL = "pip install -e ./sandboxes"


def add_parsers(sub) -> None:
    for name, text in HELP.items():
        # "\0" prefixes no option: every argument, --help included, stays for the package's parser
        forward = sub.add_parser(name, help=text, add_help=False, prefix_chars="\0")
        forward.add_argument("arguments", nargs=argparse.REMAINDER)


def run(args) -> int:
    try:
        from helpdesk_sandboxes import cli
    except ModuleNotFoundError as exc:
        if exc.name != "helpdesk_sandboxes":
            raise
        print(f"unified-ticketing {args.command}: the sandboxes are not installed; from the repository's root run "
              f"`{INSTALL}` (`make` installs them with the test dependencies)", file=sys.stderr)
        return 2
    sub = argparse.ArgumentParser(prog="unified-ticketing").add_subparsers(dest="command", required=True)
    cli.add_parsers(sub)
    parsed = sub.choices[args.command].parse_args(args.arguments, argparse.Namespace(command=args.command))
    return cli.COMMANDS[args.command](parsed)


COMMANDS = dict.fromkeys(HELP, run)
