"""What every command shares: the parser that speaks in one sentence, a flag per training setting, the config
those flags give."""

import argparse
from importlib.metadata import PackageNotFoundError, version

from digitlab import UserError


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one sentence, no usage dump
        cmd = " ".join(self.prog.split()[1:])
        raise UserError(f"{message[0].upper()}{message[1:]}: see `digitlab {cmd + ' ' if cmd else ''}--help`.")


def add_train_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig setting, with the help, choices and default its Spec declares."""
    from digitlab.learn.config import DEFAULTS, NAMES, kind, range_text, spec

    for name in NAMES:
        s, k, default = spec(name), kind(name), getattr(DEFAULTS, name)
        flags = [f"--{name.replace('_', '-')}", *s.aliases]
        allowed = f"one of {', '.join(s.choices)}" if s.choices else range_text(s)
        shown = " ".join(map(str, default)) if k is list else default
        help_ = f"{s.help} ({allowed + '; ' if allowed else ''}default: {shown!r})".replace("%", "%%")
        if k is bool:
            parser.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_)
        elif k is list:
            parser.add_argument(*flags, dest=name, type=int, nargs="+", metavar="N", help=help_)
        else:
            parser.add_argument(*flags, dest=name, type=k, help=help_)


def config_from_args(a):
    from digitlab.learn.config import NAMES, TrainConfig, validate
    from digitlab.learn.presets import preset

    given = {name: getattr(a, name) for name in NAMES if getattr(a, name) is not None}
    return validate(preset(a.preset, **given) if a.preset else TrainConfig(**given))


def _version() -> str:
    try:
        return version("digitlab")
    except PackageNotFoundError:
        return "unknown (not installed: run scripts/setup)"


def parser(*commands) -> argparse.ArgumentParser:
    """The digitlab command with these modules' subcommands (each module's add(command))."""
    common = argparse.ArgumentParser(add_help=False)  # accepted before or after the command
    common.add_argument("--runs", default=argparse.SUPPRESS, help="runs folder (default $DIGITLAB_RUNS or ./runs)")
    common.add_argument("--data", default=argparse.SUPPRESS, help="data root (default $DIGITLAB_DATA or ./data)")
    common.add_argument("--settings", default=argparse.SUPPRESS,
                        help="server settings file, TOML: limits, worker slots, class mode (default $DIGITLAB_SETTINGS)")
    common.add_argument("--ray", default=argparse.SUPPRESS, metavar="HOST:PORT",
                        help="train queued runs and sweep trials on this Ray cluster (default $DIGITLAB_RAY_ADDRESS, "
                             "else [cluster] address in the settings)")
    p = Parser(prog="digitlab", description="Train, evaluate and use MNIST digit classifiers.", parents=[common])
    p.add_argument("--version", action="version", version=f"digitlab {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str, handler) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help, description=help, parents=[common])
        parser.set_defaults(func=handler)
        return parser

    for module in commands:
        module.add(command)
    return p
