"""The files shipped inside the package for other tools: Grafana dashboards and alert rules.

They live in ``aiobs_otel/data/`` and are read with :mod:`importlib.resources`, so they work from
a wheel, a zip or a source checkout alike.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

KINDS = {
    "alerts": "Prometheus alert rule files (*.yml) and their promtool unit tests (tests/*.yml)",
    "dashboards": "Grafana dashboards (*.json), for import or file provisioning",
}


def asset_root(kind: str) -> Traversable:
    """The shipped folder of ``kind`` ("alerts" or "dashboards")."""
    if kind not in KINDS:
        raise ValueError(f"unknown asset kind {kind!r}; expected one of {', '.join(KINDS)}")
    return resources.files("aiobs_otel").joinpath("data", kind)


def asset_files(kind: str) -> dict[str, str]:
    """Relative path → text of every shipped file of ``kind``, sorted by path.

    >>> sorted(asset_files("dashboards"))[:1]  # doctest: +SKIP
    ['aiobs-gpu.json']
    """
    found: dict[str, str] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                if not child.name.startswith(("_", ".")):
                    walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith((".yml", ".yaml", ".json")):
                found[prefix + child.name] = child.read_text(encoding="utf-8")

    walk(asset_root(kind), "")
    return dict(sorted(found.items()))


def export(kind: str, directory: Path, overwrite: bool = False) -> list[Path]:
    """Copy the shipped files of ``kind`` into ``directory``; returns the paths written."""
    files = asset_files(kind)
    targets = {rel: directory / rel for rel in files}
    clashes = [p for p in targets.values() if p.exists()]
    if clashes and not overwrite:
        names = ", ".join(str(p) for p in clashes[:3])
        raise FileExistsError(f"{names}{' ...' if len(clashes) > 3 else ''} already exist "
                              "(pass --force to overwrite)")
    written = []
    for rel, text in files.items():
        target = targets[rel]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def add_export_arguments(parser: argparse.ArgumentParser, kind: str) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export_parser = sub.add_parser("export", help=f"write the {KINDS[kind]} into DIR")
    export_parser.add_argument("directory", metavar="DIR", help="target folder (created if needed)")
    export_parser.add_argument("--force", action="store_true", help="overwrite existing files")
    sub.add_parser("list", help=f"list the shipped {kind}")


def run_export(args: argparse.Namespace, kind: str) -> int:
    if args.action == "list":
        for rel in asset_files(kind):
            print(rel)
        return 0
    try:
        written = export(kind, Path(args.directory), overwrite=args.force)
    except FileExistsError as exc:
        print(f"aiobs-otel {kind} export: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    print(f"{len(written)} files written to {args.directory}", file=sys.stderr)
    return 0
