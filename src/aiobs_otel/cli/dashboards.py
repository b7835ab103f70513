"""``aiobs-otel dashboards export DIR``: the Grafana dashboards (LLM, Training, GPU, Data & drift,
Model quality), querying the Prometheus names of our metrics.

Import them in Grafana (Dashboards → New → Import) and pick the Prometheus data source, or point
a file provider (``/etc/grafana/provisioning/dashboards``) at DIR.
"""

from __future__ import annotations

import argparse

from .assets import add_export_arguments, run_export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_export_arguments(parser, "dashboards")


def run(args: argparse.Namespace) -> int:
    return run_export(args, "dashboards")
