"""The digitlab command (also `python -m digitlab`): one module of commands per concern (training, models, course,
server), each adding its subcommands with their handler (set_defaults(func=...)); the handlers read flags, call the
core and print."""

import argparse
import os
import sys
from pathlib import Path

from digitlab import UserError
from digitlab.cli import course, models, server, training
from digitlab.cli.common import add_train_flags, config_from_args, parser  # noqa: F401 (the package's names)

COMMANDS = (training, models, course, server)


def build_parser() -> argparse.ArgumentParser:
    return parser(*COMMANDS)


def main(argv=None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        p = build_parser()
        a, a.overrides = p.parse_known_args(argv)
        if a.overrides and a.command != "ship":
            p.error(f"unrecognized arguments: {' '.join(a.overrides)}")
        a.argv = argv
        a.runs, a.data = getattr(a, "runs", None), getattr(a, "data", None)
        if getattr(a, "ray", None):
            os.environ["DIGITLAB_RAY_ADDRESS"] = a.ray  # for this process and the supervisor it starts
        if getattr(a, "settings", None):
            from digitlab import settings

            os.environ[settings.ENV] = str(Path(a.settings).resolve())  # for this process and its workers
            settings.current()  # a bad file is one sentence now, not later
        return a.func(a)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `digitlab runs | head`: the reader has gone, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
