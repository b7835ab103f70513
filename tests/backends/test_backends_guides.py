"""The backend guides' configurations: they parse, wire up, and use our default endpoints."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aiobs_otel.config import _infer_protocol

DOCS = Path(__file__).resolve().parents[2] / "docs"
COLLECTOR_CONFIGS = sorted((DOCS / "collector").glob("*.yaml"))
GUIDES = ["backends.md", "grafana.md", "datadog.md", "signoz.md"]


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def test_there_is_a_config_per_backend() -> None:
    assert {p.stem for p in COLLECTOR_CONFIGS} >= {"otelcol", "grafana", "datadog", "signoz"}


@pytest.mark.parametrize("path", COLLECTOR_CONFIGS, ids=lambda p: p.name)
def test_collector_config_receives_our_default_otlp_ports(path: Path) -> None:
    protocols = _load(path)["receivers"]["otlp"]["protocols"]
    grpc, http = protocols["grpc"]["endpoint"], protocols["http"]["endpoint"]
    assert grpc.endswith(":4317") and http.endswith(":4318")
    # What the app side infers from those ports (the SDK's default endpoint is :4318, HTTP).
    assert _infer_protocol(f"http://collector{grpc[grpc.rindex(':'):]}") == "grpc"
    assert _infer_protocol(f"http://collector{http[http.rindex(':'):]}") == "http/protobuf"


@pytest.mark.parametrize("path", COLLECTOR_CONFIGS, ids=lambda p: p.name)
def test_collector_pipelines_reference_defined_components(path: Path) -> None:
    config = _load(path)
    connectors = set(config.get("connectors") or {})
    defined = {kind: set(config.get(kind) or {}) for kind in ("receivers", "processors",
                                                              "exporters")}
    used: dict[str, set[str]] = {kind: set() for kind in defined}
    pipelines = config["service"]["pipelines"]
    assert {"traces", "metrics", "logs"} <= {name.split("/")[0] for name in pipelines}
    for name, pipeline in pipelines.items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                allowed = defined[kind] | (connectors if kind != "processors" else set())
                assert component in allowed, f"{path.name}: {name} uses undefined {component}"
                used[kind].add(component)
        assert pipeline["receivers"] and pipeline["exporters"], name
    for kind in defined:
        unused = defined[kind] - used[kind]
        assert not unused, f"{path.name}: unused {kind} {unused}"
    for connector in connectors:  # a connector is an exporter of one pipeline, receiver of another
        assert any(connector in p.get("exporters", []) for p in pipelines.values())
        assert any(connector in p.get("receivers", []) for p in pipelines.values())


def test_datadog_agent_config_uses_our_default_ports() -> None:
    config = _load(DOCS / "datadog" / "datadog.yaml")
    protocols = config["otlp_config"]["receiver"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert config["logs_enabled"] is True and config["otlp_config"]["logs"]["enabled"] is True


def test_grafana_provisioning_files() -> None:
    sources = _load(DOCS / "grafana" / "provisioning" / "datasources" / "aiobs.yaml")
    assert sources["apiVersion"] == 1
    kinds = {s["type"]: s for s in sources["datasources"]}
    assert set(kinds) == {"prometheus", "tempo", "loki"}
    assert kinds["prometheus"]["isDefault"] is True
    providers = _load(DOCS / "grafana" / "provisioning" / "dashboards" / "aiobs.yaml")
    assert providers["providers"][0]["type"] == "file"


def test_prometheus_config_passes_promtool_with_the_exported_rules(tmp_path: Path,
                                                                  promtool: str) -> None:
    shutil.copy(DOCS / "prometheus" / "prometheus.yml", tmp_path / "prometheus.yml")
    exported = subprocess.run([sys.executable, "-m", "aiobs_otel", "alerts", "export",
                               str(tmp_path / "alerts")], capture_output=True, text=True,
                              timeout=60)
    assert exported.returncode == 0, exported.stderr
    check = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS" in check.stdout + check.stderr
    assert check.stdout.count("rules found") == len(list((tmp_path / "alerts").glob("*.yml")))


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_links_point_at_files(guide: str) -> None:
    text = (DOCS / guide).read_text()
    for target in re.findall(r"\]\(([^)#:]+)\)", text):
        assert (DOCS / target).exists(), f"{guide} links to missing {target}"


def test_collector_binary_validates_the_configs() -> None:
    binary = shutil.which("otelcol-contrib") or shutil.which("otelcol")
    if binary is None:
        pytest.skip("no OpenTelemetry Collector binary: none is packaged on PyPI, Debian or "
                    "npm with the otlp receiver and these exporters, so the configs are only "
                    "parsed and cross-checked")
    for path in COLLECTOR_CONFIGS:
        env = {"BACKEND_OTLP_ENDPOINT": "http://127.0.0.1:4318", "DD_API_KEY": "x",
               "DD_SITE": "datadoghq.com", "SIGNOZ_REGION": "eu", "SIGNOZ_INGESTION_KEY": "x"}
        result = subprocess.run([binary, "validate", f"--config={path}"], capture_output=True,
                                text=True, timeout=60, env=env)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
