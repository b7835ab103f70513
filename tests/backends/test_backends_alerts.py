"""Alert rules: shipped, exportable, valid for promtool, and every rule has a unit test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from aiobs_otel.cli.assets import asset_files


def rule_files() -> dict[str, dict]:
    return {name: yaml.safe_load(text) for name, text in asset_files("alerts").items()
            if "/" not in name}


def test_files_pair_up_with_their_tests() -> None:
    files = asset_files("alerts")
    rules = {n for n in files if "/" not in n}
    tests = {n for n in files if n.startswith("tests/")}
    assert rules, "no rule files shipped"
    assert {f"tests/{n.removesuffix('.yml')}_test.yml" for n in rules} == tests
    for name in tests:
        assert yaml.safe_load(files[name])["rule_files"] == [f"../{name[6:-9]}.yml"]


def test_every_alert_has_a_firing_unit_test() -> None:
    files = asset_files("alerts")
    tested: set[str] = set()
    for name, text in files.items():
        if name.startswith("tests/"):
            for case in yaml.safe_load(text)["tests"]:
                for check in case.get("alert_rule_test", []):
                    if check.get("exp_alerts"):
                        tested.add(check["alertname"])
    alerts = {rule["alert"] for doc in rule_files().values() for group in doc["groups"]
              for rule in group["rules"] if "alert" in rule}
    assert alerts - tested == set(), "alerts without a test that makes them fire"
    for doc in rule_files().values():
        for group in doc["groups"]:
            for rule in group["rules"]:
                assert {"severity", "area"} <= set(rule["labels"]), rule["alert"]
                assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]


def test_cli_exports_rules_and_promtool_passes_them(tmp_path: Path, promtool: str) -> None:
    out = tmp_path / "alerts"
    result = subprocess.run([sys.executable, "-m", "aiobs_otel", "alerts", "export", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rules = sorted(out.glob("*.yml"))
    tests = sorted((out / "tests").glob("*_test.yml"))
    assert len(rules) == len(tests) == len(rule_files())
    for path in rules:
        check = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
    for path in tests:
        run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0 and "SUCCESS" in run.stdout, run.stdout + run.stderr


def test_export_list_names_every_file() -> None:
    result = subprocess.run([sys.executable, "-m", "aiobs_otel", "alerts", "list"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.split() == list(asset_files("alerts"))


@pytest.mark.parametrize("name", sorted(rule_files()))
def test_rules_load_into_a_real_prometheus(name: str, tmp_path: Path, prometheus_server) -> None:
    path = tmp_path / name
    path.write_text(asset_files("alerts")[name])
    server = prometheus_server([], rule_files=[path])
    groups = server.api("rules")["groups"]
    assert [g["name"] for g in groups] == [g["name"] for g in rule_files()[name]["groups"]]
    assert all(r["health"] in ("ok", "unknown") for g in groups for r in g["rules"])
