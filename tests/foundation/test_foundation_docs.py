"""Docs are part of the feature: every emitted name and every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from aiobs_otel import semconv

ROOT = Path(__file__).resolve().parents[2]


def _emitted_names() -> set[str]:
    names = set()
    for key, value in vars(semconv).items():
        if key.isupper() and isinstance(value, str) and value.startswith("aiobs."):
            names.add(value)
    return names


def test_every_aiobs_name_is_in_the_reference_table():
    reference = (ROOT / "docs" / "reference.md").read_text()
    missing = sorted(n for n in _emitted_names() if f"`{n}`" not in reference)
    assert not missing, f"document these in docs/reference.md: {missing}"


def test_every_environment_variable_read_is_in_the_readme():
    config = (ROOT / "src" / "aiobs_otel" / "config.py").read_text()
    readme = (ROOT / "README.md").read_text()
    read = set(re.findall(r'"((?:AIOBS|OTEL)_[A-Z0-9_]+)"', config))
    read |= {f"OTEL_{s}_EXPORTER" for s in ("TRACES", "METRICS", "LOGS")}
    missing = sorted(v for v in read if v not in readme)
    assert not missing, f"document these in the README configuration table: {missing}"


def test_readme_links_point_at_files():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(([^)#:]+)\)", readme):
        assert (ROOT / target).exists(), f"README links to missing {target}"


def test_no_name_literals_outside_semconv():
    offenders = []
    for path in (ROOT / "src" / "aiobs_otel").rglob("*.py"):
        if path.name == "semconv.py":
            continue
        text = path.read_text()
        if re.search(r"""["']gen_ai\.""", text):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"gen_ai.* literals belong in semconv.py: {offenders}"
