"""Real backends for the backend tests: a Prometheus server and headless Chromium.

Both come from Debian's packages (``scripts/install_test_services.sh`` installs them); tests
that need one are skipped, with the reason, only when its binary is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
INSTALL_HINT = "run scripts/install_test_services.sh (Debian's prometheus and chromium packages)"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout_s: float = 30.0, proc: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s ({last!r})")


def stop_process(proc: subprocess.Popen[Any], timeout_s: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


def _reset_otel_globals() -> None:
    from opentelemetry import trace
    from opentelemetry._logs import _internal as logs_internal
    from opentelemetry.metrics import _internal as metrics_internal
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER = None
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    metrics_internal._METER_PROVIDER = None
    metrics_internal._METER_PROVIDER_SET_ONCE = Once()
    logs_internal._LOGGER_PROVIDER = None
    logs_internal._LOGGER_PROVIDER_SET_ONCE = Once()


@pytest.fixture
def configurable(fresh_state: None) -> Iterator[None]:
    """``fresh_state`` plus unset OpenTelemetry globals, so ``configure()`` builds its own."""
    _reset_otel_globals()
    yield
    from aiobs_otel.setup.providers import shutdown

    shutdown(timeout_s=5)
    _reset_otel_globals()


# --- Prometheus -------------------------------------------------------------------------------


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        pytest.skip(f"the prometheus binary is not installed: {INSTALL_HINT}")
    return found


def promtool_binary() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(f"the promtool binary is not installed: {INSTALL_HINT}")
    return found


@pytest.fixture
def promtool() -> str:
    """Path of the promtool binary (the test is skipped, with the reason, without it)."""
    return promtool_binary()


class Prometheus:
    """A real Prometheus on 127.0.0.1 (free port, temp storage, 1 s scrape interval)."""

    def __init__(self, binary: str, workdir: Path, targets: list[str],
                 rule_files: list[Path] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "900ms",
                       "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in rule_files or []],
            "scrape_configs": [{"job_name": "aiobs-test",
                                "static_configs": [{"targets": targets}]}],
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(json.dumps(config))  # JSON is YAML
        self.log_path = workdir / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config_path}",
             f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir,
        )
        try:
            wait_http(f"{self.url}/-/ready", 60, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"prometheus did not start:\n{self.log_path.read_text()}") from None

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus API error for {path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, expr: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(expr)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)

    def targets_up(self) -> bool:
        active = self.api("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


@pytest.fixture
def prometheus_server(tmp_path: Path) -> Iterator[Any]:
    """A factory: ``prometheus_server(["127.0.0.1:PORT"])`` starts a Prometheus scraping those."""
    binary = prometheus_binary()
    started: list[Prometheus] = []

    def start(targets: list[str], rule_files: list[Path] | None = None) -> Prometheus:
        workdir = tmp_path / f"prometheus-{len(started)}"
        workdir.mkdir()
        server = Prometheus(binary, workdir, targets, rule_files)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def build_fake_nvml(directory: Path) -> Path | None:
    """The GPU area's fake libnvidia-ml.so.1 (tests/gpu/fake_nvml), or None without gcc."""
    import importlib.util

    source = HERE.parent / "gpu" / "fakenvml.py"
    if not source.exists() or shutil.which("gcc") is None:
        return None
    spec = importlib.util.spec_from_file_location("aiobs_backends_fakenvml", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built: Path = module.build(directory)
    return built


class Emitter:
    """A subprocess that configures aiobs-otel with ``prometheus_port`` and emits every area."""

    def __init__(self, workdir: Path, script: Path, extra: list[str] | None = None,
                 env_extra: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **(env_extra or {}))
        env.update({"AIOBS_SINK_DIR": str(workdir / ".aiobs"), "AIOBS_STRICT": "false",
                    "PYTHONUNBUFFERED": "1", "FAKE_NVML_GPUS": "2", "FAKE_NVML_XID": "0:79",
                    "FAKE_NVML_CLOCK_EVENTS": "0x4"})
        fake_nvml = build_fake_nvml(workdir / "fake_nvml")
        if fake_nvml is not None:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                p for p in (str(fake_nvml.parent), env.get("LD_LIBRARY_PATH", "")) if p)
        self.log_path = workdir / "emitter.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--port", str(self.port), *(extra or [])],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=workdir,
        )
        self.areas_path = workdir / "areas.json"
        try:
            wait_http(f"http://{self.target}/metrics", 60, self.proc)
            deadline = time.monotonic() + 60
            while not self.areas_path.exists():
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise TimeoutError("the emitter did not report its areas")
                time.sleep(0.1)
        except Exception:
            self.stop()
            raise RuntimeError(f"emitter did not start:\n{self.log_path.read_text()}") from None

    def areas(self) -> dict[str, str]:
        """Area name -> "running", or why it is not."""
        result: dict[str, str] = json.loads(self.areas_path.read_text())
        return result

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://{self.target}/metrics", timeout=10) as response:
            return str(response.read().decode())

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()


