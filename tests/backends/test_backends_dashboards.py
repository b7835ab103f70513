"""The Grafana dashboards: valid JSON that matches the builder, and every panel has data when a
real Prometheus scrapes an instrumented process (so no panel is silently empty from a name
mismatch)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aiobs_otel.cli import _dashboard_spec
from aiobs_otel.cli.assets import asset_files

# dashboard uid -> the emitter area that feeds it
AREA_OF = {"aiobs-llm": ("llm",), "aiobs-training": ("training",), "aiobs-gpu": ("gpu",),
           "aiobs-data": ("data", "drift"), "aiobs-quality": ("quality",)}


def shipped() -> dict[str, dict]:
    return {name: json.loads(text) for name, text in asset_files("dashboards").items()}


def panel_queries(dashboard: dict) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"]
            if panel["type"] != "row" for target in panel["targets"]]


def concrete(expr: str, instance: str | None = None) -> str:
    """Grafana's variables replaced as Grafana would for 'All' and a short time range
    (optionally narrowed to one scrape target)."""
    job = 'job=~".*"' if instance is None else f'job=~".*", instance="{instance}"'
    return (expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
            .replace('job=~"$job"', job))


def test_shipped_dashboards_are_what_the_builder_makes() -> None:
    assert asset_files("dashboards") == _dashboard_spec.build_all(), \
        "run: python -m aiobs_otel.cli._dashboard_spec"


def test_dashboards_are_well_formed() -> None:
    dashboards = shipped()
    assert set(AREA_OF) >= {d["uid"] for d in dashboards.values()}
    assert len({d["uid"] for d in dashboards.values()}) == len(dashboards)
    for name, dashboard in dashboards.items():
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), name
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        assert variables == {"datasource", "job"}
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, (name, panel["title"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                used = set(re.findall(r"\$(\w+)", target["expr"]))
                assert used <= {"job", "__rate_interval", "__range"}, (panel["title"], used)
                assert 'job=~"$job"' in target["expr"], panel["title"]


def test_cli_exports_the_dashboards(tmp_path: Path) -> None:
    out = tmp_path / "dash"
    result = subprocess.run([sys.executable, "-m", "aiobs_otel", "dashboards", "export",
                             str(out)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(asset_files("dashboards"))
    again = subprocess.run([sys.executable, "-m", "aiobs_otel", "dashboards", "export",
                            str(out)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "--force" in again.stderr


def test_every_panel_returns_data_from_real_prometheus(emitter_and_prometheus) -> None:
    emitter, prometheus = emitter_and_prometheus
    areas = emitter.areas()
    pending: dict[tuple[str, str, str], str] = {}  # (file, panel, target) -> PromQL
    skipped: list[str] = []
    for name, dashboard in shipped().items():
        missing = [a for a in AREA_OF[dashboard["uid"]] if areas.get(a) != "running"]
        if missing:
            skipped.append(f"{name}: {', '.join(f'{a} {areas.get(a)}' for a in missing)}")
            continue
        for title, expr in panel_queries(dashboard):
            # Each process on its own: the default-conventions emitter, and for the LLM
            # dashboard also the one on the latest GenAI conventions.
            pending[(name, title, emitter.target)] = concrete(expr, emitter.target)
            if name == "aiobs-llm.json":
                latest = prometheus.latest_emitter.target
                pending[(name, title, latest)] = concrete(expr, latest)
    assert pending, f"no area is emitting: {areas}"
    deadline = time.monotonic() + 45
    while pending and time.monotonic() < deadline:
        for key, expr in list(pending.items()):
            if prometheus.query(expr):
                pending.pop(key)
        if pending:
            time.sleep(1)
    empty = [f"{name} / {title} ({target}): {pending[(name, title, target)]}"
             for (name, title, target) in pending]
    assert not empty, "panels without data:\n" + "\n".join(empty) + \
        f"\nemitter log:\n{emitter.log_path.read_text()[-3000:]}"
    if skipped:
        pytest.skip("panels not checked, their area does not emit yet: " + "; ".join(skipped))


def test_alert_rules_query_names_the_process_exposes(emitter_and_prometheus) -> None:
    """Every metric an alert rule reads is one the instrumented process really exposes."""
    import yaml

    emitter, prometheus = emitter_and_prometheus
    if any(state != "running" for state in emitter.areas().values()):
        pytest.skip(f"not every area emits: {emitter.areas()}")
    exposed = set()
    text = emitter.metrics_text() + prometheus.latest_emitter.metrics_text()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            exposed.add(name)
            if kind == "histogram":
                exposed |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    wanted = {}
    for file, text in asset_files("alerts").items():
        if file.startswith("tests/"):
            continue
        for group in yaml.safe_load(text)["groups"]:
            for rule in group["rules"]:
                expr = rule["expr"]
                names = re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]", expr)
                names += re.findall(r'__name__=~"([a-zA-Z0-9_:]+)\(_ratio\)\?"', expr)
                for name in names:
                    if name not in ("by", "on", "without", "ignoring", "rate", "increase"):
                        wanted[name] = rule["alert"]
    missing = {name: alert for name, alert in wanted.items() if name not in exposed}
    assert not missing, f"alert rules read metrics nobody exposes: {missing}"


@pytest.mark.parametrize("unit", ["s", "ms", "By", "MiBy", "W", "J", "Cel", "Hz", "1", "%",
                                  "{token}", "{USD}", "{sample}/s", "{flop}/s", "By/s", "m/s",
                                  "", "foo", "{a}b"])
def test_unit_suffixes_match_the_exporter(unit: str) -> None:
    from opentelemetry.exporter.prometheus._mapping import map_unit

    from aiobs_otel.cli import _promnames

    assert _promnames.unit_suffix(unit) == map_unit(unit)


def test_count_panels_show_zero_rather_than_no_data(emitter_and_prometheus) -> None:
    """Errors, rate limits, anomalies, drops, failures: an app with none sees 0, not 'No data'."""
    _, prometheus = emitter_and_prometheus
    checked = 0
    for name, dashboard in shipped().items():
        for title, expr in panel_queries(dashboard):
            if expr.endswith("or vector(0)"):
                result = prometheus.query(concrete(expr).replace('job=~".*"', 'job="absent"'))
                assert [float(r["value"][1]) for r in result] == [0.0], (name, title)
                checked += 1
    assert checked >= 8
