"""Entry point of the ``aiobs-otel`` command: one subcommand per module, loaded on demand."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help). Each module defines add_arguments(parser) and run(args).
COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("aiobs_otel.cli.report", "summarise the telemetry in the local sink directory"),
    "alerts": ("aiobs_otel.cli.alerts", "export the Prometheus alert rules and their tests"),
    "dashboards": ("aiobs_otel.cli.dashboards", "export the Grafana dashboards"),
    "demo": ("aiobs_otel.cli.demo", "run a realistic scenario locally, then show its report"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiobs-otel", description="aiobs-otel: OpenTelemetry-native AI observability."
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"aiobs-otel {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    code: int = args._run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