@pytest.fixture(scope="module")
def emitter_and_prometheus(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Emitter, Prometheus]]:
    """One instrumented process emitting every area's metrics, scraped by a real Prometheus."""
    binary = prometheus_binary()
    workdir = tmp_path_factory.mktemp("scrape")
    emitter = Emitter(workdir, HERE / "emit_all.py")
    # A second process with the latest GenAI conventions (other metric names), LLM only.
    latest = Emitter(workdir / "latest", HERE / "emit_all.py", ["--areas", "llm"],
                     {"AIOBS_GENAI_SEMCONV_LATEST": "true"})
    server = Prometheus(binary, workdir, [emitter.target, latest.target])
    server.latest_emitter = latest  # type: ignore[attr-defined]
    try:
        yield emitter, server
    finally:
        server.stop()
        latest.stop()
        emitter.stop()


# --- headless Chromium, driven over the DevTools protocol on a pipe ------------------------------

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
]


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"the chromium binary is not installed: {INSTALL_HINT}")


class Chromium:
    """Headless Chromium with ``--remote-debugging-pipe``: DevTools commands on fds 3 and 4."""

    def __init__(self, binary: str, user_data_dir: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        # In the child, fd 3 reads commands and fd 4 writes replies; Python's own descriptors
        # are not inheritable, so close_fds=False hands over only these two.
        def wire_fds() -> None:
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        self.log_path = user_data_dir.parent / "chromium.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}",
             "--remote-debugging-pipe", "about:blank"],
            stdout=self._log, stderr=subprocess.STDOUT, close_fds=False, preexec_fn=wire_fds,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._next_id = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []
        self.session_id: str | None = None

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = True,
             timeout_s: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session_id:
            message["sessionId"] = self.session_id
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def _read(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self._from_child], [], [], remaining)
            if ready:
                chunk = os.read(self._from_child, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the pipe:\n{self.log_path.read_text()}")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(raw)
        return parsed

    def wait_event(self, method: str, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def open_page(self, url: str, width: int = 1280, height: int = 900) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send("Target.attachToTarget",
                             {"targetId": target["targetId"], "flatten": True}, session=False)
        self.session_id = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console_problems(self) -> list[str]:
        """Console errors/warnings, uncaught exceptions and failed loads seen so far."""
        problems = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                problems.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning",
                                                                                  "assert"):
                problems.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") in ("error",
                                                                                 "warning"):
                problems.append(f"log: {params['entry'].get('text')}")
        return problems

    def screenshot(self, path: Path) -> None:
        import base64

        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                     "scale": 1},
        })
        path.write_bytes(base64.b64decode(shot["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close", session=False, timeout_s=5)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        os.close(self._to_child)
        os.close(self._from_child)
        self._log.close()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    """Headless Chromium with a fresh profile, driven over the DevTools protocol."""
    binary = chromium_binary()
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    browser = Chromium(binary, profile)
    try:
        yield browser
    finally:
        browser.close()
