"""``aiobs-otel alerts export DIR``: the Prometheus alert rules and their promtool tests.

Load the rule files with ``rule_files:`` in ``prometheus.yml``; check them with
``promtool test rules DIR/tests/*.yml``.
"""

from __future__ import annotations

import argparse

from .assets import add_export_arguments, run_export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_arguments(parser, "alerts")


def run(args: argparse.Namespace) -> int:
    return run_export(args, "alerts")
